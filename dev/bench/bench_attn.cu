/*
 * bench_attn.cu -- the tiled causal attention of kernels.cuh alone (bf16, heads of 64): ms per
 * layer and TFLOP/s of the forward, the backward and each backward kernel, at GPT-2 small's shape
 * (config (b) of issue 4) unless told otherwise. dev/bench/bench_attn runs it next to PyTorch's
 * SDPA (dev/bench/torch_attn.py) on the same GPU.
 *
 * FLOPs counted as FlashAttention's papers count them for a causal mask: forward 2 matmuls of
 * T x T x d halved, 2 B H T^2 d; backward 2.5 times that (5 matmuls; our dQ kernel recomputes 2
 * more, not counted).
 *   make dev/bench/bench_attn_cuda && dev/bench/bench_attn_cuda [B T H]
 * (To compare two versions in one run, build each tree's own bench_attn_cuda.)
 */
#include "seqmodels.h"
#include "kernels.cuh"
#include "bench_util.cuh"
using namespace gpu;

int main(int argc, char** argv) {
    int B = argc > 1 ? atoi(argv[1]) : 16, T = argc > 2 ? atoi(argv[2]) : 1024, H = argc > 3 ? atoi(argv[3]) : 12;
    if (B <= 0 || T <= 0 || H <= 0) { fprintf(stderr, "usage: bench_attn_cuda [B T H] (positive)\n"); return 1; }
    int C = H * FA_D, pos = POS_LEARNED, n_masked = 0;
    uint64_t rng = 1234;
    size_t n3 = (size_t)B * T * 3 * C, n1 = (size_t)B * T * C, nr = (size_t)B * H * T;
    bf16* qkv = dev_rand<bf16>(n3, 1, 0, &rng);
    bf16* dout = dev_rand<bf16>(n1, 1, 0, &rng); // bf16, as the attention projection's backward writes it
    bf16 *out, *dqkv;
    float *lse, *D;
    cudaCheck(cudaMalloc(&out, n1 * 2)); cudaCheck(cudaMalloc(&dqkv, n3 * 2));
    cudaCheck(cudaMalloc(&lse, nr * 4)); cudaCheck(cudaMalloc(&D, nr * 4));
    double ms_fwd = median_ms([&] { attention_forward(out, lse, qkv, B, T, C, H, pos, n_masked); });
    double ms_bwd = median_ms([&] { attention_backward(dqkv, dout, out, qkv, lse, D, B, T, C, H, pos, n_masked); });
    // the backward's two kernels (D holds the dQ kernel's row dots from the runs above)
    dim3 grid(ceil_div(T, FA_TILE), H, B);
    double ms_dq = median_ms([&] {
        flash_attention_backward_dq_kernel<false><<<grid, FA_THREADS, FA_BWD_SMEM>>>(dqkv, D, dout, out, qkv, lse, T, C, H, pos, n_masked, 0.0f, 0);
    });
    double ms_dkdv = median_ms([&] {
        flash_attention_backward_dkdv_kernel<false><<<grid, FA_THREADS, FA_BWD_SMEM>>>(dqkv, dout, qkv, lse, D, T, C, H, pos, n_masked, 0.0f, 0);
    });
    cudaCheck(cudaGetLastError());
    cudaDeviceProp prop;
    cudaCheck(cudaGetDeviceProperties(&prop, 0));
    double f_fwd = 2.0 * B * H * (double)T * T * FA_D, f_bwd = 2.5 * f_fwd;
    printf("%s, B %d T %d H %d d %d, causal, bf16, ms per layer (median of 20)\n", prop.name, B, T, H, FA_D);
    printf("| op | ms | TFLOP/s | ms per 12 layers |\n|---|---:|---:|---:|\n");
    printf("| ours forward | %.4f | %.0f | %.2f |\n", ms_fwd, f_fwd / ms_fwd * 1e-9, 12 * ms_fwd);
    printf("| ours backward (all) | %.4f | %.0f | %.2f |\n", ms_bwd, f_bwd / ms_bwd * 1e-9, 12 * ms_bwd);
    printf("| ours forward + backward | %.4f | %.0f | %.2f |\n", ms_fwd + ms_bwd, (f_fwd + f_bwd) / (ms_fwd + ms_bwd) * 1e-9, 12 * (ms_fwd + ms_bwd));
    printf("|   backward: dQ kernel (and the row dots) | %.4f | | %.2f |\n", ms_dq, 12 * ms_dq);
    printf("|   backward: dK dV kernel | %.4f | | %.2f |\n", ms_dkdv, 12 * ms_dkdv);
    void* bufs[] = {qkv, dout, out, dqkv, lse, D};
    for (void* p : bufs) cudaCheck(cudaFree(p));
    return 0;
}
