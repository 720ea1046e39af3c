/*
 * attn_bwd_atomic.cu -- kernel experiment: the tiled attention backward in one kernel, as
 * FlashAttention-2 does it, against kernels.cuh's deterministic pair of kernels.
 *
 * kernels.cuh (bf16, head size 64): one kernel per key tile accumulates dK = dS^T Q and
 * dV = P^T dO over the query tiles; a second one per query tile accumulates dQ = dS K over the
 * key tiles. The second recomputes S = Q K^T, P and dP = dO V^T (3 of its 4 matmuls) only so
 * that no two blocks add into the same dQ row: the price of deterministic gradients. On an H200
 * at GPT-2-small's shape (B16 T1024, 12 heads of 64) the dK dV kernel takes 3.07 ms per step of
 * 12 layers, the dQ kernel 2.29 ms.
 *
 * Here the key-tile kernel also does dQ. After a warp has formed its dS^T (16 keys x 64 queries,
 * fp32 registers) it writes it, rounded to bf16, into a shared 64 x 64 tile (row = key, column =
 * query); after a barrier warp w multiplies the tile's columns 16w.. 16w + 15 (= rows of dS)
 * with the block's K tile (64 keys x 64, already in shared memory), which gives rows 16w.. of
 * this query tile's dQ from this key tile, and adds them with atomics into an fp32 dQ (B, T, H,
 * 64) cleared before the kernel. 5 matmuls per (key tile, query tile) pair instead of 4 + 4,
 * but every query tile's dQ is summed by as many blocks as there are key tiles before it, in
 * whatever order they arrive: the bits of dQ change from run to run. A last pass rounds dQ to
 * bf16 into dqkv.
 *
 * Prints, per configuration (T 200 and 1024, every position variant, with and without attention
 * dropout), the relative error (max |diff| / max |reference|) of dQ, dK, dV against kernels.cuh,
 * and fails above 2e-2; then ms per layer of both at B16 T1024 H12 C768 and whether two runs of
 * the fused version give the same dQ bits.
 *   make dev/bench/attn_bwd_atomic && dev/bench/attn_bwd_atomic
 */
#include "../../seqmodels.h"
#include "../../kernels.cuh"
#include "bench_util.cuh"
using namespace gpu;

namespace fused {

/* D[b,h,i] = sum_d dout[b,i,h,d] * out[b,i,h,d] and dout16 = dout rounded to bf16, for the fused
 * kernel (kernels.cuh computes D in its dQ kernel): 8 lanes per row of 64, 8 elements each */
__global__ void attention_rowdot_kernel(float* D, bf16* dout16, const float* dout, const bf16* out, int B, int T, int C, int H) {
    long n_rows = (long)B * H * T, row = ((long)blockIdx.x * blockDim.x + threadIdx.x) / 8; // (b, h, i)
    int part = threadIdx.x % 8;
    bool valid = row < n_rows; // every lane stays for the shuffles; the extra ones redo the last row
    if (!valid) row = n_rows - 1;
    int i = (int)(row % T), h = (int)((row / T) % H), b = (int)(row / ((long)T * H));
    long off = ((long)b * T + i) * C + h * FA_D + part * 8;
    float d[8], o[8], s = 0.0f;
    load8(d, dout + off);
    load8(o, out + off);
    #pragma unroll
    for (int k = 0; k < 8; k++) s += d[k] * o[k];
    if (valid) store8(dout16 + off, d);
    for (int k = 4; k >= 1; k >>= 1) s += __shfl_xor_sync(0xffffffff, s, k, 8);
    if (valid && part == 0) D[row] = s;
}

/* blocks per SM the registers are budgeted for (MINB). ptxas (CUDA 13, sm_90a): without dropout
 * 3 blocks -> 168 registers, 4 B spilled; 2 -> 240, no spill. With dropout 3 -> 60 B spilled, 2 ->
 * 254, no spill (the dK dV kernel: 168 with 36 B spilled at 3, 252 at 2). The launcher runs 3
 * without dropout, 2 with; the timing also runs 2 without */
#ifndef FB_MIN_BLOCKS
#define FB_MIN_BLOCKS 3
#endif
/* shared memory bytes: the dK dV kernel's (K, V, Q x2, dO x2, LSE x2, D x2) and the dS^T tile */
/* the dS^T tile is padded (row stride FB_LDS), not swizzled: only this file's ldmatrix reads it */
enum { FB_LDS = FA_D + 8 };
#define FB_SMEM (FA_BWD_SMEM + FA_TILE * fused::FB_LDS * 2)

/* acc (16 x 64) = dS (rows q_r0.. q_r0 + 15 of a query tile, 64 keys) times K (64 keys x 64),
 * with dS read from dsT, the shared tile of dS^T (64 keys x 64 queries, row stride FB_LDS).
 *
 * The A operand of mma m16n8k16 (16 x 16, keys kc*16.. as its columns) is four 8x8 matrices:
 * a[0] rows 0-7 / columns 0-7, a[1] rows 8-15 / columns 0-7, a[2] rows 0-7 / columns 8-15,
 * a[3] rows 8-15 / columns 8-15, and lane (g = lane / 4, t = lane % 4) must hold row g,
 * columns 2t and 2t + 1 of each. In dsT a row is a key, so the 8x8 piece of A (8 queries x 8
 * keys) is stored transposed: 8 rows of dsT (keys) of 8 contiguous queries (16 bytes).
 * ldmatrix .trans reads such a stored piece M and gives lane l column l / 4, rows 2 (l % 4) and
 * +1 of M, i.e. M^T's row g, columns 2t, 2t + 1: exactly the A fragment. So matrix i = lane / 8
 * must be the piece with queries ((i & 1) * 8..) and keys ((i >> 1) * 8..), and lane l gives
 * the address of its row l % 8, which is a key:
 *     key   kc*16 + (lane >> 4) * 8 + (lane & 7)   (the key half: matrices 2, 3)
 *     query q_r0  + ((lane >> 3) & 1) * 8          (the query half: matrices 1, 3)
 * With the 72-element row stride (36 words) the 8 rows of one matrix start at banks 0, 4, .., 28
 * and their 16 bytes cover all 32 banks once: no conflicts. K is a swizzled tile (fa_sw).
 * The B operand is K as in fa_mm_pb: keys are the k dimension, read with ldmatrix .trans. */
__device__ __forceinline__ void mm_ds_k(float (*acc)[4], const bf16* dsT, int q_r0, const bf16* K) {
    int lane = threadIdx.x % 32;
    #pragma unroll
    for (int n = 0; n < 8; n++)
        #pragma unroll
        for (int e = 0; e < 4; e++) acc[n][e] = 0.0f;
    #pragma unroll
    for (int kc = 0; kc < 4; kc++) { // keys kc*16 .. +15
        uint32_t a[4];
        ldmatrix_x4_trans(a, dsT + (kc * 16 + (lane >> 4) * 8 + (lane & 7)) * FB_LDS + q_r0 + ((lane >> 3) & 1) * 8);
        #pragma unroll
        for (int dp = 0; dp < 4; dp++) { // columns dp*16 .. +15 of K = two n tiles
            uint32_t b[4];
            ldmatrix_x4_trans(b, K + fa_sw(kc * 16 + ((lane >> 3) & 1) * 8 + (lane & 7), 2 * dp + (lane >> 4)));
            mma_bf16_16816(acc[2 * dp], a, b[0], b[1]);
            mma_bf16_16816(acc[2 * dp + 1], a, b[2], b[3]);
        }
    }
}

/* dK, dV of one key tile (written to dqkv, as flash_attention_backward_dkdv_kernel) and this key
 * tile's share of dQ / scale of every query tile that sees it (added to dq_acc, (B, T, H, 64)
 * fp32, cleared before). Warp w owns keys k0 + 16w.. + 15 for S^T, dS^T, dK, dV, and queries
 * q0 + 16w.. + 15 for dQ. Everything up to dS^T is the dK dV kernel's, line for line, so dK and
 * dV come out the same. */
template <bool DROP, int MINB>
__global__ void __launch_bounds__(FA_THREADS, MINB) attn_bwd_fused_kernel(bf16* dqkv, float* dq_acc, const bf16* dout,
                                                                                const bf16* qkv, const float* lse, const float* D,
                                                                                int T, int C, int H, int pos, int n_masked,
                                                                                float p_drop, uint64_t site) {
    uint64_t seed = dropout_site_dev(site); // this step's seed of the site (d_dropout_seed)
    extern __shared__ __align__(128) unsigned char smem_raw[];
    bf16 *Ks = (bf16*)fa_smem(smem_raw), *Vs = Ks + FA_TILE_ELEMS, *Qs = Vs + FA_TILE_ELEMS, *dOs = Qs + 2 * FA_TILE_ELEMS; // Q, dO: x2
    float *Ls = (float*)(dOs + 2 * FA_TILE_ELEMS), *Ds = Ls + 2 * FA_TILE;                               // x2 each
    bf16* dSs = (bf16*)(Ds + 2 * FA_TILE); // dS^T (64 keys, 64 queries), row stride FB_LDS
    int kt = blockIdx.x, h = blockIdx.y, b = blockIdx.z, n_qt = ceil_div_dev(T, FA_TILE); // the first key tiles have the most work
    int warp = threadIdx.x / 32, lane = threadIdx.x % 32, k0 = kt * FA_TILE, j0 = k0 + warp * 16;
    long stride = 3L * C, row0 = ((long)b * H + h) * T;
    const bf16* base = qkv + (long)b * T * stride + h * FA_D;
    const bf16* dbase = dout + (long)b * T * C + h * FA_D;
    float* dqbase = dq_acc + (long)b * T * C + h * FA_D; // query i's row: dqbase + i C
    int qt_last = n_qt - 1; // a windowed head's key is seen only by queries up to k0 + 63 + h
    if (pos == POS_HARD_ALIBI && h < n_masked) qt_last = min(qt_last, (k0 + FA_TILE - 1 + h) / FA_TILE);
    fa_load_tile(Ks, base + C, stride, k0, T);
    fa_load_tile(Vs, base + 2 * C, stride, k0, T);
    fa_load_tile(Qs, base, stride, kt * FA_TILE, T);
    fa_load_tile(dOs, dbase, C, kt * FA_TILE, T);
    fa_load_vec(Ls, lse + row0, kt * FA_TILE, T);
    fa_load_vec(Ds, D + row0, kt * FA_TILE, T);
    cp_async_commit();
    float dK[8][4], dV[8][4], s[8][4], dp[8][4];
    #pragma unroll
    for (int n = 0; n < 8; n++)
        #pragma unroll
        for (int e = 0; e < 4; e++) dK[n][e] = dV[n][e] = 0.0f;
    float scale = rsqrtf((float)FA_D), sc = scale * LOG2E_F, sl = fa_slope(pos, h, H);
    for (int qt = kt; qt <= qt_last; qt++) {
        int cur = (qt - kt) & 1, q0 = qt * FA_TILE;
        if (qt < qt_last) {
            int nq = (qt + 1) * FA_TILE;
            fa_load_tile(Qs + (cur ^ 1) * FA_TILE_ELEMS, base, stride, nq, T);
            fa_load_tile(dOs + (cur ^ 1) * FA_TILE_ELEMS, dbase, C, nq, T);
            fa_load_vec(Ls + (cur ^ 1) * FA_TILE, lse + row0, nq, T);
            fa_load_vec(Ds + (cur ^ 1) * FA_TILE, D + row0, nq, T);
        }
        cp_async_commit();
        fa_tiles_ready<1>(); // (also: every warp has read the previous tile's dS^T before it is overwritten)
        const bf16 *Q = Qs + cur * FA_TILE_ELEMS, *dO = dOs + cur * FA_TILE_ELEMS;
        const float *Lq = Ls + cur * FA_TILE, *Dq = Ds + cur * FA_TILE;
        fa_mm_abt2(s, Ks, Q, dp, Vs, dO); // S^T (16 keys, 64 queries) = K Q^T, dP^T = V dO^T
        fa_scores<true>(s, sl, q0, k0, j0, q0, T, pos, n_masked, h); // q.k units, -inf where masked
        #pragma unroll
        for (int n = 0; n < 8; n++)
            #pragma unroll
            for (int e = 0; e < 4; e++) s[n][e] = ex2_approx(fmaf(s[n][e], sc, -Lq[fa_col(lane, n, e)])); // P^T
        #pragma unroll
        for (int n = 0; n < 8; n++)
            #pragma unroll
            for (int e = 0; e < 4; e++) { // s holds P^T now
                int c = fa_col(lane, n, e);
                float mult = DROP ? attn_drop_mult(p_drop, seed, fa_drop_idx(b, h, H, T, q0 + c, j0 + fa_row(lane, e))) : 1.0f;
                dp[n][e] = s[n][e] * (dp[n][e] * mult - Dq[c]); // dS^T
                s[n][e] *= mult;                                 // P^T through the dropout mask, for dV
            }
        fa_mm_pb(dV, s, dO); // dV += P^T dO
        // dS^T into shared memory, rounded to bf16 as fa_mm_pb rounds it for dK (the dQ kernel of
        // kernels.cuh rounds the same values): lane (g, t) writes rows g, g + 8 of its warp's 16
        // keys, columns 8n + 2t, +1. Words g*36 + 4n + t: banks 4g + t + 4n (mod 32), distinct
        // over the warp
        #pragma unroll
        for (int n = 0; n < 8; n++)
            #pragma unroll
            for (int u = 0; u < 2; u++)
                *(uint32_t*)&dSs[(warp * 16 + (lane >> 2) + 8 * u) * FB_LDS + fa_col(lane, n, 2 * u)] = pack_bf16(dp[n][2 * u], dp[n][2 * u + 1]);
        fa_mm_pb(dK, dp, Q); // dK += dS^T Q
        __syncthreads();     // the whole dS^T tile is in
        { // dQ (queries q0 + 16w.. + 15) += dS K over this block's 64 keys; added across blocks
            float dq[8][4];
            mm_ds_k(dq, dSs, warp * 16, Ks);
            #pragma unroll
            for (int n = 0; n < 8; n++)
                #pragma unroll
                for (int u = 0; u < 2; u++) { // elements 2u, 2u + 1: one row, two neighbouring columns
                    int i = q0 + warp * 16 + (lane >> 2) + 8 * u;
                    if (i < T) // rows past T are zeros; they have no place in dq_acc
                        atomicAdd((float2*)&dqbase[(long)i * C + fa_col(lane, n, 2 * u)], make_float2(dq[n][2 * u], dq[n][2 * u + 1])); // sm_90: one red.v2.f32
                }
        }
        __syncthreads(); // every warp is done with this Q, dO buffer (and dS^T) before the next prefetch
    }
    // dqkv[k part] = scale * dK, dqkv[v part] = dV, as the dK dV kernel
    bf16* dst = dqkv + (long)b * T * stride + h * FA_D;
    fa_store_tile(dst + C, stride, j0, T, dK, scale);
    fa_store_tile(dst + 2 * C, stride, j0, T, dV, 1.0f);
}

/* dqkv[q part] = scale * dq_acc in bf16: 8 elements per thread. The softmax scale goes on the
 * finished sum, as the dQ kernel of kernels.cuh puts it on its register sum (2^-3 here: exact
 * either way) */
__global__ void dq_to_bf16_kernel(bf16* dqkv, const float* dq_acc, long n, int C, float scale) {
    long e = ((long)blockIdx.x * blockDim.x + threadIdx.x) * 8; // element of (B T, C)
    if (e >= n) return;
    long row = e / C;
    int c = (int)(e % C);
    float v[8];
    load8(v, dq_acc + e);
    #pragma unroll
    for (int k = 0; k < 8; k++) v[k] *= scale;
    store8(dqkv + row * 3 * C + c, v);
}

/* the same contract as gpu::attention_backward (bf16, head size 64), with its scratch made
 * explicit: dout16 (B, T, C) bf16, Dbuf (B, H, T), dq_acc (B, T, C) fp32 */
static void attention_backward(bf16* dqkv, const float* dout, const bf16* out, const bf16* qkv, const float* lse, float* Dbuf,
                               bf16* dout16, float* dq_acc, int B, int T, int C, int H, int pos, int n_masked, float p_drop,
                               uint64_t site) {
    static bool configured = false;
    if (!configured) {
        cudaCheck(cudaFuncSetAttribute(attn_bwd_fused_kernel<false, FB_MIN_BLOCKS>, cudaFuncAttributeMaxDynamicSharedMemorySize, FB_SMEM));
        cudaCheck(cudaFuncSetAttribute(attn_bwd_fused_kernel<false, 2>, cudaFuncAttributeMaxDynamicSharedMemorySize, FB_SMEM));
        cudaCheck(cudaFuncSetAttribute(attn_bwd_fused_kernel<true, 2>, cudaFuncAttributeMaxDynamicSharedMemorySize, FB_SMEM));
        configured = true;
    }
    long n = (long)B * T * C;
    cudaCheck(cudaMemsetAsync(dq_acc, 0, n * sizeof(float)));
    attention_rowdot_kernel<<<ceil_div((long)B * H * T * 8, 256), 256>>>(Dbuf, dout16, dout, out, B, T, C, H);
    cudaCheck(cudaGetLastError());
    dim3 grid(ceil_div(T, FA_TILE), H, B);
    (p_drop > 0 ? attn_bwd_fused_kernel<true, 2> : attn_bwd_fused_kernel<false, FB_MIN_BLOCKS>)<<<grid, FA_THREADS, FB_SMEM>>>(
        dqkv, dq_acc, dout16, qkv, lse, Dbuf, T, C, H, pos, n_masked, p_drop, site);
    cudaCheck(cudaGetLastError());
    dq_to_bf16_kernel<<<ceil_div(n / 8, 256), 256>>>(dqkv, dq_acc, n, C, rsqrtf((float)FA_D));
    cudaCheck(cudaGetLastError());
}

} // namespace fused

/* ---------------------------------------------------------------------------------------------- */

static std::vector<float> to_host_f32(const bf16* d, size_t n) {
    std::vector<bf16> h(n);
    cudaCheck(cudaMemcpy(h.data(), d, n * 2, cudaMemcpyDeviceToHost));
    std::vector<float> f(n);
    for (size_t i = 0; i < n; i++) f[i] = __bfloat162float(h[i]);
    return f;
}
/* max |got - want| / max |want| over part `part` (0 q, 1 k, 2 v) of two (B T, 3C) tensors; also
 * counts the elements whose bits differ */
static double rel_err(const std::vector<float>& got, const std::vector<float>& want, long BT, int C, int part, long* n_diff) {
    double num = 0, den = 1e-12;
    *n_diff = 0;
    for (long r = 0; r < BT; r++)
        for (int c = 0; c < C; c++) {
            long i = r * 3 * C + part * C + c;
            double d = fabs((double)got[i] - want[i]);
            num = isfinite(d) ? fmax(num, d) : INFINITY; // fmax would drop a NaN (an element never written)
            den = fmax(den, fabs((double)want[i]));
            *n_diff += memcmp(&got[i], &want[i], 4) != 0;
        }
    return num / den;
}

/* the buffers of one shape; inputs random (qkv, dout uniform in +-1), out and lse from the bf16
 * forward of kernels.cuh */
struct Case {
    int B, T, C, H;
    bf16 *qkv, *out, *dqkv_ref, *dqkv, *dout16;
    float *dout, *lse, *Dbuf, *dq_acc;
};
static Case make_case(int B, int T, int C, int H, uint64_t* rng) {
    Case k = {B, T, C, H};
    size_t n3 = (size_t)B * T * 3 * C, n1 = (size_t)B * T * C, nr = (size_t)B * H * T;
    float* qkv32 = dev_rand(n3, 1, 0, rng);
    cudaCheck(cudaMalloc(&k.qkv, n3 * 2));
    to_bf16_kernel<<<ceil_div((n3 + 3) / 4, 256), 256>>>(k.qkv, qkv32, n3);
    cudaCheck(cudaGetLastError());
    cudaCheck(cudaFree(qkv32));
    k.dout = dev_rand(n1, 1, 0, rng);
    cudaCheck(cudaMalloc(&k.out, n1 * 2)); cudaCheck(cudaMalloc(&k.dout16, n1 * 2));
    to_bf16_kernel<<<ceil_div((n1 + 3) / 4, 256), 256>>>(k.dout16, k.dout, n1); // both versions see the same bf16 dO
    cudaCheck(cudaGetLastError());
    cudaCheck(cudaMalloc(&k.dqkv_ref, n3 * 2)); cudaCheck(cudaMalloc(&k.dqkv, n3 * 2));
    cudaCheck(cudaMalloc(&k.lse, nr * 4)); cudaCheck(cudaMalloc(&k.Dbuf, nr * 4)); cudaCheck(cudaMalloc(&k.dq_acc, n1 * 4));
    return k;
}
static void free_case(Case& k) {
    void* p[] = {k.qkv, k.out, k.dqkv_ref, k.dqkv, k.dout16, k.dout, k.lse, k.Dbuf, k.dq_acc};
    for (void* q : p) cudaCheck(cudaFree(q));
}
static void run_ref(Case& k, int pos, int n_masked, float p_drop, uint64_t site) {
    gpu::attention_backward(k.dqkv_ref, k.dout16, k.out, k.qkv, k.lse, k.Dbuf, k.B, k.T, k.C, k.H, pos, n_masked, p_drop, site);
}
static void run_fused(Case& k, int pos, int n_masked, float p_drop, uint64_t site) {
    fused::attention_backward(k.dqkv, k.dout, k.out, k.qkv, k.lse, k.Dbuf, k.dout16, k.dq_acc, k.B, k.T, k.C, k.H, pos, n_masked,
                              p_drop, site);
}

int main(int argc, char** argv) {
    (void)argc; (void)argv;
    uint64_t rng = 1234, site = 7;
    set_dropout_seed(31337);
    int n_fail = 0;
    const double tol = 2e-2;
    // 1. accuracy against kernels.cuh: 2 sequences, 4 heads of 64 (3 of them windowed under
    // Hard-ALiBi, as test_gpu.cu's n_masked = H - 1)
    printf("accuracy: fused vs kernels.cuh (rel err = max |diff| / max |ref|; bits: elements that differ)\n");
    for (int T : {200, 1024}) {
        int B = 2, H = 4, C = H * FA_D, n_masked = H - 1;
        Case k = make_case(B, T, C, H, &rng);
        size_t n3 = (size_t)B * T * 3 * C;
        for (int pos = 0; pos < POS_COUNT; pos++)
            for (float p_drop : {0.0f, 0.1f}) {
                gpu::attention_forward(k.out, k.lse, k.qkv, B, T, C, H, pos, n_masked, p_drop, site);
                cudaCheck(cudaMemset(k.dqkv_ref, 0xff, n3 * 2)); // NaN: an element nobody writes shows
                cudaCheck(cudaMemset(k.dqkv, 0xff, n3 * 2));
                run_ref(k, pos, n_masked, p_drop, site);
                run_fused(k, pos, n_masked, p_drop, site);
                cudaCheck(cudaDeviceSynchronize());
                std::vector<float> got = to_host_f32(k.dqkv, n3), want = to_host_f32(k.dqkv_ref, n3);
                long nd[3];
                double e[3];
                for (int part = 0; part < 3; part++) e[part] = rel_err(got, want, (long)B * T, C, part, &nd[part]);
                bool ok = e[0] <= tol && e[1] <= tol && e[2] <= tol;
                n_fail += !ok;
                printf("%-4s T %4d %-10s p %.1f   dQ %.2e (bits %ld)  dK %.2e (bits %ld)  dV %.2e (bits %ld)  of %ld each\n",
                       ok ? "ok" : "FAIL", T, POS_NAMES[pos], p_drop, e[0], nd[0], e[1], nd[1], e[2], nd[2], (long)B * T * C);
            }
        free_case(k);
    }
    // 2. speed at GPT-2 small's shape, one layer, no dropout, causal
    {
        int B = 16, T = 1024, H = 12, C = 768, pos = POS_LEARNED, n_masked = 0;
        Case k = make_case(B, T, C, H, &rng);
        size_t n3 = (size_t)B * T * 3 * C, n1 = (size_t)B * T * C;
        gpu::attention_forward(k.out, k.lse, k.qkv, B, T, C, H, pos, n_masked, 0.0f, site);
        double ms_ref = median_ms([&] { run_ref(k, pos, n_masked, 0.0f, site); });
        double ms_fused = median_ms([&] { run_fused(k, pos, n_masked, 0.0f, site); });
        // the parts: kernels.cuh's two kernels alone, the fused kernel alone (k.dout16 and k.Dbuf
        // hold the rowdot's results from the runs above)
        dim3 grid(ceil_div(T, FA_TILE), H, B);
        cudaCheck(cudaFuncSetAttribute(flash_attention_backward_dkdv_kernel<false>, cudaFuncAttributeMaxDynamicSharedMemorySize, FA_BWD_SMEM));
        cudaCheck(cudaFuncSetAttribute(flash_attention_backward_dq_kernel<false>, cudaFuncAttributeMaxDynamicSharedMemorySize, FA_BWD_SMEM));
        double ms_dkdv = median_ms([&] {
            flash_attention_backward_dkdv_kernel<false><<<grid, FA_THREADS, FA_BWD_SMEM>>>(k.dqkv_ref, k.dout16, k.qkv, k.lse, k.Dbuf, T, C, H,
                                                                                            pos, n_masked, 0.0f, site);
        });
        double ms_dq = median_ms([&] {
            flash_attention_backward_dq_kernel<false><<<grid, FA_THREADS, FA_BWD_SMEM>>>(k.dqkv_ref, k.Dbuf, k.dout16, k.out, k.qkv, k.lse, T, C, H,
                                                                                          pos, n_masked, 0.0f, site);
        });
        double ms_kernel = median_ms([&] { // accumulates into dq_acc without clearing: the time is the same
            fused::attn_bwd_fused_kernel<false, FB_MIN_BLOCKS><<<grid, FA_THREADS, FB_SMEM>>>(k.dqkv, k.dq_acc, k.dout16, k.qkv, k.lse,
                                                                                                k.Dbuf, T, C, H, pos, n_masked, 0.0f, site);
        });
        double ms_kernel2 = median_ms([&] { // the same with registers for 2 blocks per SM (no spill)
            fused::attn_bwd_fused_kernel<false, 2><<<grid, FA_THREADS, FB_SMEM>>>(k.dqkv, k.dq_acc, k.dout16, k.qkv, k.lse, k.Dbuf, T, C,
                                                                                    H, pos, n_masked, 0.0f, site);
        });
        cudaCheck(cudaGetLastError());
        printf("\nspeed at B %d T %d H %d C %d (causal, no dropout), ms per layer, median of 20:\n", B, T, H, C);
        printf("  kernels.cuh attention_backward  %.4f   (dK dV kernel %.4f, dQ kernel %.4f, + rowdot)\n", ms_ref, ms_dkdv, ms_dq);
        printf("  fused (atomic dQ)               %.4f   (fused kernel %.4f at %d blocks/SM, %.4f at 2; + memset, rowdot, dQ to bf16)\n",
               ms_fused, ms_kernel, FB_MIN_BLOCKS, ms_kernel2);
        printf("  speedup %.3fx; per step of 12 layers %.2f -> %.2f ms\n", ms_ref / ms_fused, 12 * ms_ref, 12 * ms_fused);
        // 3. determinism: two runs of each, same inputs
        std::vector<bf16> r1(n3), r2(n3);
        std::vector<float> a1(n1), a2(n1);
        run_fused(k, pos, n_masked, 0.0f, site);
        cudaCheck(cudaMemcpy(r1.data(), k.dqkv, n3 * 2, cudaMemcpyDeviceToHost));
        cudaCheck(cudaMemcpy(a1.data(), k.dq_acc, n1 * 4, cudaMemcpyDeviceToHost));
        run_fused(k, pos, n_masked, 0.0f, site);
        cudaCheck(cudaMemcpy(r2.data(), k.dqkv, n3 * 2, cudaMemcpyDeviceToHost));
        cudaCheck(cudaMemcpy(a2.data(), k.dq_acc, n1 * 4, cudaMemcpyDeviceToHost));
        long d16 = 0, d32 = 0;
        for (size_t i = 0; i < n3; i++) d16 += memcmp(&r1[i], &r2[i], 2) != 0;
        for (size_t i = 0; i < n1; i++) d32 += memcmp(&a1[i], &a2[i], 4) != 0;
        printf("\nrun twice, same bits? fused dQ fp32 sum: %s (%ld of %zu differ); dqkv bf16: %s (%ld differ)\n", d32 ? "no" : "yes", d32,
               n1, d16 ? "no" : "yes", d16);
        run_ref(k, pos, n_masked, 0.0f, site);
        cudaCheck(cudaMemcpy(r1.data(), k.dqkv_ref, n3 * 2, cudaMemcpyDeviceToHost));
        run_ref(k, pos, n_masked, 0.0f, site);
        cudaCheck(cudaMemcpy(r2.data(), k.dqkv_ref, n3 * 2, cudaMemcpyDeviceToHost));
        d16 = 0;
        for (size_t i = 0; i < n3; i++) d16 += memcmp(&r1[i], &r2[i], 2) != 0;
        printf("run twice, same bits? kernels.cuh dqkv: %s (%ld differ)\n", d16 ? "no" : "yes", d16);
        free_case(k);
    }
    printf("\n%s: %d configuration(s) above rel err %.0e\n", n_fail ? "FAIL" : "OK", n_fail, tol);
    return n_fail ? 1 : 0;
}
