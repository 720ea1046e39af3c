/*
 * bench_scan.cu -- the selective-scan kernels of kernels.cuh alone (ssm.md; issue: forward time
 * within 2x of the roofline bound). Prints, for mamba and longhorn at one shape (default B16
 * T1024 E1536 N16, dt_rank 48), the median over 20 runs of the forward and of forward+backward,
 * the bytes the kernels read and write, GB/s, and the two roofline terms of the forward:
 *   memory: bytes read + written / HBM peak (H100 SXM 3.35 TB/s, H200 4.8 TB/s, else the bus
 *           width x memory clock from cudaDeviceProp)
 *   SFU:    exponentials / (16 per SM per clock x SMs x clock): one exp per (t,e,n) for mamba's
 *           a = exp(dt A), plus per (t,e) the step size's softplus or sigmoid and the gate's
 *           sigmoid (longhorn's a = 1 - dt k^2 needs none per state)
 * Build and run (from the repository root): make dev/bench/bench_scan_cuda && dev/bench/bench_scan_cuda [B T E N]
 */
#include "../../seqmodels.h"
#include "../../kernels.cuh"
#include "bench_util.cuh"


int main(int argc, char** argv) {
    int B = argc > 1 ? atoi(argv[1]) : 16, T = argc > 2 ? atoi(argv[2]) : 1024, E = argc > 3 ? atoi(argv[3]) : 1536;
    int N = argc > 4 ? atoi(argv[4]) : 16, R = (E / 2 + 15) / 16;
    if (B < 1 || T < 1 || E < 1 || !gpu::ssm_state_supported(N)) sm_die("usage: bench_scan [B T E N], N in {%s}", SSM_N_SUPPORTED);
    cudaDeviceProp p;
    cudaCheck(cudaGetDeviceProperties(&p, 0));
    int clock_khz, mem_khz;
    cudaCheck(cudaDeviceGetAttribute(&clock_khz, cudaDevAttrClockRate, 0));
    cudaCheck(cudaDeviceGetAttribute(&mem_khz, cudaDevAttrMemoryClockRate, 0));
    double hbm = strstr(p.name, "H200") ? 4.8e12 : (strstr(p.name, "H100") && !strstr(p.name, "PCIe")) ? 3.35e12
               : 2.0 * mem_khz * 1e3 * (p.memoryBusWidth / 8);
    double sfu = 16.0 * p.multiProcessorCount * clock_khz * 1e3;
    printf("device: %s, %d SMs, %.2f GHz, HBM peak %.2f TB/s, SFU %.2f Texp/s\n", p.name, p.multiProcessorCount, clock_khz / 1e6,
           hbm / 1e12, sfu / 1e12);
    printf("shape: B %d T %d E %d N %d dt_rank %d, xc, dt projection, z and the gated output bf16 (as in bf16 mode)\n\n", B, T, E, N, R);
    uint64_t rng = 7;
    size_t BT = (size_t)B * T, n = BT * E, XD = R + 2 * N, n_ck = gpu::ssm_n_chunks(T);
    __nv_bfloat16 *xc = dev_rand<__nv_bfloat16>(n, 1, 0, &rng), *dtr = dev_rand<__nv_bfloat16>(n, 1, -2, &rng), *xz = dev_rand<__nv_bfloat16>(2 * n, 1, 0, &rng);
    float *bias = dev_rand(E, 0.5, 0, &rng), *xdbl = dev_rand(BT * XD, 0.5, 0, &rng), *D = dev_rand(E, 1, 0, &rng);
    float *A_log = dev_rand((size_t)E * N, 1, 1.5, &rng);
    __nv_bfloat16 *g, *ddtr, *dxz, *dxc, *dg = dev_rand<__nv_bfloat16>(n, 1, 0, &rng);
    float *hck, *dxdbl, *dA, *dD, *dbias, *scratch;
    cudaCheck(cudaMalloc(&g, n * 2));
    cudaCheck(cudaMalloc(&hck, (size_t)B * n_ck * E * N * 4));
    cudaCheck(cudaMalloc(&dxc, n * 2)); cudaCheck(cudaMalloc(&ddtr, n * 2)); cudaCheck(cudaMalloc(&dxz, 2 * n * 2));
    cudaCheck(cudaMalloc(&dxdbl, BT * XD * 4)); cudaCheck(cudaMalloc(&dA, (size_t)E * N * 4)); cudaCheck(cudaMalloc(&dD, E * 4)); cudaCheck(cudaMalloc(&dbias, E * 4));
    cudaCheck(cudaMalloc(&scratch, gpu::ssm_scan_backward_scratch(B, T, E, N) * 4));
    printf("| model | forward ms | fwd GB/s | memory bound ms | SFU bound ms | fwd / bound | fwd+bwd ms |\n");
    printf("|---|---:|---:|---:|---:|---:|---:|\n");
    for (int lh = 0; lh <= 1; lh++) {
        auto fwd = [&]() { gpu::ssm_scan_forward(g, hck, xc, dtr, bias, xdbl, xz, lh ? NULL : A_log, D, lh, B, T, E, N, R); };
        auto fwdbwd = [&]() {
            fwd();
            gpu::ssm_scan_backward(dxc, ddtr, dxz, dxdbl, dA, dD, dbias, scratch, dg, hck, xc, dtr, bias, xdbl, xz, lh ? NULL : A_log, D, lh,
                                   B, T, E, N, R);
        };
        double f_ms = median_ms(fwd, 20), fb_ms = median_ms(fwdbwd, 20);
        // forward traffic: xc, dtr, z read (bf16), B/C (or k/q) rows (fp32), g written (bf16), checkpoints written
        double bytes = 3.0 * n * 2 + BT * 2.0 * N * 4 + n * 2.0 + (double)B * n_ck * E * N * 4;
        double exps = lh ? 2.0 * n : (double)n * N + 2.0 * n;
        double mem_ms = bytes / hbm * 1e3, sfu_ms = exps / sfu * 1e3, bound = mem_ms > sfu_ms ? mem_ms : sfu_ms;
        printf("| %s | %.3f | %.0f | %.3f | %.3f | %.2fx | %.3f |\n", lh ? "longhorn" : "mamba", f_ms, bytes / f_ms / 1e6, mem_ms, sfu_ms,
               f_ms / bound, fb_ms);
    }
    // the causal conv1d + SiLU before the scan (W 4): reads x (bf16, every other E-row of xz), writes xc (bf16)
    int W = 4;
    float *conv_w = dev_rand((size_t)E * W, 0.5, 0, &rng), *conv_b = dev_rand(E, 0.5, 0, &rng), *dconv_w, *dconv_b, *conv_scr;
    cudaCheck(cudaMalloc(&dconv_w, (size_t)E * W * 4)); cudaCheck(cudaMalloc(&dconv_b, E * 4));
    cudaCheck(cudaMalloc(&conv_scr, gpu::conv1d_backward_scratch(B, T, E) * 4));
    __nv_bfloat16* xcv;
    cudaCheck(cudaMalloc(&xcv, n * 2));
    double cf = median_ms([&] { gpu::conv1d_silu_forward(xcv, xz, 2 * E, conv_w, conv_b, B, T, E, W); }, 20);
    double cb = median_ms([&] { gpu::conv1d_silu_backward(dxz, 2 * E, dconv_w, dconv_b, conv_scr, dxc, xz, conv_w, conv_b, B, T, E, W); }, 20);
    // backward traffic (one pass): x and dxc read, dx written
    printf("\nconv1d+SiLU W %d: forward %.3f ms (%.0f GB/s: x, xc bf16), backward %.3f ms (%.0f GB/s: x, dxc, dx bf16)\n",
           W, cf, 4.0 * n / cf / 1e6, cb, (2.0 + 2 + 2) * n / cb / 1e6);
    // the conv kernels' shape: V channels per thread, loads of U steps issued together (kernels.cuh
    // uses CONV_FWD_V/U and CONV_BWD_V/U)
    printf("\n| conv kernel | V | U | ms | GB/s |\n|---|---:|---:|---:|---:|\n");
    auto conv_fwd = [&](auto kernel, int V, int U) {
        double ms = median_ms([&] { kernel<<<gpu::conv1d_grid(B, T, E, V, CONV_FWD_SEG), 128>>>(xcv, xz, 2 * E, conv_w, conv_b, T, E, W); }, 20);
        printf("| forward | %d | %d | %.3f | %.0f |\n", V, U, ms, 4.0 * n / ms / 1e6);
    };
    conv_fwd(gpu::conv1d_silu_forward_kernel<1, 4, 1, __nv_bfloat16>, 1, 1);
    conv_fwd(gpu::conv1d_silu_forward_kernel<1, 4, 8, __nv_bfloat16>, 1, 8);
    conv_fwd(gpu::conv1d_silu_forward_kernel<2, 4, 4, __nv_bfloat16>, 2, 4);
    conv_fwd(gpu::conv1d_silu_forward_kernel<2, 4, 8, __nv_bfloat16>, 2, 8);
    conv_fwd(gpu::conv1d_silu_forward_kernel<4, 4, 4, __nv_bfloat16>, 4, 4);
    conv_fwd(gpu::conv1d_silu_forward_kernel<4, 4, 8, __nv_bfloat16>, 4, 8);
    conv_fwd(gpu::conv1d_silu_forward_kernel<8, 4, 4, __nv_bfloat16>, 8, 4);
    auto conv_bwd = [&](auto kernel, int V, int U) {
        double ms = median_ms([&] { kernel<<<gpu::conv1d_grid(B, T, E, V, CONV_BWD_SEG), 128>>>(dxz, 2 * E, conv_scr, dxc, xz, conv_w, conv_b, T, E, W); }, 20);
        printf("| backward (one pass, without the weight reduce) | %d | %d | %.3f | %.0f |\n", V, U, ms, 8.0 * n / ms / 1e6);
    };
    conv_bwd(gpu::conv1d_silu_backward_kernel<1, 4, 1, __nv_bfloat16>, 1, 1);
    conv_bwd(gpu::conv1d_silu_backward_kernel<1, 4, 8, __nv_bfloat16>, 1, 8);
    conv_bwd(gpu::conv1d_silu_backward_kernel<2, 4, 4, __nv_bfloat16>, 2, 4);
    conv_bwd(gpu::conv1d_silu_backward_kernel<2, 4, 8, __nv_bfloat16>, 2, 8);
    conv_bwd(gpu::conv1d_silu_backward_kernel<4, 4, 4, __nv_bfloat16>, 4, 4);
    conv_bwd(gpu::conv1d_silu_backward_kernel<4, 4, 8, __nv_bfloat16>, 4, 8);
    cudaCheck(cudaDeviceSynchronize());
    return 0;
}
