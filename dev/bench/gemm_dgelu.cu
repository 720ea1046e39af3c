/*
 * gemm_dgelu.cu -- an experiment: the MLP's DGELU product as a matmul kernel of our own, against
 * cuBLASLt's (the trainer's dgelu_fused). At config (b)'s shape cuBLASLt has only an xmma kernel
 * for the DGELU epilogue (~0.16 ms, ~470 TFLOP/s, dev/bench/bench_lt_search) where the same product
 * without the epilogue takes ~0.12 ms on nvjet.
 *
 *   D (M,N) = (A (M,K) Bt (N,K)^T) * GELU'(aux (M,N)),  all row-major bf16, fp32 accumulation
 *   (A = dout (tokens, C), Bt = W^T (4C, C): c_proj's weight transposed once per step)
 *
 * Kernel: 128 x 128 tiles, k in steps of 64; 256 threads = two warpgroups, each multiplying its 64
 * rows by the 128 columns with wgmma m64n128k16 from shared memory; 3 stages of cp.async loads
 * (96 KB), so two blocks share a multiprocessor and one's epilogue runs under the other's main
 * loop. Knobs (-D): GM_STAGES, GM_INFLIGHT (a step's products left running while the next tile is
 * waited for), GM_BN = 256 (128 x 256 tiles on m64n256k16: half the operand traffic per FLOP; one
 * block per SM). Prints the largest difference from cuBLASLt's output and both times.
 * Build and run (repository root): make dev/bench/gemm_dgelu && dev/bench/gemm_dgelu
 */
#include "../../seqmodels.h"
#include "../../kernels.cuh"
#include "bench_util.cuh"

namespace gpu {
#define GM_BM 128
#ifndef GM_BN
#define GM_BN 128 /* 128 (wgmma m64n128k16) or 256 (m64n256k16, 4 stages, one block per SM) */
#endif
#define GM_NT (GM_BN / 8) /* accumulator tiles of 8 columns per thread */
#define GM_BK 64
#ifndef GM_STAGES
#define GM_STAGES 3 /* 3: two blocks per multiprocessor; 4 or more: one */
#endif
#ifndef GM_INFLIGHT
#define GM_INFLIGHT 0 /* 1: a step's products run while the next step's tile is waited for */
#endif
#define GM_THREADS 256
#define GM_A_ELEMS (GM_BM * GM_BK) /* a stage: A (128 x 64), then Bt (GM_BN x 64) */
#define GM_STAGE_ELEMS ((GM_BM + GM_BN) * GM_BK)
#define GM_SMEM (GM_STAGES * GM_STAGE_ELEMS * 2 + FA_SMEM_ALIGN)

#if FA_WGMMA
#define G4(n) "+f"(d[n][0]), "+f"(d[n][1]), "+f"(d[n][2]), "+f"(d[n][3])
#define WG_ACC128(d) G4(0), G4(1), G4(2), G4(3), G4(4), G4(5), G4(6), G4(7), G4(8), G4(9), G4(10), G4(11), G4(12), G4(13), G4(14), G4(15)
#define WG_ACC256(d) WG_ACC128(d), G4(16), G4(17), G4(18), G4(19), G4(20), G4(21), G4(22), G4(23), G4(24), G4(25), G4(26), G4(27), G4(28), \
                     G4(29), G4(30), G4(31)
#define WG_D64 "{%0, %1, %2, %3, %4, %5, %6, %7, %8, %9, %10, %11, %12, %13, %14, %15, %16, %17, %18, %19, %20, %21, %22, %23, " \
               "%24, %25, %26, %27, %28, %29, %30, %31, %32, %33, %34, %35, %36, %37, %38, %39, %40, %41, %42, %43, %44, %45, " \
               "%46, %47, %48, %49, %50, %51, %52, %53, %54, %55, %56, %57, %58, %59, %60, %61, %62, %63}"
#define WG_D128 "{%0, %1, %2, %3, %4, %5, %6, %7, %8, %9, %10, %11, %12, %13, %14, %15, %16, %17, %18, %19, %20, %21, %22, %23, " \
                "%24, %25, %26, %27, %28, %29, %30, %31, %32, %33, %34, %35, %36, %37, %38, %39, %40, %41, %42, %43, %44, %45, " \
                "%46, %47, %48, %49, %50, %51, %52, %53, %54, %55, %56, %57, %58, %59, %60, %61, %62, %63, %64, %65, %66, %67, " \
                "%68, %69, %70, %71, %72, %73, %74, %75, %76, %77, %78, %79, %80, %81, %82, %83, %84, %85, %86, %87, %88, %89, " \
                "%90, %91, %92, %93, %94, %95, %96, %97, %98, %99, %100, %101, %102, %103, %104, %105, %106, %107, %108, %109, " \
                "%110, %111, %112, %113, %114, %115, %116, %117, %118, %119, %120, %121, %122, %123, %124, %125, %126, %127}"
/* d (64 x 256) += A (64 x 16) B (16 x 256), both read from shared memory K-major */
__device__ __forceinline__ void wg_mma256_ss(float (*d)[4], uint64_t desc_a, uint64_t desc_b) {
    asm volatile("wgmma.mma_async.sync.aligned.m64n256k16.f32.bf16.bf16 " WG_D128 ", %128, %129, 1, 1, 1, 0, 0;\n"
                 : WG_ACC256(d) : "l"(desc_a), "l"(desc_b));
}
/* d (64 x 128) += A (64 x 16) B (16 x 128), both read from shared memory K-major */
__device__ __forceinline__ void wg_mma128_ss(float (*d)[4], uint64_t desc_a, uint64_t desc_b) {
    asm volatile("wgmma.mma_async.sync.aligned.m64n128k16.f32.bf16.bf16 " WG_D64 ", %64, %65, 1, 1, 1, 0, 0;\n"
                 : WG_ACC128(d) : "l"(desc_a), "l"(desc_b));
}
#endif
/* rows [r0, r0 + ROWS), columns [k0, k0 + 64) of a row-major bf16 matrix (leading dimension ld)
 * into a swizzled ROWS x 64 tile: thread x copies chunk x % 8 of rows x / 8 + 32 j */
template <int ROWS>
__device__ __forceinline__ void gm_load_tile(bf16* dst, const bf16* src, long ld, int r0, int k0) {
    int r = threadIdx.x / 8, c = threadIdx.x % 8;
    const bf16* from = src + (long)(r0 + r) * ld + k0 + c * 8;
    bf16* to = dst + fa_sw(r, c);
    #pragma unroll
    for (int j = 0; j < ROWS / 32; j++) cp_async16(to + 32 * j * GM_BK, from + 32 * j * ld, true);
}
__global__ void __launch_bounds__(GM_THREADS, GM_STAGES <= 3 && GM_BN == 128 ? 2 : 1) dgelu_gemm_kernel(bf16* D, const bf16* A, const bf16* Bt, const bf16* aux,
                                                                   int M, int N, int K) {
#if FA_WGMMA
    extern __shared__ __align__(128) unsigned char smem_raw[];
    bf16* tiles = (bf16*)fa_smem(smem_raw); // stage s at s GM_STAGE_ELEMS: A, then Bt
    int n0 = blockIdx.x * GM_BN, m0 = blockIdx.y * GM_BM, wg = threadIdx.x / 128, KT = K / GM_BK;
    #pragma unroll
    for (int s = 0; s < GM_STAGES - 1; s++) {
        if (s < KT) {
            gm_load_tile<GM_BM>(tiles + s * GM_STAGE_ELEMS, A, K, m0, s * GM_BK);
            gm_load_tile<GM_BN>(tiles + s * GM_STAGE_ELEMS + GM_A_ELEMS, Bt, K, n0, s * GM_BK);
        }
        cp_async_commit();
    }
    float acc[GM_NT][4];
    #pragma unroll
    for (int n = 0; n < GM_NT; n++)
        #pragma unroll
        for (int e = 0; e < 4; e++) acc[n][e] = 0.0f;
    for (int kt = 0; kt < KT; kt++) {
        cp_async_wait<GM_STAGES - 2>(); // this thread's copies of stage kt are in
        asm volatile("fence.proxy.async.shared::cta;\n" ::: "memory");
        __syncthreads(); // everyone's are (and, without GM_INFLIGHT, every warp is done with stage kt - 1)
        int s = kt % GM_STAGES;
        uint64_t da = wg_desc(tiles + s * GM_STAGE_ELEMS + wg * 64 * GM_BK), db = wg_desc(tiles + s * GM_STAGE_ELEMS + GM_A_ELEMS);
        wg_fence();
        #pragma unroll
        for (int kc = 0; kc < 4; kc++) {
#if GM_BN == 256
            wg_mma256_ss(acc, da + 2 * kc, db + 2 * kc);
#else
            wg_mma128_ss(acc, da + 2 * kc, db + 2 * kc);
#endif
        }
        wg_commit();
#if GM_INFLIGHT
        asm volatile("wgmma.wait_group.sync.aligned 1;\n" ::: "memory"); // step kt - 1's products are done
        __syncthreads();                                                   // in both warpgroups: its stage is free
#endif
        int nk = kt + GM_STAGES - 1; // into the stage of step kt - 1
        if (nk < KT) {
            int sn = nk % GM_STAGES;
            gm_load_tile<GM_BM>(tiles + sn * GM_STAGE_ELEMS, A, K, m0, nk * GM_BK);
            gm_load_tile<GM_BN>(tiles + sn * GM_STAGE_ELEMS + GM_A_ELEMS, Bt, K, n0, nk * GM_BK);
        }
        cp_async_commit();
#if !GM_INFLIGHT
        asm volatile("wgmma.wait_group.sync.aligned 0;\n" ::: "memory");
#endif
    }
    asm volatile("wgmma.wait_group.sync.aligned 0;\n" ::: "memory");
    #pragma unroll
    for (int n = 0; n < GM_NT; n++)
        #pragma unroll
        for (int e = 0; e < 4; e++) asm volatile("" : "+f"(acc[n][e])::"memory");
    // epilogue: lane (g, t) of warp w holds rows 16 w + g (+ 8), columns 8 n + 2 t (+ 1)
    int warp = (threadIdx.x % 128) / 32, lane = threadIdx.x % 32, g = lane / 4, t = lane % 4;
    #pragma unroll
    for (int half = 0; half < 2; half++) {
        long row = m0 + 64 * wg + 16 * warp + g + 8 * half;
        #pragma unroll
        for (int n = 0; n < GM_NT; n++) {
            long o = row * N + n0 + 8 * n + 2 * t;
            float2 u = __bfloat1622float2(*(const __nv_bfloat162*)(aux + o));
            *(__nv_bfloat162*)(D + o) = __floats2bfloat162_rn(acc[n][2 * half] * gelu_grad_dev(u.x), acc[n][2 * half + 1] * gelu_grad_dev(u.y));
        }
    }
#else
    __trap(); // (sm_90a only)
#endif
}
static void dgelu_gemm(bf16* D, const bf16* A, const bf16* Bt, const bf16* aux, int M, int N, int K) {
    static bool configured = false;
    if (!configured) {
        cudaCheck(cudaFuncSetAttribute(dgelu_gemm_kernel, cudaFuncAttributeMaxDynamicSharedMemorySize, GM_SMEM));
        configured = true;
    }
    dgelu_gemm_kernel<<<dim3(N / GM_BN, M / GM_BM), GM_THREADS, GM_SMEM>>>(D, A, Bt, aux, M, N, K);
    cudaCheck(cudaGetLastError());
}
} // namespace gpu

int main() {
    const int M = 16384, C = 768, H = 4 * C; // D (M, H) = dout (M, C) W (C, H), W = Bt^T
    cudaDeviceProp p;
    cudaCheck(cudaGetDeviceProperties(&p, 0));
    printf("device: %s, %d SMs; D (%d x %d) = dout (%d x %d) W (%d x %d) * GELU'(aux), bf16, fp32 accumulation\n\n", p.name,
           p.multiProcessorCount, M, H, M, C, C, H);
    uint64_t rng = 5;
    std::vector<__nv_bfloat16> hW((size_t)C * H), hWt((size_t)H * C);
    for (size_t i = 0; i < hW.size(); i++) hW[i] = __float2bfloat16(0.05f * (float)(2 * rng_uniform(&rng) - 1));
    for (int c = 0; c < C; c++)
        for (int h = 0; h < H; h++) hWt[(size_t)h * C + c] = hW[(size_t)c * H + h];
    __nv_bfloat16 *W, *Wt, *D0, *D1;
    cudaCheck(cudaMalloc(&W, hW.size() * 2));
    cudaCheck(cudaMalloc(&Wt, hWt.size() * 2));
    cudaCheck(cudaMemcpy(W, hW.data(), hW.size() * 2, cudaMemcpyHostToDevice));
    cudaCheck(cudaMemcpy(Wt, hWt.data(), hWt.size() * 2, cudaMemcpyHostToDevice));
    __nv_bfloat16 *dout = dev_rand<__nv_bfloat16>((size_t)M * C, 1.0f, 0.0f, &rng), *aux = dev_rand<__nv_bfloat16>((size_t)M * H, 2.0f, 0.0f, &rng);
    cudaCheck(cudaMalloc(&D0, (size_t)M * H * 2));
    cudaCheck(cudaMalloc(&D1, (size_t)M * H * 2));
    gpu::lt_tune = 0; // cuBLASLt's first kernel, as the trainer's bits
    auto lt = [&] {
        if (!gpu::lt_matmul(CUBLAS_OP_N, CUBLAS_OP_N, H, M, C, W, H, dout, C, 0.0f, D0, CUDA_R_16BF, H, CUBLASLT_EPILOGUE_DGELU, aux))
            sm_die("cuBLASLt has no DGELU kernel here");
    };
    auto ours = [&] { gpu::dgelu_gemm(D1, dout, Wt, aux, M, H, C); };
    lt();
    ours();
    cudaCheck(cudaDeviceSynchronize());
    std::vector<__nv_bfloat16> h0((size_t)M * H), h1((size_t)M * H);
    cudaCheck(cudaMemcpy(h0.data(), D0, h0.size() * 2, cudaMemcpyDeviceToHost));
    cudaCheck(cudaMemcpy(h1.data(), D1, h1.size() * 2, cudaMemcpyDeviceToHost));
    double md = 0, mx = 0;
    size_t worst = 0;
    for (size_t i = 0; i < h0.size(); i++) {
        double a = __bfloat162float(h0[i]), b = __bfloat162float(h1[i]);
        if (!(fabs(a - b) <= md)) md = fabs(a - b), worst = i;
        mx = fmax(mx, fabs(a));
    }
    printf("largest difference from cuBLASLt: %.3g (%.2e of the largest |D|, at row %zu col %zu: %g vs %g)\n", md, md / mx, worst / H,
           worst % H, (double)__bfloat162float(h0[worst]), (double)__bfloat162float(h1[worst]));
    double flop = 2.0 * M * H * C;
    double t_lt = median_ms(lt), t_ours = median_ms(ours);
    printf("| kernel | ms | TFLOP/s |\n|---|---:|---:|\n| cuBLASLt DGELU (first kernel) | %.4f | %.0f |\n| ours | %.4f | %.0f |\n", t_lt,
           flop / t_lt / 1e9, t_ours, flop / t_ours / 1e9);
    return 0;
}
