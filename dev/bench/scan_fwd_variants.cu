/*
 * scan_fwd_variants.cu -- kernel experiment (issue 6): forms of the selective-scan forward against
 * the one in kernels.cuh, same inputs, same run. Nsight Compute on the kernels.cuh forward (B16
 * T1024 E1536 N16, H200): 255 registers, 1.46 active warps per scheduler, 0.39 eligible, issue
 * slots 32% busy, ~17 instructions per (t,e,n): too few warps in flight and too many instructions.
 * The variants: 2 or 4 lanes per channel (N/2 or N/4 states each: 2x or 4x the warps, y summed
 * over the lanes by shuffles), single- or double-
 * buffered chunk loads, a register cap (min blocks per SM), and float4 reads of the B/C rows; and
 * the time split (segments scanned in parallel, then a carry pass; see split_local).
 * Inputs in bf16, as the model's bf16 mode. Prints ms (median of 20) and the max |difference| of g and of the checkpoints vs kernels.cuh.
 *   make dev/bench/scan_fwd_variants && dev/bench/scan_fwd_variants [B T E]
 */
#include "../../seqmodels.h"
#include "../../kernels.cuh"
#include "bench_util.cuh"
using namespace gpu;
typedef __nv_bfloat16 In; /* xc, the dt projection and z, as the bf16-mode model keeps them */

/* (kernels.cuh's scans loaded chunks into registers like this until session 13; the variants below still do) */
/* one chunk of a thread's inputs, all loads issued at once: xc, the dt projection and z of its
 * channel at each step (X: fp32 or bf16), and the block's share of the B/C rows. The values are
 * kept as loaded and widened where they are used: a bf16 load widened at once makes the warp wait
 * for it before the next load issues (measured on an H100: the forward took 0.93 ms instead of 0.48). */
template <int N, typename X>
struct ScanChunk {
    static_assert(SSM_CHUNK * 2 * N % 32 == 0, "the B/C rows of a chunk split evenly over a warp");
    X x_[SSM_CHUNK], v_[SSM_CHUNK], z_[SSM_CHUNK];
    float bc[SSM_CHUNK * 2 * N / 32];
    __device__ float x(int s) const { return to_float(x_[s]); }
    __device__ float v(int s) const { return to_float(v_[s]); }
    __device__ float z(int s) const { return to_float(z_[s]); }
};
template <int N, typename X>
__device__ inline void scan_chunk_load(ScanChunk<N, X>& c, const X* __restrict__ xc, const X* __restrict__ dtr,
                                       const X* __restrict__ xz, const float* __restrict__ xdbl, int b, int t0, int T, int E,
                                       int ec, int R) {
    int XD = R + 2 * N;
#pragma unroll
    for (int s = 0; s < SSM_CHUNK; s++) {
        long i = (long)b * T + t0 + s;
        bool in = t0 + s < T;
        c.x_[s] = in ? xc[i * E + ec] : X(0.0f);
        c.v_[s] = in ? dtr[i * E + ec] : X(0.0f);
        c.z_[s] = in ? xz[i * 2 * E + E + ec] : X(0.0f);
    }
#pragma unroll
    for (int k = 0; k < SSM_CHUNK * 2 * N / 32; k++) { // element j = 32 k + lane of the (SSM_CHUNK, 2N) rows
        int j = 32 * k + (threadIdx.x & 31), s = j / (2 * N), col = j % (2 * N);
        c.bc[k] = t0 + s < T ? xdbl[((long)b * T + t0 + s) * XD + R + col] : 0.0f;
    }
}
/* a chunk's B/C rows (spread over the lanes by scan_chunk_load) into shared memory */
template <int N, typename I>
__device__ inline void stage_bc(float (&sBC)[SSM_CHUNK][2 * N], const ScanChunk<N, I>& c) {
    __syncwarp(); // every lane is done with the previous chunk's rows
#pragma unroll
    for (int q = 0; q < SSM_CHUNK * 2 * N / 32; q++) {
        int j = 32 * q + (threadIdx.x & 31);
        sBC[j / (2 * N)][j % (2 * N)] = c.bc[q];
    }
    __syncwarp();
}

/* LPC lanes per channel: lanes LPC c .. LPC c + LPC - 1 share channel c, N/LPC states each (LPC
 * 1, 2, 4); DBUF: load the next chunk while scanning; I: the inputs' type (fp32 or bf16); WPB warps
 * per block (adjacent channels: a block's warps read neighbouring parts of the same rows) */
template <int N, int LPC, int DBUF, int MINB, typename I = In, int WPB = 1>
__global__ void __launch_bounds__(32 * WPB, MINB / WPB) fwd_variant(__nv_bfloat16* __restrict__ g, float* __restrict__ hck, const I* __restrict__ xc,
    const I* __restrict__ dtr, const float* __restrict__ dt_bias, const float* __restrict__ xdbl, const I* __restrict__ xz,
    const float* __restrict__ A_log, const float* __restrict__ D, int T, int E, int R) {
    constexpr int NS = N / LPC, CH = 32 / LPC; // states per lane, channels per warp
    static_assert(NS % 4 == 0, "the B/C rows are read as float4");
    __shared__ __align__(16) float sBCw[WPB][SSM_CHUNK][2 * N];
    float (&sBC)[SSM_CHUNK][2 * N] = sBCw[threadIdx.x / 32];
    int lane = threadIdx.x & 31, b = blockIdx.y, e = (blockIdx.x * WPB + threadIdx.x / 32) * CH + lane / LPC, n0 = (lane % LPC) * NS;
    bool active = e < E, writer = active && lane % LPC == 0;
    int ec = active ? e : 0, n_ck = ssm_n_chunks(T);
    float A2[NS], h[NS];
#pragma unroll
    for (int j = 0; j < NS; j++) { A2[j] = -__expf(A_log[ec * N + n0 + j]) * 1.4426950408889634f; h[j] = 0.0f; }
    float bias = dt_bias[ec], Dd = D[ec];
    ScanChunk<N, I> cbuf[DBUF ? 2 : 1];
    scan_chunk_load(cbuf[0], xc, dtr, xz, xdbl, b, 0, T, E, ec, R);
    for (int k = 0; k < n_ck; k++) {
        int t0 = k * SSM_CHUNK;
        ScanChunk<N, I>& c = cbuf[DBUF ? (k & 1) : 0];
        if (DBUF && k + 1 < n_ck) scan_chunk_load(cbuf[(k + 1) & 1], xc, dtr, xz, xdbl, b, t0 + SSM_CHUNK, T, E, ec, R);
        if (!DBUF && k > 0) scan_chunk_load(c, xc, dtr, xz, xdbl, b, t0, T, E, ec, R);
        stage_bc(sBC, c);
        if (active) {
            float* ck = hck + (((long)b * n_ck + k) * E + e) * N + n0;
#pragma unroll
            for (int j = 0; j < NS; j++) ck[j] = h[j];
        }
#pragma unroll
        for (int s = 0; s < SSM_CHUNK; s++) {
            if (t0 + s >= T) break;
            float dt = ssm_dt<0>(c.v(s), bias, 0.0f), dtx = dt * c.x(s), y = 0.0f;
            const float4* B4 = (const float4*)&sBC[s][n0];
            const float4* C4 = (const float4*)&sBC[s][N + n0];
#pragma unroll
            for (int j4 = 0; j4 < NS / 4; j4++) {
                float4 Bv = B4[j4], Cv = C4[j4];
                float Bs[4] = {Bv.x, Bv.y, Bv.z, Bv.w}, Cs[4] = {Cv.x, Cv.y, Cv.z, Cv.w};
#pragma unroll
                for (int u = 0; u < 4; u++) {
                    int j = 4 * j4 + u;
                    float a = ex2_approx(dt * A2[j]);
                    h[j] = a * h[j] + dtx * Bs[u];
                    y += h[j] * Cs[u];
                }
            }
            if (LPC >= 2) y += __shfl_xor_sync(0xffffffff, y, 1); // y = sum over the channel's lanes
            if (LPC >= 4) y += __shfl_xor_sync(0xffffffff, y, 2);
            y += Dd * c.x(s);
            if (writer) g[((long)b * T + t0 + s) * E + e] = __float2bfloat16(y * c.z(s) * sigmoidf_(c.z(s)));
        }
    }
}

/* Shorter dependency chains (session 12; Nsight Compute on the kernels.cuh forward: the largest
 * stall is "wait", fixed-latency dependencies): per chunk, first the step sizes, dt x and the gates
 * of all 16 steps (independent of the state), then the scan with y summed in two halves, keeping
 * y per step, then the pair's shuffles and the stores of the 16 outputs. Lane pair per channel. */
template <int MINB>
__global__ void __launch_bounds__(32, MINB) fwd_phased(__nv_bfloat16* __restrict__ g, float* __restrict__ hck, const In* __restrict__ xc,
    const In* __restrict__ dtr, const float* __restrict__ dt_bias, const float* __restrict__ xdbl, const In* __restrict__ xz,
    const float* __restrict__ A_log, const float* __restrict__ D, int T, int E, int R) {
    constexpr int N = 16, NS = 8, CH = 16;
    __shared__ __align__(16) float sBC[SSM_CHUNK][2 * N];
    int lane = threadIdx.x, b = blockIdx.y, e = blockIdx.x * CH + lane / 2, n0 = (lane % 2) * NS, n_ck = ssm_n_chunks(T);
    bool active = e < E, writer = active && lane % 2 == 0;
    int ec = active ? e : 0;
    float A2[NS], h[NS];
#pragma unroll
    for (int j = 0; j < NS; j++) { A2[j] = -__expf(A_log[ec * N + n0 + j]) * 1.4426950408889634f; h[j] = 0.0f; }
    float bias = dt_bias[ec], Dd = D[ec];
    for (int k = 0; k < n_ck; k++) {
        int t0 = k * SSM_CHUNK;
        ScanChunk<N, In> c;
        scan_chunk_load(c, xc, dtr, xz, xdbl, b, t0, T, E, ec, R);
        stage_bc(sBC, c);
        if (active) {
            float4* ck = (float4*)(hck + (((long)b * n_ck + k) * E + e) * N + n0);
#pragma unroll
            for (int j = 0; j < NS; j += 4) ck[j / 4] = make_float4(h[j], h[j + 1], h[j + 2], h[j + 3]);
        }
        float dt[SSM_CHUNK], dtx[SSM_CHUNK], y[SSM_CHUNK];
#pragma unroll
        for (int s = 0; s < SSM_CHUNK; s++) { dt[s] = ssm_dt<0>(c.v(s), bias, 0.0f); dtx[s] = dt[s] * c.x(s); }
        int len = min(SSM_CHUNK, T - t0);
#pragma unroll
        for (int s = 0; s < SSM_CHUNK; s++) {
            if (s >= len) { y[s] = 0.0f; continue; }
            float ya = 0.0f, yb = 0.0f;
#pragma unroll
            for (int j = 0; j < NS; j += 4) {
                float4 Bv = *(const float4*)&sBC[s][n0 + j], Cv = *(const float4*)&sBC[s][N + n0 + j];
                float Bs[4] = {Bv.x, Bv.y, Bv.z, Bv.w}, Cs[4] = {Cv.x, Cv.y, Cv.z, Cv.w};
#pragma unroll
                for (int u = 0; u < 4; u++) {
                    float a = ex2_approx(dt[s] * A2[j + u]);
                    h[j + u] = a * h[j + u] + dtx[s] * Bs[u];
                    if (u % 2) yb += h[j + u] * Cs[u]; else ya += h[j + u] * Cs[u];
                }
            }
            y[s] = ya + yb;
        }
#pragma unroll
        for (int s = 0; s < SSM_CHUNK; s++) y[s] += __shfl_xor_sync(0xffffffff, y[s], 1);
        if (writer) {
#pragma unroll
            for (int s = 0; s < SSM_CHUNK; s++) {
                if (s >= len) break;
                float z = c.z(s);
                g[((long)b * T + t0 + s) * E + e] = __float2bfloat16((y[s] + Dd * c.x(s)) * z * sigmoidf_(z));
            }
        }
    }
}

/* Time split (the next step for issue 6): T cut into segments of SEG steps (a multiple of
 * SSM_CHUNK), SEG/T times more warps than the one-pass scan for twice its exponentials and input
 * reads. Three kernels:
 *   split_local  per (b, e, segment): the scan from h = 0 over the segment -> its end state hl and
 *                the sum of its step sizes (the segment multiplies state n by 2^(A2_n sum dt));
 *   split_carry  per (b, e): h_start(s + 1) = 2^(A2 sum dt(s)) h_start(s) + hl(s), in order;
 *   split_final  per (b, e, segment): the scan again from h_start, writing g and the checkpoints.
 * (Written at the end of session 10 without a GPU: the harness below compares it with kernels.cuh.) */
template <int N>
__device__ inline void split_setup(float (&A2)[N], const float* __restrict__ A_log, int ec) {
#pragma unroll
    for (int j = 0; j < N; j++) A2[j] = -__expf(A_log[ec * N + j]) * 1.4426950408889634f;
}
template <int N>
__global__ void __launch_bounds__(32) split_local(float* __restrict__ hl, float* __restrict__ sdt, const In* __restrict__ xc,
    const In* __restrict__ dtr, const float* __restrict__ dt_bias, const float* __restrict__ xdbl, const In* __restrict__ xz,
    const float* __restrict__ A_log, int T, int E, int R, int SEG) {
    __shared__ __align__(16) float sBC[SSM_CHUNK][2 * N]; // rows of [B_t | C_t]
    int b = blockIdx.y, seg = blockIdx.z, n_seg = gridDim.z, e = blockIdx.x * 32 + threadIdx.x, ec = e < E ? e : 0;
    float A2[N], h[N], bias = dt_bias[ec], sum_dt = 0.0f;
    split_setup(A2, A_log, ec);
#pragma unroll
    for (int j = 0; j < N; j++) h[j] = 0.0f;
    ScanChunk<N, In> c;
    for (int t0 = seg * SEG; t0 < min(T, (seg + 1) * SEG); t0 += SSM_CHUNK) {
        scan_chunk_load(c, xc, dtr, xz, xdbl, b, t0, T, E, ec, R);
        stage_bc(sBC, c);
#pragma unroll
        for (int s = 0; s < SSM_CHUNK; s++) {
            if (t0 + s >= T) break;
            float dt = ssm_dt<0>(c.v(s), bias, 0.0f), dtx = dt * c.x(s);
            sum_dt += dt;
#pragma unroll
            for (int j = 0; j < N; j++) h[j] = ex2_approx(dt * A2[j]) * h[j] + dtx * sBC[s][j];
        }
    }
    if (e >= E) return;
    long o = ((long)b * n_seg + seg) * E + e;
#pragma unroll
    for (int j = 0; j < N; j++) hl[o * N + j] = h[j];
    sdt[o] = sum_dt;
}
template <int N>
__global__ void split_carry(float* __restrict__ hs, const float* __restrict__ hl, const float* __restrict__ sdt,
                            const float* __restrict__ A_log, int B, int E, int n_seg) {
    long i = (long)blockIdx.x * blockDim.x + threadIdx.x; // (b, e)
    if (i >= (long)B * E) return;
    int b = (int)(i / E), e = (int)(i % E);
    float A2[N], h[N];
    split_setup(A2, A_log, e);
#pragma unroll
    for (int j = 0; j < N; j++) h[j] = 0.0f;
    for (int s = 0; s < n_seg; s++) {
        long o = ((long)b * n_seg + s) * E + e;
        float d = sdt[o];
#pragma unroll
        for (int j = 0; j < N; j++) {
            hs[o * N + j] = h[j]; // the state before segment s
            h[j] = ex2_approx(A2[j] * d) * h[j] + hl[o * N + j];
        }
    }
}
template <int N>
__global__ void __launch_bounds__(32) split_final(__nv_bfloat16* __restrict__ g, float* __restrict__ hck, const float* __restrict__ hs,
    const In* __restrict__ xc, const In* __restrict__ dtr, const float* __restrict__ dt_bias, const float* __restrict__ xdbl,
    const In* __restrict__ xz, const float* __restrict__ A_log, const float* __restrict__ D, int T, int E, int R, int SEG) {
    __shared__ __align__(16) float sBC[SSM_CHUNK][2 * N];
    int b = blockIdx.y, seg = blockIdx.z, n_seg = gridDim.z, e = blockIdx.x * 32 + threadIdx.x, ec = e < E ? e : 0;
    bool active = e < E;
    int n_ck = ssm_n_chunks(T);
    float A2[N], h[N], bias = dt_bias[ec], Dd = D[ec];
    split_setup(A2, A_log, ec);
#pragma unroll
    for (int j = 0; j < N; j++) h[j] = hs[(((long)b * n_seg + seg) * E + ec) * N + j];
    ScanChunk<N, In> c;
    for (int t0 = seg * SEG; t0 < min(T, (seg + 1) * SEG); t0 += SSM_CHUNK) {
        scan_chunk_load(c, xc, dtr, xz, xdbl, b, t0, T, E, ec, R);
        stage_bc(sBC, c);
        if (active) {
            float* ck = hck + (((long)b * n_ck + t0 / SSM_CHUNK) * E + e) * N; // the state before step t0
#pragma unroll
            for (int j = 0; j < N; j++) ck[j] = h[j];
        }
#pragma unroll
        for (int s = 0; s < SSM_CHUNK; s++) {
            if (t0 + s >= T) break;
            float dt = ssm_dt<0>(c.v(s), bias, 0.0f), dtx = dt * c.x(s), y = 0.0f;
#pragma unroll
            for (int j = 0; j < N; j++) {
                h[j] = ex2_approx(dt * A2[j]) * h[j] + dtx * sBC[s][j];
                y += h[j] * sBC[s][N + j];
            }
            y += Dd * c.x(s);
            if (active) g[((long)b * T + t0 + s) * E + e] = __float2bfloat16(y * c.z(s) * sigmoidf_(c.z(s)));
        }
    }
}

static double max_diff_bf16(const __nv_bfloat16* a, const __nv_bfloat16* b, size_t n) {
    std::vector<__nv_bfloat16> x(n), y(n);
    cudaCheck(cudaMemcpy(x.data(), a, n * 2, cudaMemcpyDeviceToHost)); cudaCheck(cudaMemcpy(y.data(), b, n * 2, cudaMemcpyDeviceToHost));
    double m = 0;
    for (size_t i = 0; i < n; i++) m = fmax(m, fabs((double)__bfloat162float(x[i]) - __bfloat162float(y[i])));
    return m;
}
static double max_diff(const float* a, const float* b, size_t n) {
    std::vector<float> x(n), y(n);
    cudaCheck(cudaMemcpy(x.data(), a, n * 4, cudaMemcpyDeviceToHost)); cudaCheck(cudaMemcpy(y.data(), b, n * 4, cudaMemcpyDeviceToHost));
    double m = 0;
    for (size_t i = 0; i < n; i++) m = fmax(m, fabs((double)x[i] - y[i]));
    return m;
}

int main(int argc, char** argv) {
    int B = argc > 1 ? atoi(argv[1]) : 16, T = argc > 2 ? atoi(argv[2]) : 1024, E = argc > 3 ? atoi(argv[3]) : 1536;
    const int N = 16;
    int R = (E / 2 + 15) / 16;
    uint64_t rng = 7;
    size_t BT = (size_t)B * T, n = BT * E, XD = R + 2 * N, nck = (size_t)B * ssm_n_chunks(T) * E * N;
    In *xc = dev_rand<In>(n, 1, 0, &rng), *dtr = dev_rand<In>(n, 1, -2, &rng), *xz = dev_rand<In>(2 * n, 1, 0, &rng);
    float *bias = dev_rand(E, 0.5, 0, &rng), *xdbl = dev_rand(BT * XD, 0.5, 0, &rng), *D = dev_rand(E, 1, 0, &rng);
    float *A_log = dev_rand((size_t)E * N, 1, 1.5, &rng), *hck0, *hck1;
    auto widen = [](const In* d16, size_t m) { // the same values in fp32
        std::vector<__nv_bfloat16> h16(m);
        std::vector<float> h32(m);
        cudaCheck(cudaMemcpy(h16.data(), d16, m * 2, cudaMemcpyDeviceToHost));
        for (size_t i = 0; i < m; i++) h32[i] = __bfloat162float(h16[i]);
        float* d;
        cudaCheck(cudaMalloc(&d, m * 4));
        cudaCheck(cudaMemcpy(d, h32.data(), m * 4, cudaMemcpyHostToDevice));
        return d;
    };
    float *xc32 = widen(xc, n), *dtr32 = widen(dtr, n), *xz32 = widen(xz, 2 * n);
    __nv_bfloat16 *g0, *g1;
    cudaCheck(cudaMalloc(&g0, n * 2)); cudaCheck(cudaMalloc(&g1, n * 2));
    cudaCheck(cudaMalloc(&hck0, nck * 4)); cudaCheck(cudaMalloc(&hck1, nck * 4));
    printf("mamba forward, B %d T %d E %d N %d\n| variant | ms | max diff g | max diff checkpoints |\n|---|---:|---:|---:|\n", B, T, E, N);
    double ref = median_ms([&] { ssm_scan_forward(g0, hck0, xc, dtr, bias, xdbl, xz, A_log, D, 0, B, T, E, N, R); });
    printf("| kernels.cuh | %.3f | 0 | 0 |\n", ref);
#define VARIANT(LPC, DBUF, MINB)                                                                                           \
    {                                                                                                                      \
        cudaCheck(cudaMemset(g1, 0xff, n * 2)); cudaCheck(cudaMemset(hck1, 0xff, nck * 4));                                \
        dim3 grid(ceil_div(E, 32 / LPC), B);                                                                               \
        double ms = median_ms([&] {                                                                                        \
            fwd_variant<N, LPC, DBUF, MINB><<<grid, 32>>>(g1, hck1, xc, dtr, bias, xdbl, xz, A_log, D, T, E, R);           \
            cudaCheck(cudaGetLastError());                                                                                 \
        });                                                                                                                \
        printf("| %d lanes per channel, double buffer %d, min blocks %d | %.3f | %.2e | %.2e |\n", LPC, DBUF, MINB, ms,      \
               max_diff_bf16(g0, g1, n), max_diff(hck0, hck1, nck));                                                       \
    }
#define VARIANT_IW(LPC, MINB, I, WPB, XC, DTR, XZ)                                                                         \
    {                                                                                                                      \
        cudaCheck(cudaMemset(g1, 0xff, n * 2)); cudaCheck(cudaMemset(hck1, 0xff, nck * 4));                                \
        dim3 grid(ceil_div(E, 32 / LPC * WPB), B);                                                                         \
        double ms = median_ms([&] {                                                                                        \
            fwd_variant<N, LPC, 0, MINB, I, WPB><<<grid, 32 * WPB>>>(g1, hck1, XC, DTR, bias, xdbl, XZ, A_log, D, T, E, R); \
            cudaCheck(cudaGetLastError());                                                                                 \
        });                                                                                                                \
        printf("| %d lanes per channel, min blocks %d, inputs %s, %d warps per block | %.3f | %.2e | %.2e |\n", LPC, MINB,  \
               sizeof(I) == 2 ? "bf16" : "fp32", WPB, ms, max_diff_bf16(g0, g1, n), max_diff(hck0, hck1, nck));            \
    }
    // inputs fp32 vs bf16, one warp per block vs four (12 warps per SM either way)
    VARIANT_IW(1, 12, float, 1, xc32, dtr32, xz32) VARIANT_IW(1, 12, In, 1, xc, dtr, xz)
    VARIANT_IW(2, 12, float, 1, xc32, dtr32, xz32) VARIANT_IW(2, 12, In, 1, xc, dtr, xz)
    VARIANT_IW(2, 12, float, 4, xc32, dtr32, xz32) VARIANT_IW(2, 12, In, 4, xc, dtr, xz)
    VARIANT_IW(2, 12, In, 2, xc, dtr, xz) VARIANT_IW(2, 16, In, 4, xc, dtr, xz) VARIANT_IW(1, 12, In, 4, xc, dtr, xz)
#define VARIANT_PHASED(MINB)                                                                                               \
    {                                                                                                                      \
        cudaCheck(cudaMemset(g1, 0xff, n * 2)); cudaCheck(cudaMemset(hck1, 0xff, nck * 4));                                \
        dim3 grid(ceil_div(E, 16), B);                                                                                     \
        double ms = median_ms([&] {                                                                                        \
            fwd_phased<MINB><<<grid, 32>>>(g1, hck1, xc, dtr, bias, xdbl, xz, A_log, D, T, E, R);                           \
            cudaCheck(cudaGetLastError());                                                                                 \
        });                                                                                                                \
        printf("| 2 lanes per channel, phased chunk (step sizes first, y halves, stores last), min blocks %d | %.3f | %.2e | %.2e |\n", \
               MINB, ms, max_diff_bf16(g0, g1, n), max_diff(hck0, hck1, nck));                                             \
    }
    VARIANT_PHASED(8) VARIANT_PHASED(12) VARIANT_PHASED(16)
    VARIANT(1, 0, 1) VARIANT(1, 0, 12) VARIANT(2, 0, 1) VARIANT(2, 0, 12) VARIANT(2, 0, 16)
    VARIANT(4, 0, 1) VARIANT(4, 0, 16) VARIANT(4, 0, 24) VARIANT(4, 0, 32) VARIANT(4, 1, 16) VARIANT(4, 1, 24)
    for (int SEG : {64, 128, 256}) { // the time split, three kernels
        int n_seg = ceil_div(T, SEG);
        size_t ns = (size_t)B * n_seg * E;
        float *hl, *sdt, *hs;
        cudaCheck(cudaMalloc(&hl, ns * N * 4)); cudaCheck(cudaMalloc(&sdt, ns * 4)); cudaCheck(cudaMalloc(&hs, ns * N * 4));
        cudaCheck(cudaMemset(g1, 0xff, n * 2)); cudaCheck(cudaMemset(hck1, 0xff, nck * 4));
        dim3 grid(ceil_div(E, 32), B, n_seg);
        double ms = median_ms([&] {
            split_local<N><<<grid, 32>>>(hl, sdt, xc, dtr, bias, xdbl, xz, A_log, T, E, R, SEG);
            split_carry<N><<<ceil_div((long)B * E, 128), 128>>>(hs, hl, sdt, A_log, B, E, n_seg);
            split_final<N><<<grid, 32>>>(g1, hck1, hs, xc, dtr, bias, xdbl, xz, A_log, D, T, E, R, SEG);
            cudaCheck(cudaGetLastError());
        });
        printf("| time split, segments of %d (3 kernels) | %.3f | %.2e | %.2e |\n", SEG, ms, max_diff_bf16(g0, g1, n), max_diff(hck0, hck1, nck));
        cudaCheck(cudaFree(hl)); cudaCheck(cudaFree(sdt)); cudaCheck(cudaFree(hs));
    }
    return 0;
}
