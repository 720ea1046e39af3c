/*
 * gemm_tma.cu -- an experiment (not used by the trainer): the MLP's DGELU product as a Hopper
 * matmul kernel of our own, fed by the tensor copy engine (TMA), against cuBLASLt with and without
 * the epilogue, in one run: the largest difference from cuBLASLt's output and the median ms.
 *
 *   D (M,N) = (A (M,K) Bt (N,K)^T) [* GELU'(aux (M,N))],  row-major bf16, fp32 accumulation
 *   (A = dout (tokens, C), Bt = W^T (4C, C): c_proj's weight transposed)
 *
 * The kernel (persistent, warp-specialized, 384 threads):
 *   - tiles of 128 x GT_BN (192, 3 stages of k = 64; or 256, 2 stages: shared memory also holds two
 *     tile-sized epilogue buffers X and Y). With GT_CLUSTER = 2 the two blocks of a cluster take
 *     vertically adjacent tiles and share Bt's box: each loads half of it and the copy engine
 *     writes it into both (multicast), so a block reads less from L2 per FLOP;
 *   - warps 0-7, two warpgroups, multiply (each its 64 rows, wgmma m64nGT_BNk16, both operands from
 *     shared memory), release a stage (an "empty" barrier in every block of the cluster) once the
 *     products reading it are done, one step behind, and write the bf16 product into Y;
 *   - warp 8 loads: per step it waits until the stage is empty, tells its "full" barrier how many
 *     bytes to expect and issues its copies (A's 128 x 64 box, its share of Bt's);
 *   - warp 9 moves the epilogue's data: it stores Y (a TMA store) once the tile is finished and
 *     loads the next tile's aux into X;
 *   - warps 10-11 (DGELU) scale Y by GELU'(X) while the multiplying warps run the next tile.
 *
 * What session 19 measured on one H100 (dev/runs/s19_call1 .. s19_call12), ms against cuBLASLt's
 * in the same run, product without epilogue / DGELU (cuBLASLt 0.118-0.133 / 0.157-0.176):
 *   v1  128 x 128 or 128 x 256, TMA loader warp, epilogue from registers   0.178-0.191 / 0.30-0.43
 *   v2  128 x 256, clusters of 2, X shared by aux and D, GELU' in the
 *       multiplying warps                                                 0.171-0.175 / 0.30-0.35
 *       ... after the cluster arrive lost ".release.cluster", which had
 *       cost a MEMBAR.ALL.GPU per k-step                                  0.116-0.119 / 0.305
 *       ... GELU' with tanh.approx in the multiplying warps               0.118       / 0.204
 *       ... GELU' by warps 10-11 into X as fp16, 4 chunks per thread      0.120       / 0.188
 *           (the same without the GELU' arithmetic: 0.1715)
 *   v3  128 x 192, X (aux) and Y (D) separate                             0.119       / 0.197
 *   v4  (this file) the product into Y as without an epilogue, scaled
 *       by warps 10-11 under the next tile                                0.118       / 0.200-0.208
 * So the main loop matches cuBLASLt (657-668 TFLOP/s at K = 768), but every epilogue tried costs
 * 0.05-0.09 ms more than the product, where cuBLASLt's xmma DGELU kernel costs 0.04-0.05.
 * Nsight Compute on v4 (s19_call13): nothing saturated (DRAM 35%, L2 47%, SM 44%); the DGELU issues
 * ~193K more warp instructions per SM than the product, nearly all from warps 10-11.
 * Session 20 (one H100, s20_call1 .. s20_call3; cuBLASLt's DGELU 0.154-0.178 in the same runs):
 *   GT_SCALE_IN_MMA = 1 (the multiplying warps scale the last tile between k-steps)     0.212-0.213
 *   ... with 128 x 256 tiles / without clusters                                         0.219-0.228 / 0.205
 *   probes of v4 (D wrong; GT_PROBE): v4 itself 0.194-0.198; no aux loads 0.197; no scaling 0.162;
 *   neither 0.133; the multiplying warps not waiting for Y to be free 0.164, and also no scaling
 *   0.158, and also no aux loads 0.1295 (the product alone: 0.118-0.124)
 *   4 scaling warps (GT_SCALERS = 4, 448 threads) 0.181; 6 (512 threads, 128 registers) 0.205-0.212
 *   D written into X so that the scaling warps free Y (GT_X_OUT = 1): 2 / 4 / 6 warps 0.197 / 0.186 / 0.205
 * So the epilogue's cost is in two places: the scaling is on the critical path (the multiplying
 * warps wait for Y to be free: ~0.035 ms), and the aux loads alone slow the main loop (~0.03 ms,
 * with no dependence on them at all). No form of this design got under cuBLASLt's DGELU; the
 * experiment stops here (the trainer keeps cuBLASLt's GELU epilogues).
 * Knobs (-D): GT_BN (192 | 256), GT_STAGES, GT_CLUSTER (1 | 2), GT_SCALE_IN_MMA (0 | 1),
 * GT_SCALERS (2 | 4 | 6), GT_X_OUT (0 | 1), GT_PROBE (0-7, timing probes).
 * Build and run (repository root): make dev/bench/gemm_tma && dev/bench/gemm_tma
 */
#include "../../seqmodels.h"
#include "../../kernels.cuh"
#include "bench_util.cuh"
#include <cuda.h>

namespace gpu {
#define GT_BM 128
#ifndef GT_BN
#define GT_BN 192 /* 192 (3 stages) or 256 (2 stages) */
#endif
#define GT_BK 64
#ifndef GT_STAGES
#define GT_STAGES (GT_BN == 256 ? 2 : 3)
#endif
#ifndef GT_CLUSTER
#define GT_CLUSTER 2
#endif
#ifndef GT_PROBE
#define GT_PROBE 0 /* timing probes of the DGELU epilogue (D wrong): 1 no aux loads (X never filled), 2 no scaling (Y
                      stored as the product), 3 both; + 4: the multiplying warps write Y without waiting for it to be free */
#endif
#ifndef GT_SCALE_IN_MMA
#define GT_SCALE_IN_MMA 0 /* 1: the multiplying warps scale the last tile's product between their k-steps, instead of
                             warps 10-11 (session 20: slower) */
#endif
/* warpgroups: two multiply; in the third warp 8 loads, warp 9 moves the epilogue's data, 10-11 scale */
#ifndef GT_SCALERS
#define GT_SCALERS 2 /* warps scaling Y by GELU' (warps 10 ..), when not GT_SCALE_IN_MMA; 6 takes 512 threads (128 registers) */
#endif
#ifndef GT_X_OUT
#define GT_X_OUT 0 /* 1: the scaling warps write D into X (over the aux it was made from), so Y is free as soon as they
                      have read it, not once the copy engine has stored D */
#endif
#define GT_THREADS (GT_SCALE_IN_MMA ? 320 : 320 + 32 * GT_SCALERS)
#define GT_BOXES (GT_BN / 64)
#define GT_A_ELEMS (GT_BM * GT_BK)
#define GT_STAGE_ELEMS ((GT_BM + GT_BN) * GT_BK)
#define GT_STAGE_BYTES (GT_STAGE_ELEMS * 2)
#define GT_OUT_ELEMS (GT_BM * GT_BN) /* a tile: GT_BOXES boxes of 128 rows x 64 columns, swizzled */
#define GT_SMEM (GT_STAGES * GT_STAGE_BYTES + 2 * GT_OUT_ELEMS * 2 + (2 * GT_STAGES + GT_BOXES + 3) * 8 + FA_SMEM_ALIGN)
#define GT_NT (GT_BN / 8)

/* mbarriers: a 64-bit word in shared memory counting arrivals (and, for TMA, bytes) per phase */
__device__ __forceinline__ uint32_t smem_addr(const void* p) { return (uint32_t)__cvta_generic_to_shared(p); }
__device__ __forceinline__ void mbar_init(uint64_t* bar, int count) {
    asm volatile("mbarrier.init.shared::cta.b64 [%0], %1;\n" ::"r"(smem_addr(bar)), "r"(count) : "memory");
}
__device__ __forceinline__ void mbar_expect_tx(uint64_t* bar, uint32_t bytes) {
    asm volatile("mbarrier.arrive.expect_tx.shared::cta.b64 _, [%0], %1;\n" ::"r"(smem_addr(bar)), "r"(bytes) : "memory");
}
__device__ __forceinline__ void mbar_arrive(uint64_t* bar) {
    asm volatile("mbarrier.arrive.shared::cta.b64 _, [%0];\n" ::"r"(smem_addr(bar)) : "memory");
}
/* arrive on the barrier at the same place in block `cta` of the cluster */
__device__ __forceinline__ void mbar_arrive_cluster(uint64_t* bar, uint32_t cta) {
    uint32_t remote;
    asm volatile("mapa.shared::cluster.u32 %0, %1, %2;\n" : "=r"(remote) : "r"(smem_addr(bar)), "r"(cta));
    // (default semantics, release at CTA scope: ".release.cluster" costs a MEMBAR.ALL.GPU per
    // arrive, which took a third of the main loop's time; the stage was read by the tensor cores,
    // whose completion the wgmma wait already established)
    asm volatile("mbarrier.arrive.shared::cluster.b64 _, [%0];\n" ::"r"(remote) : "memory");
}
/* wait until the phase of the given parity has completed (a fresh barrier counts parity 1 as done) */
__device__ __forceinline__ void mbar_wait(uint64_t* bar, uint32_t parity) {
    asm volatile("{\n .reg .pred p;\n WAIT:\n mbarrier.try_wait.parity.shared::cta.b64 p, [%0], %1;\n @!p bra WAIT;\n}\n" ::"r"(smem_addr(bar)),
                 "r"(parity)
                 : "memory");
}
/* a box at (column c0, row c1) of a tensor map into shared memory, completing on bar; _mc: into
 * the same place of every block of the cluster in `mask`, completing on each one's barrier */
__device__ __forceinline__ void tma_load_2d(void* dst, const CUtensorMap* map, uint64_t* bar, int c0, int c1) {
    asm volatile("cp.async.bulk.tensor.2d.shared::cluster.global.mbarrier::complete_tx::bytes [%0], [%1, {%3, %4}], [%2];\n" ::"r"(smem_addr(dst)),
                 "l"((uint64_t)map), "r"(smem_addr(bar)), "r"(c0), "r"(c1)
                 : "memory");
}
__device__ __forceinline__ void tma_load_2d_mc(void* dst, const CUtensorMap* map, uint64_t* bar, int c0, int c1, uint16_t mask) {
    asm volatile("cp.async.bulk.tensor.2d.shared::cluster.global.mbarrier::complete_tx::bytes.multicast::cluster [%0], [%1, {%3, %4}], [%2], %5;\n" ::"r"(
                     smem_addr(dst)),
                 "l"((uint64_t)map), "r"(smem_addr(bar)), "r"(c0), "r"(c1), "h"(mask)
                 : "memory");
}
/* a box of shared memory to (column c0, row c1) of a tensor map; the group is waited for below */
__device__ __forceinline__ void tma_store_2d(const CUtensorMap* map, const void* src, int c0, int c1) {
    asm volatile("cp.async.bulk.tensor.2d.global.shared::cta.bulk_group [%0, {%2, %3}], [%1];\n" ::"l"((uint64_t)map), "r"(smem_addr(src)), "r"(c0),
                 "r"(c1)
                 : "memory");
}
__device__ __forceinline__ void cluster_sync() {
#if GT_CLUSTER > 1
    asm volatile("barrier.cluster.arrive.release.aligned;\nbarrier.cluster.wait.acquire.aligned;\n" ::: "memory");
#else
    __syncthreads();
#endif
}
__device__ __forceinline__ uint32_t cluster_rank() {
#if GT_CLUSTER > 1
    uint32_t r;
    asm volatile("mov.u32 %0, %%cluster_ctarank;\n" : "=r"(r));
    return r;
#else
    return 0;
#endif
}

#if FA_WGMMA
#define G4(n) "+f"(d[n][0]), "+f"(d[n][1]), "+f"(d[n][2]), "+f"(d[n][3])
#define WG_ACC128(d) G4(0), G4(1), G4(2), G4(3), G4(4), G4(5), G4(6), G4(7), G4(8), G4(9), G4(10), G4(11), G4(12), G4(13), G4(14), G4(15)
#define WG_ACC256(d) WG_ACC128(d), G4(16), G4(17), G4(18), G4(19), G4(20), G4(21), G4(22), G4(23), G4(24), G4(25), G4(26), G4(27), G4(28), \
                     G4(29), G4(30), G4(31)
#define WG_D128 "{%0, %1, %2, %3, %4, %5, %6, %7, %8, %9, %10, %11, %12, %13, %14, %15, %16, %17, %18, %19, %20, %21, %22, %23, " \
                "%24, %25, %26, %27, %28, %29, %30, %31, %32, %33, %34, %35, %36, %37, %38, %39, %40, %41, %42, %43, %44, %45, " \
                "%46, %47, %48, %49, %50, %51, %52, %53, %54, %55, %56, %57, %58, %59, %60, %61, %62, %63, %64, %65, %66, %67, " \
                "%68, %69, %70, %71, %72, %73, %74, %75, %76, %77, %78, %79, %80, %81, %82, %83, %84, %85, %86, %87, %88, %89, " \
                "%90, %91, %92, %93, %94, %95, %96, %97, %98, %99, %100, %101, %102, %103, %104, %105, %106, %107, %108, %109, " \
                "%110, %111, %112, %113, %114, %115, %116, %117, %118, %119, %120, %121, %122, %123, %124, %125, %126, %127}"
#define WG_ACC192(d) WG_ACC128(d), G4(16), G4(17), G4(18), G4(19), G4(20), G4(21), G4(22), G4(23)
#define WG_D96 "{%0, %1, %2, %3, %4, %5, %6, %7, %8, %9, %10, %11, %12, %13, %14, %15, %16, %17, %18, %19, %20, %21, %22, %23, " \
               "%24, %25, %26, %27, %28, %29, %30, %31, %32, %33, %34, %35, %36, %37, %38, %39, %40, %41, %42, %43, %44, %45, " \
               "%46, %47, %48, %49, %50, %51, %52, %53, %54, %55, %56, %57, %58, %59, %60, %61, %62, %63, %64, %65, %66, %67, " \
               "%68, %69, %70, %71, %72, %73, %74, %75, %76, %77, %78, %79, %80, %81, %82, %83, %84, %85, %86, %87, %88, %89, " \
               "%90, %91, %92, %93, %94, %95}"
/* d (64 x GT_BN) (+)= A (64 x 16) B (16 x GT_BN), both read from shared memory K-major; scale_d = 0
 * on a tile's first step, so the accumulators need no clearing */
__device__ __forceinline__ void gt_mma(float (*d)[4], uint64_t desc_a, uint64_t desc_b, int scale_d) {
#if GT_BN == 256
    asm volatile("{\n .reg .pred p;\n setp.ne.b32 p, %130, 0;\n"
                 "wgmma.mma_async.sync.aligned.m64n256k16.f32.bf16.bf16 " WG_D128 ", %128, %129, p, 1, 1, 0, 0;\n}\n"
                 : WG_ACC256(d) : "l"(desc_a), "l"(desc_b), "r"(scale_d));
#else
    asm volatile("{\n .reg .pred p;\n setp.ne.b32 p, %98, 0;\n"
                 "wgmma.mma_async.sync.aligned.m64n192k16.f32.bf16.bf16 " WG_D96 ", %96, %97, p, 1, 1, 0, 0;\n}\n"
                 : WG_ACC192(d) : "l"(desc_a), "l"(desc_b), "r"(scale_d));
#endif
}
#endif

/* GELU'(u) = (1 + th) / 2 + u (1 - th^2) k (1 + 3 c u^2) / 2, th = tanh(k (u + c u^3)), with the
 * hardware's tanh (tanh.approx, about 2^-11 relative error, the precision of the fp16 it goes into):
 * 9 instructions, one of them on the special-function unit */
__device__ __forceinline__ float gelu_grad_fast(float u) {
    float u2 = u * u, th;
    asm("tanh.approx.f32 %0, %1;" : "=f"(th) : "f"(u * fmaf(GELU_SCALE_F * 0.044715f, u2, GELU_SCALE_F)));
    float a = 0.5f * GELU_SCALE_F * u * fmaf(3.0f * 0.044715f, u2, 1.0f);
    return fmaf(a, fmaf(-th, th, 1.0f), fmaf(0.5f, th, 0.5f));
}
template <int EPI> /* EPI 0: D = A Bt^T; 1: D = (A Bt^T) * GELU'(aux) */
__global__ void __cluster_dims__(GT_CLUSTER, 1, 1) __launch_bounds__(GT_THREADS, 1)
    gemm_tma_kernel(const __grid_constant__ CUtensorMap mapA, const __grid_constant__ CUtensorMap mapB, const __grid_constant__ CUtensorMap mapD,
                    const __grid_constant__ CUtensorMap mapAux, int M, int N, int K) {
#if FA_WGMMA
    extern __shared__ __align__(128) unsigned char smem_raw[];
    bf16* tiles = (bf16*)fa_smem(smem_raw); // stage s at s GT_STAGE_ELEMS: A (128 x 64), then Bt (GT_BN x 64)
    bf16* X = tiles + GT_STAGES * GT_STAGE_ELEMS; // the tile's aux: box b (columns 64 b..) at b 128 x 64, swizzled
    bf16* Y = X + GT_OUT_ELEMS;                   // the tile's product, then D, the same layout
    uint64_t* full = (uint64_t*)(Y + GT_OUT_ELEMS); // stage s loaded
    uint64_t* empty = full + GT_STAGES;             // stage s read by every multiplying warp of the cluster
    uint64_t* aux_full = empty + GT_STAGES;         // box b of the tile's aux is in X
    uint64_t* y_free = aux_full + GT_BOXES;         // the last tile's D has been read out of Y
    uint64_t* out_ready = y_free + 1;               // the tile's product is in Y
    uint64_t* d_ready = out_ready + 1;              // the tile's D is in Y (and X has been read)
    int warp = threadIdx.x / 32, lane = threadIdx.x % 32;
    uint32_t rank = cluster_rank();
    if (threadIdx.x == 0) {
        for (int s = 0; s < GT_STAGES; s++) {
            mbar_init(&full[s], 1);
            mbar_init(&empty[s], 8 * GT_CLUSTER);
        }
        for (int b = 0; b < GT_BOXES; b++) mbar_init(&aux_full[b], 1);
        mbar_init(y_free, EPI == 1 && GT_X_OUT ? 32 * GT_SCALERS : 1);
        mbar_init(out_ready, 256);
        mbar_init(d_ready, GT_SCALE_IN_MMA ? 256 : 32 * GT_SCALERS);
        asm volatile("fence.mbarrier_init.release.cluster;\n" ::: "memory");
    }
    cluster_sync(); // every block's barriers exist before any copy lands in it
    // cluster c takes tile pairs c, c + clusters, ...: pair p is columns n0 and rows m0 (this block) of
    // GT_CLUSTER vertically adjacent tiles
    int tilesN = N / GT_BN, pairs = M / (GT_BM * GT_CLUSTER) * tilesN, KT = K / GT_BK;
    int cid = blockIdx.x / GT_CLUSTER, clusters = gridDim.x / GT_CLUSTER;
#define GT_TILE_ORIGIN(p) int n0 = ((p) % tilesN) * GT_BN, m0 = (((p) / tilesN) * GT_CLUSTER + rank) * GT_BM
    if (warp == 8 && lane == 0) { // the loader
        int it = 0;
        for (int p = cid; p < pairs; p += clusters) {
            GT_TILE_ORIGIN(p);
            for (int kt = 0; kt < KT; kt++, it++) {
                int s = it % GT_STAGES;
                mbar_wait(&empty[s], ((it / GT_STAGES) & 1) ^ 1);
                mbar_expect_tx(&full[s], GT_STAGE_BYTES);
                bf16* stage = tiles + s * GT_STAGE_ELEMS;
                tma_load_2d(stage, &mapA, &full[s], kt * GT_BK, m0);
#if GT_CLUSTER > 1
                const int rows = GT_BN / GT_CLUSTER; // this block's share of Bt's box, into every block
                tma_load_2d_mc(stage + GT_A_ELEMS + rank * rows * GT_BK, &mapB, &full[s], kt * GT_BK, n0 + rank * rows,
                               (uint16_t)((1 << GT_CLUSTER) - 1));
#else
                tma_load_2d(stage + GT_A_ELEMS, &mapB, &full[s], kt * GT_BK, n0);
#endif
            }
        }
    } else if (warp == 9 && lane == 0) { // the epilogue's copies: aux into X, D out of Y, a tile ahead
        auto load_aux = [&](int p) {
            if (GT_PROBE & 1) return;
            GT_TILE_ORIGIN(p);
            for (int b = 0; b < GT_BOXES; b++) {
                mbar_expect_tx(&aux_full[b], GT_BM * 64 * 2);
                tma_load_2d(X + b * GT_BM * 64, &mapAux, &aux_full[b], n0 + 64 * b, m0);
            }
        };
        const bool x_out = EPI == 1 && GT_X_OUT; // D is in X, and the scaling warps free Y
        if (EPI == 1 && cid < pairs) load_aux(cid);
        if (!x_out) mbar_arrive(y_free); // Y is free for the first tile
        int i = 0;
        for (int p = cid; p < pairs; p += clusters, i++) {
            GT_TILE_ORIGIN(p);
            mbar_wait(EPI == 1 ? d_ready : out_ready, i & 1); // D is in Y (and X is free)
            for (int b = 0; b < GT_BOXES; b++) tma_store_2d(&mapD, (x_out ? X : Y) + b * GT_BM * 64, n0 + 64 * b, m0);
            asm volatile("cp.async.bulk.commit_group;\n" ::: "memory");
            if (EPI == 1 && !x_out && p + clusters < pairs) load_aux(p + clusters);
            asm volatile("cp.async.bulk.wait_group.read 0;\n" ::: "memory");
            if (x_out && p + clusters < pairs) load_aux(p + clusters); // X is free once D has been read out of it
            if (!x_out) mbar_arrive(y_free);
        }
        asm volatile("cp.async.bulk.wait_group 0;\n" ::: "memory");
    } else if (warp >= 10 && EPI == 1 && !GT_SCALE_IN_MMA) { // the epilogue's arithmetic, while the next tile is multiplied:
        const int NS = 32 * GT_SCALERS, st = threadIdx.x - 320; // D = bf16(Y * GELU'(X)), 8 at a time, 4 chunks per thread for ILP
        bf16* out = GT_X_OUT ? X : Y;
        if (GT_X_OUT) mbar_arrive(y_free); // Y is free for the first tile
        int i = 0;
        for (int p = cid; p < pairs; p += clusters, i++) {
            mbar_wait(out_ready, i & 1);
            for (int b = 0; b < GT_BOXES && GT_PROBE < 2; b++) { // box b: 1024 chunks of 8
                if (!(GT_PROBE & 1)) mbar_wait(&aux_full[b], i & 1);
                for (int c0 = b * 1024 + st; c0 < (b + 1) * 1024; c0 += 4 * NS) {
                    uint4 v[4], u[4];
                    #pragma unroll
                    for (int q = 0; q < 4; q++) {
                        int c = c0 + q * NS;
                        if (1024 % (4 * NS) == 0 || c < (b + 1) * 1024) v[q] = *(uint4*)(Y + 8 * c), u[q] = *(uint4*)(X + 8 * c);
                    }
                    #pragma unroll
                    for (int q = 0; q < 4; q++) {
                        __nv_bfloat162 *pv = (__nv_bfloat162*)&v[q], *pu = (__nv_bfloat162*)&u[q];
                        #pragma unroll
                        for (int e = 0; e < 4; e++) {
                            float2 y = __bfloat1622float2(pv[e]), x = __bfloat1622float2(pu[e]);
                            pv[e] = __floats2bfloat162_rn(y.x * gelu_grad_fast(x.x), y.y * gelu_grad_fast(x.y));
                        }
                    }
                    #pragma unroll
                    for (int q = 0; q < 4; q++) {
                        int c = c0 + q * NS;
                        if (1024 % (4 * NS) == 0 || c < (b + 1) * 1024) *(uint4*)(out + 8 * c) = v[q];
                    }
                }
            }
            asm volatile("fence.proxy.async.shared::cta;\n" ::: "memory"); // the copy engine reads what we wrote
            mbar_arrive(d_ready);
            if (GT_X_OUT) mbar_arrive(y_free); // (Y was only read)
        }
    } else if (warp < 8) { // the multiplying warpgroups
        int wg = warp / 4, it = 0, i = 0;
        float acc[GT_NT][4];
#if GT_SCALE_IN_MMA
        // Y = bf16(Y * GELU'(X)) for the last tile (ti), chunk k of this thread: chunk k 256 + tid of
        // the tile, in box k / 4; CPT chunks per thread, `per` of them after each of the first k-steps
        const int CPT = GT_OUT_ELEMS / 8 / 256, per = (CPT + (KT + 1) / 2 - 1) / ((KT + 1) / 2);
        auto scale_chunk = [&](int k, int ti) {
            if (k % 4 == 0) mbar_wait(&aux_full[k / 4], ti & 1);
            int c = k * 256 + threadIdx.x;
            uint4 v = *(uint4*)(Y + 8 * c), u = *(uint4*)(X + 8 * c);
            __nv_bfloat162 *pv = (__nv_bfloat162*)&v, *pu = (__nv_bfloat162*)&u;
            #pragma unroll
            for (int e = 0; e < 4; e++) {
                float2 y = __bfloat1622float2(pv[e]), x = __bfloat1622float2(pu[e]);
                pv[e] = __floats2bfloat162_rn(y.x * gelu_grad_fast(x.x), y.y * gelu_grad_fast(x.y));
            }
            *(uint4*)(Y + 8 * c) = v;
            if (k == CPT - 1) { // the tile's D is complete (in this thread's share): the copy engine may read it
                asm volatile("fence.proxy.async.shared::cta;\n" ::: "memory");
                mbar_arrive(d_ready);
            }
        };
        static_assert(GT_OUT_ELEMS / 8 % (256 * 4) == 0, "a thread's chunks k .. k + 3 share a box");
#endif
        for (int p = cid; p < pairs; p += clusters, i++) {
            for (int kt = 0; kt < KT; kt++, it++) {
                int s = it % GT_STAGES;
                mbar_wait(&full[s], (it / GT_STAGES) & 1);
                uint64_t da = wg_desc(tiles + s * GT_STAGE_ELEMS + wg * 64 * GT_BK), db = wg_desc(tiles + s * GT_STAGE_ELEMS + GT_A_ELEMS);
                wg_fence();
                #pragma unroll
                for (int kc = 0; kc < 4; kc++) gt_mma(acc, da + 2 * kc, db + 2 * kc, kt > 0 || kc > 0);
                wg_commit();
                asm volatile("wgmma.wait_group.sync.aligned 1;\n" ::: "memory"); // the previous step's products are done:
                if (kt > 0 && lane < GT_CLUSTER) mbar_arrive_cluster(&empty[(it - 1) % GT_STAGES], lane); // its stage can be refilled
#if GT_SCALE_IN_MMA
                if (EPI == 1 && i > 0) // while this step's products run: a slice of the last tile's scaling
                    for (int k = kt * per; k < min((kt + 1) * per, CPT); k++) scale_chunk(k, i - 1);
#endif
            }
            asm volatile("wgmma.wait_group.sync.aligned 0;\n" ::: "memory");
            if (lane < GT_CLUSTER) mbar_arrive_cluster(&empty[(it - 1) % GT_STAGES], lane);
            #pragma unroll
            for (int n = 0; n < GT_NT; n++)
                #pragma unroll
                for (int e = 0; e < 4; e++) asm volatile("" : "+f"(acc[n][e])::"memory");
            // epilogue: lane (g, t) of warp w holds rows 16 (w % 4) + g (+ 8), columns 8 n + 2 t (+ 1);
            // element (r, c) of the tile is in box c / 64 at row r, 16-byte chunk (c / 8 % 8) ^ (r % 8)
            int g = lane / 4, t = lane % 4;
            if (!(GT_PROBE & 4)) mbar_wait(y_free, i & 1);
            #pragma unroll
            for (int half = 0; half < 2; half++) {
                int r = 64 * wg + 16 * (warp % 4) + g + 8 * half;
                #pragma unroll
                for (int n = 0; n < GT_NT; n++)
                    *(__nv_bfloat162*)(Y + (n / 8) * GT_BM * 64 + r * 64 + (((n % 8) ^ (r % 8)) << 3) + 2 * t) =
                        __floats2bfloat162_rn(acc[n][2 * half], acc[n][2 * half + 1]);
            }
            asm volatile("fence.proxy.async.shared::cta;\n" ::: "memory"); // the copy engine may read it next
            mbar_arrive(out_ready);
#if GT_SCALE_IN_MMA
            asm volatile("bar.sync 1, 256;\n" ::: "memory"); // all of Y is written before any thread scales its chunks
#endif
        }
#if GT_SCALE_IN_MMA
        if (EPI == 1 && i > 0)
            for (int k = 0; k < CPT; k++) scale_chunk(k, i - 1); // the last tile: no main loop left to hide it under
#endif
    }
#undef GT_TILE_ORIGIN
    __syncwarp();
    cluster_sync(); // no block leaves while another may still write into it or arrive on its barriers
#else
    __trap(); // (sm_90a only)
#endif
}

/* a tensor map over a row-major (rows, cols) bf16 matrix, read in boxes of box_rows x 64, 128-byte swizzled */
static CUtensorMap tma_map_2d(const bf16* base, int rows, int cols, int box_rows) {
    typedef CUresult (*EncodeFn)(CUtensorMap*, CUtensorMapDataType, cuuint32_t, void*, const cuuint64_t*, const cuuint64_t*, const cuuint32_t*,
                                 const cuuint32_t*, CUtensorMapInterleave, CUtensorMapSwizzle, CUtensorMapL2promotion, CUtensorMapFloatOOBfill);
    static EncodeFn encode = NULL;
    if (!encode) {
        cudaDriverEntryPointQueryResult q;
        cudaCheck(cudaGetDriverEntryPointByVersion("cuTensorMapEncodeTiled", (void**)&encode, 12000, cudaEnableDefault, &q));
        if (q != cudaDriverEntryPointSuccess || !encode) sm_die("the driver has no cuTensorMapEncodeTiled");
    }
    CUtensorMap map;
    cuuint64_t dims[2] = {(cuuint64_t)cols, (cuuint64_t)rows}, strides[1] = {(cuuint64_t)cols * 2};
    cuuint32_t box[2] = {64, (cuuint32_t)box_rows}, estrides[2] = {1, 1};
    CUresult r = encode(&map, CU_TENSOR_MAP_DATA_TYPE_BFLOAT16, 2, (void*)base, dims, strides, box, estrides, CU_TENSOR_MAP_INTERLEAVE_NONE,
                        CU_TENSOR_MAP_SWIZZLE_128B, CU_TENSOR_MAP_L2_PROMOTION_L2_256B, CU_TENSOR_MAP_FLOAT_OOB_FILL_NONE);
    if (r != CUDA_SUCCESS) sm_die("cuTensorMapEncodeTiled failed (%d)", (int)r);
    return map;
}
template <int EPI>
static void gemm_tma(bf16* D, const bf16* A, const bf16* Bt, const bf16* aux, int M, int N, int K) {
    static int grid = 0;
    if (!grid) {
        cudaCheck(cudaFuncSetAttribute(gemm_tma_kernel<EPI>, cudaFuncAttributeMaxDynamicSharedMemorySize, GT_SMEM));
        cudaLaunchConfig_t cfg = {};
        cudaLaunchAttribute attr;
        attr.id = cudaLaunchAttributeClusterDimension;
        attr.val.clusterDim.x = GT_CLUSTER, attr.val.clusterDim.y = 1, attr.val.clusterDim.z = 1;
        cfg.gridDim = dim3(GT_CLUSTER * 1024), cfg.blockDim = dim3(GT_THREADS), cfg.dynamicSmemBytes = GT_SMEM, cfg.attrs = &attr, cfg.numAttrs = 1;
        int clusters = 0;
        cudaCheck(cudaOccupancyMaxActiveClusters(&clusters, gemm_tma_kernel<EPI>, &cfg));
        if (clusters < 1) sm_die("gemm_tma: no cluster fits");
        grid = clusters * GT_CLUSTER;
        printf("(gemm_tma<%d>: %d clusters of %d blocks at once)\n", EPI, clusters, GT_CLUSTER);
    }
    if (M % (GT_BM * GT_CLUSTER) || N % GT_BN || K % GT_BK) sm_die("gemm_tma: sizes must be multiples of the tile");
    // the tensor maps are made once per set of pointers (a trainer would make them when it allocates)
    static const void* key[4] = {NULL, NULL, NULL, NULL};
    static CUtensorMap mA, mB, mD, mX;
    if (key[0] != A || key[1] != Bt || key[2] != D || key[3] != aux) {
        mA = tma_map_2d(A, M, K, GT_BM), mB = tma_map_2d(Bt, N, K, GT_BN / GT_CLUSTER), mD = tma_map_2d(D, M, N, GT_BM);
        mX = tma_map_2d(aux ? aux : D, M, N, GT_BM);
        key[0] = A, key[1] = Bt, key[2] = D, key[3] = aux;
    }
    int pairs = M / (GT_BM * GT_CLUSTER) * (N / GT_BN);
    gemm_tma_kernel<EPI><<<std::min(grid, pairs * GT_CLUSTER), GT_THREADS, GT_SMEM>>>(mA, mB, mD, mX, M, N, K);
    cudaCheck(cudaGetLastError());
}
} // namespace gpu

static void compare(const char* what, const __nv_bfloat16* d0, const __nv_bfloat16* d1, size_t n, int cols) {
    std::vector<__nv_bfloat16> h0(n), h1(n);
    cudaCheck(cudaMemcpy(h0.data(), d0, n * 2, cudaMemcpyDeviceToHost));
    cudaCheck(cudaMemcpy(h1.data(), d1, n * 2, cudaMemcpyDeviceToHost));
    double md = 0, mx = 0;
    size_t worst = 0;
    for (size_t i = 0; i < n; i++) {
        double a = __bfloat162float(h0[i]), b = __bfloat162float(h1[i]);
        if (!(fabs(a - b) <= md)) md = fabs(a - b), worst = i;
        mx = fmax(mx, fabs(a));
    }
    printf("%s: largest difference from cuBLASLt %.3g (%.2e of the largest |D|, at row %zu col %zu: %g vs %g)\n", what, md, md / mx, worst / cols,
           worst % cols, (double)__bfloat162float(h0[worst]), (double)__bfloat162float(h1[worst]));
}

int main() {
    const int M = 16384, C = 768, H = 4 * C; // D (M, H) = dout (M, C) W (C, H), W = Bt^T
    setvbuf(stdout, NULL, _IONBF, 0); // (a hang still shows how far it got)
    cudaDeviceProp p;
    cudaCheck(cudaGetDeviceProperties(&p, 0));
    printf("device: %s, %d SMs; D (%d x %d) = dout (%d x %d) W (%d x %d) [* GELU'(aux)], bf16, fp32 accumulation\n", p.name, p.multiProcessorCount,
           M, H, M, C, C, H);
    printf("kernel: tiles 128 x %d, %d stages, clusters of %d, persistent, the product rounded to bf16, then scaled by GELU'(aux) by two warps under the next tile\n\n", GT_BN, GT_STAGES,
           GT_CLUSTER);
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
    auto lt_plain = [&] {
        if (!gpu::lt_matmul(CUBLAS_OP_N, CUBLAS_OP_N, H, M, C, W, H, dout, C, 0.0f, D0, CUDA_R_16BF, H)) sm_die("cuBLASLt: no kernel");
    };
    auto lt_dgelu = [&] {
        if (!gpu::lt_matmul(CUBLAS_OP_N, CUBLAS_OP_N, H, M, C, W, H, dout, C, 0.0f, D0, CUDA_R_16BF, H, CUBLASLT_EPILOGUE_DGELU, aux))
            sm_die("cuBLASLt has no DGELU kernel here");
    };
    auto ours_plain = [&] { gpu::gemm_tma<0>(D1, dout, Wt, NULL, M, H, C); };
    auto ours_dgelu = [&] { gpu::gemm_tma<1>(D1, dout, Wt, aux, M, H, C); };
    lt_plain();
    cudaCheck(cudaMemset(D1, 0xFF, (size_t)M * H * 2));
    ours_plain();
    cudaCheck(cudaDeviceSynchronize());
    compare("product", D0, D1, (size_t)M * H, H);
    lt_dgelu();
    cudaCheck(cudaMemset(D1, 0xFF, (size_t)M * H * 2));
    ours_dgelu();
    cudaCheck(cudaDeviceSynchronize());
    compare("DGELU  ", D0, D1, (size_t)M * H, H);
    double flop = 2.0 * M * H * C;
    double t[4] = {median_ms(lt_plain, 10, 20), median_ms(ours_plain, 10, 20), median_ms(lt_dgelu, 10, 20), median_ms(ours_dgelu, 10, 20)}; // batches of 20
    const char* names[4] = {"cuBLASLt, no epilogue", "ours, no epilogue", "cuBLASLt DGELU (first kernel)", "ours DGELU"};
    printf("\n| kernel | ms | TFLOP/s |\n|---|---:|---:|\n");
    for (int i = 0; i < 4; i++) printf("| %s | %.4f | %.0f |\n", names[i], t[i], flop / t[i] / 1e9);
    return 0;
}
