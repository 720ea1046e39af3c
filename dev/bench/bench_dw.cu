/*
 * bench_dw.cu -- the weight-gradient matmuls of config (b), dW (OC,C) += dout^T (OC,N) inp (N,C)
 * with N = 16384 tokens, as kernels.cuh's gemm() runs them (one cuBLAS call, beta 1), against the
 * same product split over the tokens into S slices (one strided-batched cuBLAS call into S fp32
 * buffers, then kernels.cuh's slice-sum kernel adding them to dW in a fixed order). The outputs are small next to
 * K = N (a 768 x 1536 dW is 58 tiles of 128 x 160 for 132 SMs), so one call may leave SMs idle.
 * Prints ms and TFLOP/s per shape and S, and the largest difference from the one-call result.
 * Build and run (repository root): make dev/bench/bench_dw && dev/bench/bench_dw
 */
#include "../../seqmodels.h"
#include "../../kernels.cuh"
#include "bench_util.cuh"

int main() {
    struct Shape { const char* name; int C, OC; } shapes[] = {
        {"mamba in_proj (768 -> 3072)", 768, 3072},  {"mamba out_proj (1536 -> 768)", 1536, 768},
        {"gpt qkv (768 -> 2304)", 768, 2304},        {"gpt attn proj (768 -> 768)", 768, 768},
        {"gpt fc (768 -> 3072)", 768, 3072},          {"gpt mlp proj (3072 -> 768)", 3072, 768},
    };
    const int N = 16384;
    cudaDeviceProp p;
    cudaCheck(cudaGetDeviceProperties(&p, 0));
    printf("device: %s, %d SMs; dW (OC,C) += dout^T inp over N = %d tokens, bf16 operands, fp32 dW\n\n", p.name, p.multiProcessorCount, N);
    printf("| product | S | ms | TFLOP/s | max rel diff |\n|---|---:|---:|---:|---:|\n");
    uint64_t rng = 1234;
    for (const Shape& sh : shapes) {
        int C = sh.C, OC = sh.OC;
        long n = (long)C * OC;
        __nv_bfloat16 *inp = dev_rand<__nv_bfloat16>((size_t)N * C, 1.0f, 0.0f, &rng), *dout = dev_rand<__nv_bfloat16>((size_t)N * OC, 1.0f, 0.0f, &rng);
        float *dW, *ref, *ws;
        cudaCheck(cudaMalloc(&dW, n * 4));
        cudaCheck(cudaMalloc(&ref, n * 4));
        cudaCheck(cudaMalloc(&ws, 8 * n * 4));
        double flop = 2.0 * N * C * OC;
        cudaCheck(cudaMemset(ref, 0, n * 4));
        gpu::gemm(CUBLAS_OP_N, CUBLAS_OP_T, C, OC, N, inp, C, dout, OC, 1.0f, ref, C); // as linear_backward_gemms
        std::vector<float> hr(n), hd(n);
        cudaCheck(cudaMemcpy(hr.data(), ref, n * 4, cudaMemcpyDeviceToHost));
        double ms1 = median_ms([&] { gpu::gemm(CUBLAS_OP_N, CUBLAS_OP_T, C, OC, N, inp, C, dout, OC, 1.0f, dW, C); });
        printf("| %s | 1 | %.4f | %.0f | |\n", sh.name, ms1, flop / ms1 / 1e9);
        for (int S : {2, 3, 4, 6, 8}) {
            int Ks = N / S;
            if (Ks * S != N) Ks = (N + S - 1) / S; // (the last slice shorter: not exercised at N 16384 but for 3, 6)
            auto run = [&](float* out) {
                const float one = 1.0f, zero = 0.0f;
                int full = N / Ks; // slices of Ks tokens; a remainder slice, if any, goes in a second call
                cublasCheck(cublasGemmStridedBatchedEx(gpu::cublas_handle(), CUBLAS_OP_N, CUBLAS_OP_T, C, OC, Ks, &one, inp, CUDA_R_16BF, C,
                                                       (long long)Ks * C, dout, CUDA_R_16BF, OC, (long long)Ks * OC, &zero, ws, CUDA_R_32F, C,
                                                       n, full, CUBLAS_COMPUTE_32F, CUBLAS_GEMM_DEFAULT));
                int rem = N - full * Ks;
                if (rem)
                    cublasCheck(cublasGemmEx(gpu::cublas_handle(), CUBLAS_OP_N, CUBLAS_OP_T, C, OC, rem, &one, inp + (long)full * Ks * C, CUDA_R_16BF, C,
                                             dout + (long)full * Ks * OC, CUDA_R_16BF, OC, &zero, ws + full * n, CUDA_R_32F, C, CUBLAS_COMPUTE_32F,
                                             CUBLAS_GEMM_DEFAULT));
                gpu::bias_grad_reduce_kernel<<<(int)((n + 255) / 256), 256>>>(out, ws, full + (rem > 0), (int)n, false); // (the slices added in order)
            };
            cudaCheck(cudaMemset(dW, 0, n * 4));
            run(dW);
            cudaCheck(cudaMemcpy(hd.data(), dW, n * 4, cudaMemcpyDeviceToHost));
            double md = 0, mr = 0;
            for (long i = 0; i < n; i++) { md = fmax(md, fabs(hd[i] - hr[i])); mr = fmax(mr, fabs(hr[i])); }
            double ms = median_ms([&] { run(dW); });
            printf("| %s | %d | %.4f | %.0f | %.1e |\n", sh.name, S, ms, flop / ms / 1e9, md / mr);
        }
        cudaCheck(cudaFree(inp)); cudaCheck(cudaFree(dout)); cudaCheck(cudaFree(dW)); cudaCheck(cudaFree(ref)); cudaCheck(cudaFree(ws));
    }
    return 0;
}
