/*
 * attn_fwd_cmp.cu -- kernel experiment: the flash attention forward of kernels.cuh (32 query rows
 * per warp, 128 per block) against the one it replaced (16 rows per warp, 64 per block; copied
 * below with its one-tile helpers, in namespace gpu::old). Every row sees the same key tiles in
 * the same order with the same arithmetic (a tile a warp skips is one that was wholly masked for
 * its rows, a no-op), so out and LSE must agree bit for bit: T from 1 to 1024 (tile edges), every
 * position variant, with and without dropout. Then ms and TFLOP/s of both at B16 T1024, 12 heads
 * of 64 (config b's shape).
 *   make dev/bench/attn_fwd_cmp && dev/bench/attn_fwd_cmp
 */
#include "../../seqmodels.h"
#include "../../kernels.cuh"
namespace gpu { namespace old { // the forward before the two-tile rewrite
/* acc (16 x 64: 8 tiles of 16x8) = a (16 x 64) times tile^T, tile a shared (64 rows, 64) matrix:
 * S = Q K^T with tile = K, dP = dO V^T with tile = V */
__device__ __forceinline__ void fa_mm_abt(float (*acc)[4], const uint32_t (*a)[4], const bf16* tile) {
    int lane = threadIdx.x % 32;
    #pragma unroll
    for (int n = 0; n < 8; n++)
        #pragma unroll
        for (int e = 0; e < 4; e++) acc[n][e] = 0.0f;
    #pragma unroll
    for (int kc = 0; kc < 4; kc++)
        #pragma unroll
        for (int np = 0; np < 4; np++) { // rows np*16 .. +15 of the tile = two n tiles
            uint32_t b[4];
            ldmatrix_x4(b, tile + (np * 16 + (lane >> 4) * 8 + (lane & 7)) * FA_LDB + kc * 16 + ((lane >> 3) & 1) * 8);
            mma_bf16_16816(acc[2 * np], a[kc], b[0], b[1]);
            mma_bf16_16816(acc[2 * np + 1], a[kc], b[2], b[3]);
        }
}
/* acc (16 x 64) += p (16 x 64, fp32 accumulator layout, rounded to bf16 here) times tile, a
 * shared (64, 64) matrix: O += P V, dV += P^T dO, dK += dS^T Q, dQ += dS K */
__device__ __forceinline__ void fa_mm_pb(float (*acc)[4], const float (*p)[4], const bf16* tile) {
    int lane = threadIdx.x % 32;
    #pragma unroll
    for (int kc = 0; kc < 4; kc++) { // 16 columns of p = the accumulator tiles 2kc, 2kc + 1
        uint32_t a[4] = {pack_bf16(p[2 * kc][0], p[2 * kc][1]), pack_bf16(p[2 * kc][2], p[2 * kc][3]),
                         pack_bf16(p[2 * kc + 1][0], p[2 * kc + 1][1]), pack_bf16(p[2 * kc + 1][2], p[2 * kc + 1][3])};
        #pragma unroll
        for (int dp = 0; dp < 4; dp++) {
            uint32_t b[4];
            ldmatrix_x4_trans(b, tile + (kc * 16 + ((lane >> 3) & 1) * 8 + (lane & 7)) * FA_LDB + dp * 16 + (lane >> 4) * 8);
            mma_bf16_16816(acc[2 * dp], a, b[0], b[1]);
            mma_bf16_16816(acc[2 * dp + 1], a, b[2], b[3]);
        }
    }
}
/* a tile of queries q0.. and keys k0.. below the diagonal, inside T, with no window: every key
 * is visible and the per-element mask can be skipped */
__device__ inline bool fa_tile_full(int q0, int k0, int T, int pos, int n_masked, int h) {
    return k0 < q0 && q0 + FA_TILE <= T && !(pos == POS_HARD_ALIBI && h < n_masked);
}
/* The scores of a 16 x 64 accumulator tile in log2 units: s sc + sl (j - i) where query i sees key
 * j, else -inf (so that 2^(s - anything) = 0). Element coordinates: rows from r0, columns from c0;
 * KEY_ROWS: the rows are keys and the columns queries (the dK dV kernel's S^T). q0, k0: the query
 * and key tiles, for the short path of tiles with no mask and no bias. */
template <bool KEY_ROWS>
__device__ __forceinline__ void fa_scores(float (*s)[4], float sc, float sl, int q0, int k0, int r0, int c0, int T, int pos,
                                          int n_masked, int h) {
    int lane = threadIdx.x % 32;
    if (sl == 0.0f && fa_tile_full(q0, k0, T, pos, n_masked, h)) { // most tiles
        #pragma unroll
        for (int n = 0; n < 8; n++)
            #pragma unroll
            for (int e = 0; e < 4; e++) s[n][e] *= sc;
        return;
    }
    #pragma unroll
    for (int n = 0; n < 8; n++)
        #pragma unroll
        for (int e = 0; e < 4; e++) {
            int r = r0 + fa_row(lane, e), c = c0 + fa_col(lane, n, e), i = KEY_ROWS ? c : r, j = KEY_ROWS ? r : c;
            s[n][e] = fa_visible(i, j, T, pos, n_masked, h) ? s[n][e] * sc + sl * (j - i) : -INFINITY;
        }
}
template <bool DROP>
__global__ void __launch_bounds__(FA_THREADS) old_forward_kernel(bf16* out, float* lse, const bf16* qkv, int T, int C,
                                                                             int H, int pos, int n_masked, float p_drop,
                                                                             uint64_t site) {
    uint64_t seed = dropout_site_dev(site); // this step's seed of the site (d_dropout_seed)
    extern __shared__ __align__(128) unsigned char smem[];
    bf16 *Qs = (bf16*)smem, *Ks = Qs + FA_TILE_ELEMS, *Vs = Ks + 2 * FA_TILE_ELEMS; // K, V: two buffers each
    int qt = gridDim.x - 1 - blockIdx.x, h = blockIdx.y, b = blockIdx.z; // the longest rows first
    int warp = threadIdx.x / 32, lane = threadIdx.x % 32, q0 = qt * FA_TILE, r0 = q0 + warp * 16;
    long stride = 3L * C;
    const bf16* base = qkv + (long)b * T * stride + h * FA_D;
    int kt0 = attn_first_key(pos, n_masked, h, q0) / FA_TILE;
    fa_load_tile(Qs, base, stride, q0, T);
    fa_load_tile(Ks, base + C, stride, kt0 * FA_TILE, T);
    fa_load_tile(Vs, base + 2 * C, stride, kt0 * FA_TILE, T);
    cp_async_commit();
    uint32_t qf[4][4]; // this warp's 16 query rows as A fragments, for every key tile
    float o[8][4], s[8][4];
    #pragma unroll
    for (int n = 0; n < 8; n++)
        #pragma unroll
        for (int e = 0; e < 4; e++) o[n][e] = 0.0f;
    float sc = rsqrtf((float)FA_D) * LOG2E_F, sl = fa_slope(pos, h, H) * LOG2E_F; // log2 units
    float m[2] = {-INFINITY, -INFINITY}, l[2] = {0.0f, 0.0f}; // rows g and g + 8 of this lane
    for (int kt = kt0; kt <= qt; kt++) {
        int cur = (kt - kt0) & 1;
        if (kt < qt) { // the next tile into the other buffers while this one is multiplied
            fa_load_tile(Ks + (cur ^ 1) * FA_TILE_ELEMS, base + C, stride, (kt + 1) * FA_TILE, T);
            fa_load_tile(Vs + (cur ^ 1) * FA_TILE_ELEMS, base + 2 * C, stride, (kt + 1) * FA_TILE, T);
        }
        cp_async_commit();
        cp_async_wait<1>(); // everything but the newest group: this tile (and Q) are in
        __syncthreads();
        if (kt == kt0) fa_frag_a(qf, Qs, warp * 16);
        fa_mm_abt(s, qf, Ks + cur * FA_TILE_ELEMS); // S (16, 64) = Q K^T
        fa_scores<false>(s, sc, sl, q0, kt * FA_TILE, r0, kt * FA_TILE, T, pos, n_masked, h);
        float mx[2] = {-INFINITY, -INFINITY};
        #pragma unroll
        for (int n = 0; n < 8; n++)
            #pragma unroll
            for (int e = 0; e < 4; e++) mx[e >> 1] = fmaxf(mx[e >> 1], s[n][e]);
        float corr[2], m_use[2], sum[2] = {0.0f, 0.0f};
        #pragma unroll
        for (int u = 0; u < 2; u++) {
            float m_new = fmaxf(m[u], quad_max(mx[u]));
            m_use[u] = m_new == -INFINITY ? 0.0f : m_new; // a row with nothing visible yet: exp2(-inf) = 0
            corr[u] = ex2_approx(m[u] - m_use[u]);
            m[u] = m_new;
        }
        #pragma unroll
        for (int n = 0; n < 8; n++)
            #pragma unroll
            for (int e = 0; e < 4; e++) {
                int u = e >> 1;
                float p = ex2_approx(s[n][e] - m_use[u]);
                sum[u] += p; // l sums the undropped probabilities, P V takes the dropped ones
                if (DROP)
                    p *= attn_drop_mult(p_drop, seed, fa_drop_idx(b, h, H, T, r0 + fa_row(lane, e), kt * FA_TILE + fa_col(lane, n, e)));
                s[n][e] = p;
                o[n][e] *= corr[u];
            }
        #pragma unroll
        for (int u = 0; u < 2; u++) l[u] = l[u] * corr[u] + quad_sum(sum[u]);
        fa_mm_pb(o, s, Vs + cur * FA_TILE_ELEMS); // O (16, 64) += P V
        __syncthreads(); // every warp is done with this buffer before the next prefetch refills it
    }
    #pragma unroll
    for (int n = 0; n < 8; n++)
        #pragma unroll
        for (int u = 0; u < 2; u++) {
            int i = r0 + (lane >> 2) + 8 * u;
            if (i < T)
                *(__nv_bfloat162*)&out[((long)b * T + i) * C + h * FA_D + fa_col(lane, n, 2 * u)] =
                    __floats2bfloat162_rn(o[n][2 * u] / l[u], o[n][2 * u + 1] / l[u]);
        }
    if ((lane & 3) == 0)
        #pragma unroll
        for (int u = 0; u < 2; u++) {
            int i = r0 + (lane >> 2) + 8 * u;
            if (i < T) lse[((long)b * H + h) * T + i] = m[u] + log2f(l[u]); // log2 units: what the backward wants
        }
}


} } // namespace gpu::old
using namespace gpu;
static void run(bool use_old, bf16* out, float* lse, const bf16* qkv, int B, int T, int C, int H, int pos, int nm, float pd, uint64_t site) {
    if (use_old) {
        static bool cfg = false;
        if (!cfg) { for (int d = 0; d < 2; d++) cudaCheck(cudaFuncSetAttribute(d ? old::old_forward_kernel<true> : old::old_forward_kernel<false>, cudaFuncAttributeMaxDynamicSharedMemorySize, 5 * FA_TILE_ELEMS * 2)); cfg = true; }
        dim3 grid(ceil_div(T, FA_TILE), H, B);
        (pd > 0 ? old::old_forward_kernel<true> : old::old_forward_kernel<false>)<<<grid, FA_THREADS, 5 * FA_TILE_ELEMS * 2>>>(out, lse, qkv, T, C, H, pos, nm, pd, site);
        cudaCheck(cudaGetLastError());
    } else attention_forward(out, lse, qkv, B, T, C, H, pos, nm, pd, site);
}
int main() {
    set_dropout_seed(31337);
    int fails = 0;
    int Ts[] = {1, 7, 64, 65, 127, 128, 129, 200, 255, 257, 300, 1024};
    for (int T : Ts) for (int pos = 0; pos < POS_COUNT; pos++) for (int drop = 0; drop < 2; drop++) {
        int B = 2, H = 4, C = H * 64, nm = H - 1;
        size_t n3 = (size_t)B * T * 3 * C, n1 = (size_t)B * T * C, nl = (size_t)B * H * T;
        bf16* h = (bf16*)malloc(n3 * 2);
        uint64_t r = 12345 + T * 31 + pos;
        for (size_t i = 0; i < n3; i++) { r = r * 6364136223846793005ull + 1442695040888963407ull; h[i] = __float2bfloat16(3.0f * ((float)(r >> 40) / (1 << 24) - 0.5f)); }
        bf16 *qkv, *o1, *o2; float *l1, *l2;
        cudaCheck(cudaMalloc(&qkv, n3 * 2)); cudaCheck(cudaMemcpy(qkv, h, n3 * 2, cudaMemcpyHostToDevice));
        cudaCheck(cudaMalloc(&o1, n1 * 2)); cudaCheck(cudaMalloc(&o2, n1 * 2)); cudaCheck(cudaMalloc(&l1, nl * 4)); cudaCheck(cudaMalloc(&l2, nl * 4));
        cudaCheck(cudaMemset(o1, 0x7f, n1 * 2)); cudaCheck(cudaMemset(o2, 0x7f, n1 * 2)); cudaCheck(cudaMemset(l1, 0x7f, nl * 4)); cudaCheck(cudaMemset(l2, 0x7f, nl * 4));
        run(true, o1, l1, qkv, B, T, C, H, pos, nm, drop ? 0.2f : 0, 7);
        run(false, o2, l2, qkv, B, T, C, H, pos, nm, drop ? 0.2f : 0, 7);
        cudaCheck(cudaDeviceSynchronize());
        unsigned short *a = (unsigned short*)malloc(n1 * 2), *b = (unsigned short*)malloc(n1 * 2);
        unsigned *la = (unsigned*)malloc(nl * 4), *lb = (unsigned*)malloc(nl * 4);
        cudaCheck(cudaMemcpy(a, o1, n1 * 2, cudaMemcpyDeviceToHost)); cudaCheck(cudaMemcpy(b, o2, n1 * 2, cudaMemcpyDeviceToHost));
        cudaCheck(cudaMemcpy(la, l1, nl * 4, cudaMemcpyDeviceToHost)); cudaCheck(cudaMemcpy(lb, l2, nl * 4, cudaMemcpyDeviceToHost));
        long dout = 0, dl = 0, nan = 0;
        for (size_t i = 0; i < n1; i++) { dout += a[i] != b[i]; nan += (b[i] & 0x7f80) == 0x7f80; }
        for (size_t i = 0; i < nl; i++) dl += la[i] != lb[i];
        printf("T %4d pos %d drop %d: out diffs %ld, lse diffs %ld, nonfinite out %ld %s\n", T, pos, drop, dout, dl, nan, dout || dl || nan ? "NOT OK" : "ok");
        fails += dout || dl || nan;
        cudaFree(qkv); cudaFree(o1); cudaFree(o2); cudaFree(l1); cudaFree(l2); free(h); free(a); free(b); free(la); free(lb);
    }
    printf("%d failing configs\n", fails);
    // timing: GPT (b) shape, B 16, T 1024, 12 heads of 64
    for (int pos = 0; pos < POS_COUNT; pos += POS_COUNT - 1) for (int drop = 0; drop < 2; drop++) {
        int B = 16, T = 1024, H = 12, C = 768;
        bf16 *qkv, *o; float* l;
        cudaCheck(cudaMalloc(&qkv, (size_t)B * T * 3 * C * 2)); cudaCheck(cudaMemset(qkv, 0, (size_t)B * T * 3 * C * 2));
        cudaCheck(cudaMalloc(&o, (size_t)B * T * C * 2)); cudaCheck(cudaMalloc(&l, (size_t)B * H * T * 4));
        double flops = 4.0 * B * H * (double)T * T / 2 * 64;
        for (int v = 0; v < 2; v++) {
            cudaEvent_t e0, e1; cudaEventCreate(&e0); cudaEventCreate(&e1);
            for (int w = 0; w < 5; w++) run(v == 0, o, l, qkv, B, T, C, H, pos, H - 1, drop ? 0.1f : 0, 7);
            cudaEventRecord(e0);
            for (int w = 0; w < 50; w++) run(v == 0, o, l, qkv, B, T, C, H, pos, H - 1, drop ? 0.1f : 0, 7);
            cudaEventRecord(e1); cudaCheck(cudaEventSynchronize(e1));
            float ms; cudaEventElapsedTime(&ms, e0, e1); ms /= 50;
            printf("%s pos %d drop %d: %.4f ms per layer, %.0f TFLOP/s (causal)\n", v == 0 ? "old" : "new", pos, drop, ms, flops / ms / 1e9);
        }
        cudaFree(qkv); cudaFree(o); cudaFree(l);
    }
    return fails != 0;
}
