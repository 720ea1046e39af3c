/*
 * kernels.cuh -- the CUDA side of seqmodels.h: one section per op family, in the same order and
 * with the same names (inside namespace gpu), so the CPU reference and its kernel read side by
 * side. Every launch is followed by cudaCheck(cudaGetLastError()).
 *
 * Two precisions, chosen at run time by gpu::use_fp32 (train_gpu --fp32):
 *   bf16 (default): matmuls on the tensor cores in bf16 with fp32 accumulation (cuBLAS
 *                   COMPUTE_32F_FAST_16BF) and a tiled flash-attention kernel (bf16 tiles on
 *                   wgmma for sm_90a, mma.sync otherwise; fp32 softmax statistics and
 *                   accumulators), head size 64;
 *   fp32:           cuBLAS SGEMM and the one-warp-per-row attention kernel: exact enough to be
 *                   compared with the CPU reference at 1e-5 (test_gpu).
 * Parameters, gradients and AdamW state are fp32 in both modes; in bf16 mode the activations that
 * only feed matmuls or attention (norm outputs, qkv, the attention output, the MLP activation,
 * the SSM's gated output) are stored in bf16, the rest in fp32. The selective scan runs in fp32 in both modes.
 *
 * Streams and graphs: everything runs on the per-thread default stream (the Makefile builds with
 * nvcc --default-stream per-thread; cuBLAS is pointed at it), so that train_step (section 6) can
 * capture a whole training step as a CUDA graph and replay it: a small model's step is a few
 * hundred kernel launches, each costing microseconds of host time. Nothing between the batch
 * upload and the loss readback may synchronise with the host, allocate or free.
 */
#pragma once
#include <algorithm>
#include <cublasLt.h>
#include <cublas_v2.h>
#include <cuda_bf16.h>
#include <cuda_runtime.h>
#include <stdio.h>
#include <stdlib.h>

/* ---- error checks: file and line of the failing call, then exit ---- */
static void cuda_check_(cudaError_t err, const char* file, int line) {
    if (err != cudaSuccess) {
        fprintf(stderr, "error: CUDA: %s (%s:%d)\n", cudaGetErrorString(err), file, line);
        exit(1);
    }
}
#define cudaCheck(call) cuda_check_((call), __FILE__, __LINE__)
static void cublas_check_(cublasStatus_t st, const char* file, int line) {
    if (st != CUBLAS_STATUS_SUCCESS) {
        fprintf(stderr, "error: cuBLAS status %d (%s:%d)\n", (int)st, file, line);
        exit(1);
    }
}
#define cublasCheck(call) cublas_check_((call), __FILE__, __LINE__)

namespace gpu {

static inline int ceil_div(long a, long b) { return (int)((a + b - 1) / b); }
static bool aligned(const void* p, int bytes) { return (uintptr_t)p % bytes == 0; } /* NULL is */
__device__ inline int ceil_div_dev(int a, int b) { return (a + b - 1) / b; }

/* Activations that only feed matmuls (norm outputs, attention output, MLP activation) are
 * stored as X = bf16 in bf16 mode and as float in fp32 mode; these read and write either. */
__device__ inline float to_float(float x) { return x; }
__device__ inline float to_float(__nv_bfloat16 x) { return __bfloat162float(x); }
__device__ inline void store_as(float* p, float v) { *p = v; }
__device__ inline void store_as(__nv_bfloat16* p, float v) { *p = __float2bfloat16(v); }
/* 2^x in one instruction on the special-function unit (ex2.approx, 2 ulp; exp2f adds range
 * fix-ups); 2^-inf = 0. The attention softmax and the selective scan's decays use it. */
__device__ __forceinline__ float ex2_approx(float x) {
    float y;
    asm("ex2.approx.ftz.f32 %0, %1;" : "=f"(y) : "f"(x));
    return y;
}
/* 1/x in one instruction (rcp.approx, 1 ulp; 1/inf = 0): __fdividef(1, x) adds a range check */
__device__ __forceinline__ float rcp_approx(float x) {
    float y;
    asm("rcp.approx.ftz.f32 %0, %1;" : "=f"(y) : "f"(x));
    return y;
}
/* 8 consecutive elements as one (bf16) or two (fp32) 16-byte accesses: elementwise kernels over
 * bf16 arrays reach full bandwidth only with wide accesses (p 16-byte aligned) */
__device__ inline void load8(float* v, const float* p) {
    float4 a = ((const float4*)p)[0], b = ((const float4*)p)[1];
    v[0] = a.x; v[1] = a.y; v[2] = a.z; v[3] = a.w; v[4] = b.x; v[5] = b.y; v[6] = b.z; v[7] = b.w;
}
__device__ inline void load8(float* v, const __nv_bfloat16* p) {
    uint4 u = *(const uint4*)p;
    const __nv_bfloat162* h = (const __nv_bfloat162*)&u;
    for (int k = 0; k < 4; k++) {
        float2 f = __bfloat1622float2(h[k]);
        v[2 * k] = f.x;
        v[2 * k + 1] = f.y;
    }
}
__device__ inline void store8(float* p, const float* v) {
    ((float4*)p)[0] = make_float4(v[0], v[1], v[2], v[3]);
    ((float4*)p)[1] = make_float4(v[4], v[5], v[6], v[7]);
}
__device__ inline void store8(__nv_bfloat16* p, const float* v) {
    uint4 u;
    __nv_bfloat162* h = (__nv_bfloat162*)&u;
    for (int k = 0; k < 4; k++) h[k] = __floats2bfloat162_rn(v[2 * k], v[2 * k + 1]);
    *(uint4*)p = u;
}

/* 1 = fp32 everywhere (SGEMM, fp32 attention); 0 = bf16 tensor cores (see the top of the file) */
static int use_fp32 = 0;
/* The weight-gradient writers add (dW += ..., as the CPU ops) unless grad_set is on: then each
 * writes its tensor (beta 0 in the matmuls), so that a Transformer's training step needs no
 * clearing of the gradient buffer before its backward (344 MB on config (b)). In that backward
 * every tensor's first writer sets it; the only second writer, the embedding backward, adds to
 * what the tied head's matmul wrote. model_backward (the tests, the CPU comparisons) adds. */
static bool grad_set = false;

/* Every device allocation goes through device_alloc, which counts the bytes (the "mem" of the
 * progress line: ours, not the CUDA context's, and not other processes'). The grow-only scratch
 * buffers (bias_grad, bf16_copy, norm_partials) bump scratch_generation when they move: a
 * captured graph holds their old addresses and must be captured again. */
static size_t device_bytes = 0;
static int scratch_generation = 0;
template <typename P>
static void device_alloc(P** p, size_t bytes) {
    cudaCheck(cudaMalloc((void**)p, bytes));
    device_bytes += bytes;
}
template <typename P>
static void scratch_grow(P** p, size_t* cap_bytes, size_t bytes) { /* realloc if smaller than bytes */
    if (bytes <= *cap_bytes) return;
    if (*p) {
        cudaCheck(cudaFree(*p));
        device_bytes -= *cap_bytes;
    }
    device_alloc(p, bytes);
    *cap_bytes = bytes;
    scratch_generation++;
}

/* sum over a warp, every lane gets the result */
__device__ inline float warp_sum(float x) {
    for (int o = 16; o > 0; o >>= 1) x += __shfl_xor_sync(0xffffffff, x, o);
    return x;
}
__device__ inline float warp_max(float x) {
    for (int o = 16; o > 0; o >>= 1) x = fmaxf(x, __shfl_xor_sync(0xffffffff, x, o));
    return x;
}

/* ============================================================================================
 * embedding: out[b,t,:] = wte[idx[b,t],:] (+ wpe[t,:])
 * ============================================================================================ */
__global__ void encoder_forward_kernel(float* out, const int* idx, const float* wte, const float* wpe, int BT, int T, int C) {
    long i = (long)blockIdx.x * blockDim.x + threadIdx.x;
    if (i >= (long)BT * C) return;
    int bt = (int)(i / C), c = (int)(i % C);
    out[i] = wte[(long)idx[bt] * C + c] + (wpe ? wpe[(long)(bt % T) * C + c] : 0.0f);
}
static void encoder_forward(float* out, const int* idx, const float* wte, const float* wpe, int B, int T, int C) {
    encoder_forward_kernel<<<ceil_div((long)B * T * C, 256), 256>>>(out, idx, wte, wpe, B * T, T, C);
    cudaCheck(cudaGetLastError());
}
/* Deterministic, no atomics: the same sums in the same order at every run, so that a training
 * step replays bit for bit. dwte: block (v, s) sums the rows of token v among positions
 * [s * span, (s + 1) * span). For each chunk of those positions the block first lists, in order,
 * the positions whose token is v (each thread checks a run of consecutive positions; a
 * block-wide prefix sum of the counts places them), then every thread adds those rows for its
 * columns into ENC_ACC partial sums in a fixed order. With one span the block adds its sum to
 * dwte; with several it writes it to partials (span s, token v) and the spans are added in order
 * afterwards: a frequent token (a space is ~15% of Shakespeare) is then summed by many blocks,
 * not by one. dwpe: one thread per (t, c) adds over the batch. */
#define ENC_THREADS 256
#define ENC_CHUNK 4096 /* positions listed at a time (shared memory) */
#define ENC_ACC 8      /* partial sums per column (rows loaded at a time) */
#define ENC_SPAN 1024  /* positions per block */
__global__ void __launch_bounds__(ENC_THREADS) encoder_backward_wte_kernel(float* dwte, float* partials, const float* dout, const int* idx,
                                                                           int BT, int C) {
    __shared__ int pos[ENC_CHUNK];
    __shared__ int warp_total[ENC_THREADS / 32];
    int v = blockIdx.x, lane = threadIdx.x % 32, warp = threadIdx.x / 32, per = ENC_CHUNK / ENC_THREADS;
    int p_begin = blockIdx.y * ENC_SPAN, p_end = gridDim.y == 1 ? BT : min(BT, p_begin + ENC_SPAN);
    for (int c0 = 0; c0 < C; c0 += 4 * ENC_THREADS) { // 4 columns per thread at a time
        // ENC_ACC partial sums per column, list entry q into sum q % ENC_ACC, added in order at the
        // end: ENC_ACC independent chains, so that a frequent token's rows (a space is ~15% of
        // Shakespeare) are loaded ENC_ACC at a time instead of one after another
        float acc[ENC_ACC][4] = {};
        for (int p0 = p_begin; p0 < p_end; p0 += ENC_CHUNK) {
            int first = p0 + threadIdx.x * per, mine = 0;
            for (int k = 0; k < per; k++) mine += first + k < p_end && idx[first + k] == v;
            int incl = mine; // block-wide exclusive prefix sum of the counts
            for (int d = 1; d < 32; d *= 2) {
                int up = __shfl_up_sync(0xffffffff, incl, d);
                if (lane >= d) incl += up;
            }
            if (lane == 31) warp_total[warp] = incl;
            __syncthreads();
            int at = incl - mine, n = 0;
            for (int w = 0; w < ENC_THREADS / 32; w++) {
                if (w < warp) at += warp_total[w];
                n += warp_total[w];
            }
            for (int k = 0; k < per; k++)
                if (first + k < p_end && idx[first + k] == v) pos[at++] = first + k;
            __syncthreads();
            for (int q0 = 0; q0 < n; q0 += ENC_ACC) {
                float val[ENC_ACC][4]; // all loads first (from a valid row past the list's end), then the adds
#pragma unroll
                for (int u = 0; u < ENC_ACC; u++) {
                    const float* row = dout + (long)pos[min(q0 + u, n - 1)] * C;
#pragma unroll
                    for (int k = 0; k < 4; k++) {
                        int c = c0 + threadIdx.x + k * ENC_THREADS;
                        val[u][k] = c < C ? row[c] : 0.0f;
                    }
                }
#pragma unroll
                for (int u = 0; u < ENC_ACC; u++)
                    if (q0 + u < n)
#pragma unroll
                        for (int k = 0; k < 4; k++) acc[u][k] += val[u][k];
            }
            __syncthreads(); // pos and warp_total are refilled for the next chunk
        }
        for (int k = 0; k < 4; k++) {
            int c = c0 + threadIdx.x + k * ENC_THREADS;
            float s = 0.0f;
#pragma unroll
            for (int u = 0; u < ENC_ACC; u++) s += acc[u][k];
            if (c < C && gridDim.y == 1) dwte[(long)v * C + c] += s;
            else if (c < C) partials[((long)blockIdx.y * gridDim.x + v) * C + c] = s;
        }
    }
}
__global__ void encoder_backward_wpe_kernel(float* dwpe, const float* dout, int B, int T, int C, bool set) {
    long i = (long)blockIdx.x * blockDim.x + threadIdx.x; // (t, c)
    if (i >= (long)T * C) return;
    float s = 0.0f;
    for (int b = 0; b < B; b++) s += dout[(long)b * T * C + i];
    dwpe[i] = (set ? 0.0f : dwpe[i]) + s;
}
__global__ void bias_grad_reduce_kernel(float* dbias, const float* partials, int slices, int OC, bool set); /* (linear, below) */
/* dwte always adds (with grad_set, the tied head's matmul has written it); dwpe as grad_set says */
static void encoder_backward(float* dwte, float* dwpe, const float* dout, const int* idx, int B, int T, int C, int V) {
    static float* partials = NULL;
    static size_t cap = 0;
    int spans = ceil_div((long)B * T, ENC_SPAN);
    if ((size_t)spans * V * C > (64u << 20) / sizeof(float)) spans = 1; // (a large vocabulary: one span, no scratch)
    if (spans > 1) scratch_grow(&partials, &cap, (size_t)spans * V * C * sizeof(float)); // grown once
    encoder_backward_wte_kernel<<<dim3(V, spans), ENC_THREADS>>>(dwte, partials, dout, idx, B * T, C);
    cudaCheck(cudaGetLastError());
    if (spans > 1) { // dwte += the spans' sums, in span order (dwte as a flat V*C vector)
        bias_grad_reduce_kernel<<<ceil_div((long)V * C, 128), 128>>>(dwte, partials, spans, V * C, false);
        cudaCheck(cudaGetLastError());
    }
    if (dwpe) {
        encoder_backward_wpe_kernel<<<ceil_div((long)T * C, 256), 256>>>(dwpe, dout, B, T, C, grad_set);
        cudaCheck(cudaGetLastError());
    }
}

/* ============================================================================================
 * linear: out (N,OC) = inp (N,C) @ W^T + bias through cuBLAS (bf16 tensor cores, or fp32).
 * cuBLAS is column-major: a row-major (N,OC) matrix is a column-major (OC,N) one, so
 * out^T = W inp^T is one GEMM with W transposed. Backward: dinp += dout @ W, dW += dout^T @ inp.
 * ============================================================================================ */
#define CUBLAS_WORKSPACE (32u << 20)
static void* cublas_workspace() { /* one workspace for cuBLAS and cuBLASLt (one stream: never used at once) */
    static void* ws = NULL;
    if (!ws) device_alloc(&ws, CUBLAS_WORKSPACE);
    return ws;
}
static cublasHandle_t cublas_handle() {
    static cublasHandle_t h = NULL;
    if (!h) { // our stream, and our workspace: cuBLAS must not allocate inside a graph capture
        cublasCheck(cublasCreate(&h));
        cublasCheck(cublasSetStream(h, cudaStreamPerThread));
        cublasCheck(cublasSetWorkspace(h, cublas_workspace(), CUBLAS_WORKSPACE));
    }
    return h;
}
template <typename O>
__global__ void add_bias_kernel(O* out, const float* bias, long N, int OC) {
    long i = (long)blockIdx.x * blockDim.x + threadIdx.x;
    if (i < N * OC) store_as(&out[i], to_float(out[i]) + bias[i % OC]);
}
/* dbias += column sums of dout (N,OC): blocks of 32 columns x 8 row lanes each sum one slice of
 * the rows into a partial row, then bias_grad_reduce_kernel adds the slices in order (one
 * thread per column over all N rows would leave most of the GPU idle) */
#define BIAS_GRAD_SLICES 64
template <typename D>
__global__ void bias_grad_partial_kernel(float* partials, const D* dout, int N, int OC) {
    __shared__ float red[8][33];
    int o = blockIdx.x * 32 + threadIdx.x, per = (N + gridDim.y - 1) / gridDim.y, r0 = blockIdx.y * per, r1 = min(N, r0 + per);
    float s = 0;
    if (o < OC)
        for (int r = r0 + threadIdx.y; r < r1; r += 8) s += to_float(dout[(long)r * OC + o]);
    red[threadIdx.y][threadIdx.x] = s;
    __syncthreads();
    if (threadIdx.y == 0 && o < OC) {
        for (int k = 1; k < 8; k++) s += red[k][threadIdx.x];
        partials[(long)blockIdx.y * OC + o] = s;
    }
}
__global__ void bias_grad_reduce_kernel(float* dbias, const float* partials, int slices, int OC, bool set) {
    int o = blockIdx.x * blockDim.x + threadIdx.x;
    if (o >= OC) return;
    float s = 0;
    for (int k = 0; k < slices; k++) s += partials[(long)k * OC + o];
    dbias[o] = (set ? 0.0f : dbias[o]) + s;
}
template <typename D>
static void bias_grad(float* dbias, const D* dout, int N, int OC) {
    static float* partials = NULL;
    static size_t cap = 0;
    scratch_grow(&partials, &cap, (size_t)BIAS_GRAD_SLICES * OC * sizeof(float)); // grown once
    bias_grad_partial_kernel<<<dim3(ceil_div(OC, 32), BIAS_GRAD_SLICES), dim3(32, 8)>>>(partials, dout, N, OC);
    cudaCheck(cudaGetLastError());
    bias_grad_reduce_kernel<<<ceil_div(OC, 128), 128>>>(dbias, partials, BIAS_GRAD_SLICES, OC, grad_set);
    cudaCheck(cudaGetLastError());
}
/* fp32 -> bf16, for the matmul operands */
__global__ void to_bf16_kernel(__nv_bfloat16* out, const float* in, long n) {
    long i = ((long)blockIdx.x * blockDim.x + threadIdx.x) * 4;
    if (i + 3 < n) {
        float4 v = *(const float4*)(in + i);
        __nv_bfloat162* o = (__nv_bfloat162*)(out + i);
        o[0] = __floats2bfloat162_rn(v.x, v.y);
        o[1] = __floats2bfloat162_rn(v.z, v.w);
    } else {
        for (; i < n; i++) out[i] = __float2bfloat16(in[i]);
    }
}
__global__ void to_float_kernel(float* out, const __nv_bfloat16* in, long n) {
    long i = ((long)blockIdx.x * blockDim.x + threadIdx.x) * 4;
    if (i + 3 < n) {
        const __nv_bfloat162* v = (const __nv_bfloat162*)(in + i);
        float2 a = __bfloat1622float2(v[0]), b = __bfloat1622float2(v[1]);
        *(float4*)(out + i) = make_float4(a.x, a.y, b.x, b.y);
    } else {
        for (; i < n; i++) out[i] = __bfloat162float(in[i]);
    }
}
/* The model's bf16 mirror of its parameter buffer (bf16 mode): AdamW writes it next to the fp32
 * master weights, so a weight is rounded once per step instead of once per matmul that reads it.
 * bf16_copy() of a pointer into the parameters returns the mirror's element. */
static const float* params_base = NULL;
static const __nv_bfloat16* params16_base = NULL;
static size_t params_count = 0;
/* a grow-only device buffer for bf16 copies of matmul operands (allocated on the first steps) */
struct Bf16Scratch { __nv_bfloat16* p; size_t cap; }; /* cap in bytes */
static const __nv_bfloat16* bf16_copy(Bf16Scratch* s, const __nv_bfloat16* x, long n) { (void)s; (void)n; return x; } /* already bf16 */
static const __nv_bfloat16* bf16_copy(Bf16Scratch* s, const float* x, long n) {
    if (params16_base && x >= params_base && x + n <= params_base + params_count) return params16_base + (x - params_base);
    scratch_grow(&s->p, &s->cap, n * sizeof(__nv_bfloat16));
    to_bf16_kernel<<<ceil_div((n + 3) / 4, 256), 256>>>(s->p, x, n);
    cudaCheck(cudaGetLastError());
    return s->p;
}
/* ---- cuBLASLt matmuls, each shape's kernel chosen once by timing ----
 * D (m,n) = epilogue(op(A) op(B) [+ bias]) + beta D, column-major, bf16 operands, fp32
 * accumulation, D bf16 or fp32. cuBLAS's heuristic ranks its kernels with a model, and its first
 * choice is often not the fastest on the shape at hand (dev/bench/bench_lt_search's candidate
 * tables; session 16, H200: the MLP's backward product 0.118 ms with it, 0.106 with its 7th). So the first time a shape is
 * seen (in an eager step; never inside a graph capture) every candidate the heuristic offers (up
 * to LT_CANDIDATES) runs on the real operands, and one whose output differs in any bit from the
 * first candidate's (another split of K, another order of the sums) is dropped; the fastest of
 * the rest (median of LT_TIMED rounds) is kept for the shape if it beats the first by 3%. The
 * choice may thus differ between runs, the result never: the bits are the first candidate's
 * (which were cublasGemmEx's in every A/B run of session 16: the same losses to the last digit).
 * SEQM_LT_TUNE=0 in the environment keeps the first candidate (no timing); SEQM_LT_VERBOSE=1
 * prints each shape's candidates and times. The epilogues the MLP uses:
 *   CUBLASLT_EPILOGUE_GELU_AUX(_BIAS): D = GELU(x), aux = x (the pre-activation, kept for the backward)
 *   CUBLASLT_EPILOGUE_DGELU:           D = x * GELU'(aux)
 * (GELU in the tanh form, as ours). aux has D's shape and leading dimension; the bias is bf16 (the
 * parameters' bf16 mirror: cuBLASLt has no GELU_AUX_BIAS kernel with an fp32 bias and bf16 output,
 * measured on an H200). Returns false, with nothing launched, where cuBLASLt has no kernel for the
 * case: the caller then takes another path. */
#define LT_CANDIDATES 16
#define LT_TIMED 9
/* -1: from SEQM_LT_TUNE (default 1); 0: the first candidate; 1: timed; 2 (tests): the last
 * candidate with the first's bits, untimed. lt_generation++ drops every plan. lt_last_chosen: the
 * candidate the last new plan took (tests). */
static int lt_tune = -1, lt_generation = 0, lt_last_chosen = 0;
/* an order-free 64-bit hash of n 16-bit words (a sum of mixed (index, word) pairs): equal outputs
 * give equal hashes, different ones almost surely not */
__global__ void bits_hash_kernel(unsigned long long* out, const uint16_t* w, long n) {
    unsigned long long h = 0;
    for (long i = (long)blockIdx.x * blockDim.x + threadIdx.x; i < n; i += (long)gridDim.x * blockDim.x) {
        unsigned long long z = ((unsigned long long)i << 16 | w[i]) * 0x9E3779B97F4A7C15ull;
        z ^= z >> 29;
        h += z * 0xBF58476D1CE4E5B9ull;
    }
    for (int o = 16; o > 0; o >>= 1) h += __shfl_xor_sync(0xffffffff, h, o);
    if (threadIdx.x % 32 == 0) atomicAdd(out, h);
}
static unsigned long long bits_hash(const void* p, size_t bytes) {
    static unsigned long long* d = NULL;
    if (!d) device_alloc(&d, sizeof(*d));
    unsigned long long h = 0;
    cudaCheck(cudaMemsetAsync(d, 0, sizeof(*d), cudaStreamPerThread));
    bits_hash_kernel<<<264, 256, 0, cudaStreamPerThread>>>(d, (const uint16_t*)p, (long)(bytes / 2));
    cudaCheck(cudaGetLastError());
    cudaCheck(cudaMemcpyAsync(&h, d, sizeof(h), cudaMemcpyDeviceToHost, cudaStreamPerThread));
    cudaCheck(cudaStreamSynchronize(cudaStreamPerThread));
    return h;
}
static int lt_algo_attr(const cublasLtMatmulAlgo_t* a, cublasLtMatmulAlgoConfigAttributes_t which) {
    uint32_t v = 0; // (for the 32-bit attributes: id, tile, stages, split-K, reduction, swizzle, ...)
    size_t got = 0;
    cublasLtMatmulAlgoConfigGetAttribute(a, which, &v, sizeof(v), &got);
    return (int)v;
}
/* up to max of the kernels cuBLASLt's heuristic ranks for a product (D's layout also C's), within
 * our workspace; returns how many (0 where it has none) */
static int lt_heuristic(cublasLtHandle_t lt, cublasLtMatmulDesc_t op, cublasLtMatrixLayout_t Ad, cublasLtMatrixLayout_t Bd,
                        cublasLtMatrixLayout_t Dd, cublasLtMatmulHeuristicResult_t* res, int max) {
    cublasLtMatmulPreference_t pref;
    uint64_t ws_bytes = CUBLAS_WORKSPACE;
    cublasCheck(cublasLtMatmulPreferenceCreate(&pref));
    cublasCheck(cublasLtMatmulPreferenceSetAttribute(pref, CUBLASLT_MATMUL_PREF_MAX_WORKSPACE_BYTES, &ws_bytes, sizeof(ws_bytes)));
    int found = 0;
    if (cublasLtMatmulAlgoGetHeuristic(lt, op, Ad, Bd, Dd, Dd, pref, max, res, &found) != CUBLAS_STATUS_SUCCESS) found = 0;
    cublasCheck(cublasLtMatmulPreferenceDestroy(pref));
    return found;
}
static bool lt_matmul(cublasOperation_t opA, cublasOperation_t opB, int m, int n, int k, const __nv_bfloat16* A, int lda,
                      const __nv_bfloat16* B, int ldb, float beta, void* D, cudaDataType_t dtype, int ldd,
                      cublasLtEpilogue_t epi = CUBLASLT_EPILOGUE_DEFAULT, void* aux = NULL, const __nv_bfloat16* bias = NULL) {
    // the kernels want 16-byte aligned matrices and leading dimensions that are multiples of 8 (the
    // plan chosen for one layer's pointers is reused for the others', aligned alike when these hold)
    if (ldd % 8 || lda % 8 || ldb % 8 || !aligned(A, 16) || !aligned(B, 16) || !aligned(D, 16) || !aligned(aux, 16) || !aligned(bias, 16))
        return false;
    static cublasLtHandle_t lt = NULL;
    if (!lt) cublasCheck(cublasLtCreate(&lt));
    struct Plan { int m, n, k, lda, ldb, ldd, opA, opB, dtype, epi, bias, beta; bool ok; cublasLtMatmulAlgo_t algo; };
    static Plan plans[64];
    static int n_plans = 0, generation = 0;
    if (generation != lt_generation) n_plans = 0, generation = lt_generation;
    if (lt_tune < 0) {
        const char* env = getenv("SEQM_LT_TUNE");
        lt_tune = env && env[0] == '0' ? 0 : 1;
    }
    cublasLtMatmulDesc_t op;
    cublasLtMatrixLayout_t Ad, Bd, Dd;
    cublasCheck(cublasLtMatmulDescCreate(&op, CUBLAS_COMPUTE_32F, CUDA_R_32F));
    cublasCheck(cublasLtMatmulDescSetAttribute(op, CUBLASLT_MATMUL_DESC_TRANSA, &opA, sizeof(opA)));
    cublasCheck(cublasLtMatmulDescSetAttribute(op, CUBLASLT_MATMUL_DESC_TRANSB, &opB, sizeof(opB)));
    if (epi != CUBLASLT_EPILOGUE_DEFAULT) {
        int64_t ld_aux = ldd;
        cublasCheck(cublasLtMatmulDescSetAttribute(op, CUBLASLT_MATMUL_DESC_EPILOGUE, &epi, sizeof(epi)));
        cublasCheck(cublasLtMatmulDescSetAttribute(op, CUBLASLT_MATMUL_DESC_EPILOGUE_AUX_POINTER, &aux, sizeof(aux)));
        cublasCheck(cublasLtMatmulDescSetAttribute(op, CUBLASLT_MATMUL_DESC_EPILOGUE_AUX_LD, &ld_aux, sizeof(ld_aux)));
    }
    if (bias) // (its type: D's, by default)
        cublasCheck(cublasLtMatmulDescSetAttribute(op, CUBLASLT_MATMUL_DESC_BIAS_POINTER, &bias, sizeof(bias)));
    cublasCheck(cublasLtMatrixLayoutCreate(&Ad, CUDA_R_16BF, opA == CUBLAS_OP_N ? m : k, opA == CUBLAS_OP_N ? k : m, lda));
    cublasCheck(cublasLtMatrixLayoutCreate(&Bd, CUDA_R_16BF, opB == CUBLAS_OP_N ? k : n, opB == CUBLAS_OP_N ? n : k, ldb));
    cublasCheck(cublasLtMatrixLayoutCreate(&Dd, dtype, m, n, ldd));
    const float one = 1.0f;
    auto launch = [&](const cublasLtMatmulAlgo_t* algo) {
        return cublasLtMatmul(lt, op, &one, A, Ad, B, Bd, &beta, D, Dd, D, Dd, algo, cublas_workspace(), CUBLAS_WORKSPACE,
                              cudaStreamPerThread);
    };
    Plan* plan = NULL;
    for (int i = 0; i < n_plans && !plan; i++) {
        Plan* q = &plans[i];
        if (q->m == m && q->n == n && q->k == k && q->lda == lda && q->ldb == ldb && q->ldd == ldd && q->opA == opA && q->opB == opB &&
            q->dtype == dtype && q->epi == epi && q->bias == (bias != NULL) && q->beta == (beta != 0.0f))
            plan = q;
    }
    if (!plan) { // first time for this shape: the heuristic's candidates, timed (see above)
        Plan fresh = {m, n, k, lda, ldb, ldd, opA, opB, dtype, epi, bias != NULL, beta != 0.0f, false, {}};
        cublasLtMatmulHeuristicResult_t res[LT_CANDIDATES];
        int found = lt_heuristic(lt, op, Ad, Bd, Dd, res, LT_CANDIDATES);
        cudaStreamCaptureStatus cap = cudaStreamCaptureStatusNone;
        cudaCheck(cudaStreamIsCapturing(cudaStreamPerThread, &cap));
        if (found > 0) {
            fresh.ok = true;
            fresh.algo = res[0].algo;
        }
        lt_last_chosen = 0;
        if (found > 1 && cap == cudaStreamCaptureStatusNone && lt_tune > 0) {
            size_t bytes = (size_t)ldd * n * (dtype == CUDA_R_32F ? 4 : 2);
            char* saved = NULL; // beta != 0: D is an input too; every run starts from it, and it is put back
            if (beta != 0.0f) {
                saved = (char*)malloc(bytes);
                if (!saved) { fprintf(stderr, "error: out of host memory (%zu bytes)\n", bytes); exit(1); }
                cudaCheck(cudaMemcpy(saved, D, bytes, cudaMemcpyDeviceToHost));
            }
            auto restore = [&] { if (saved) cudaCheck(cudaMemcpyAsync(D, saved, bytes, cudaMemcpyHostToDevice, cudaStreamPerThread)); };
            unsigned long long ref = 0;
            double best = 1e30, first = 0;
            int n_same = 0, chosen = 0;
            int split0 = lt_algo_attr(&res[0].algo, CUBLASLT_ALGO_CONFIG_SPLITK_NUM);
            int red0 = lt_algo_attr(&res[0].algo, CUBLASLT_ALGO_CONFIG_REDUCTION_SCHEME);
            cudaEvent_t e0, e1;
            cudaCheck(cudaEventCreate(&e0));
            cudaCheck(cudaEventCreate(&e1));
            int same[LT_CANDIDATES];
            for (int i = 0; i < found; i++) { // the candidates that give the first one's bits
                const cublasLtMatmulAlgo_t* a = &res[i].algo;
                if (i > 0 && (res[i].workspaceSize > CUBLAS_WORKSPACE || lt_algo_attr(a, CUBLASLT_ALGO_CONFIG_SPLITK_NUM) != split0 ||
                              lt_algo_attr(a, CUBLASLT_ALGO_CONFIG_REDUCTION_SCHEME) != red0))
                    continue; // another split of K: other sums, other bits
                restore();
                if (launch(a) != CUBLAS_STATUS_SUCCESS) {
                    if (i == 0) break; // (then the plan's own launch below finds out)
                    continue;
                }
                unsigned long long h = bits_hash(D, bytes);
                if (i == 0) ref = h;
                if (h == ref) same[n_same++] = i;
            }
            // timed in rounds, each round running every candidate once, after a warm-up: so that
            // none is favoured by coming later (a warmer clock) or earlier
            if (lt_tune == 2 && n_same > 1) { // (tests) the last one, untimed
                chosen = same[n_same - 1];
                fresh.algo = res[chosen].algo;
                n_same = 1; // (nothing to time)
            }
            float ms[LT_CANDIDATES][LT_TIMED];
            for (int r = 0; r < 3 && n_same > 1; r++) launch(&res[same[0]].algo);
            for (int r = 0; r < LT_TIMED && n_same > 1; r++)
                for (int j = 0; j < n_same; j++) {
                    cudaCheck(cudaEventRecord(e0, cudaStreamPerThread));
                    launch(&res[same[j]].algo);
                    cudaCheck(cudaEventRecord(e1, cudaStreamPerThread));
                    cudaCheck(cudaEventSynchronize(e1));
                    cudaCheck(cudaEventElapsedTime(&ms[j][r], e0, e1));
                }
            for (int j = 0; j < n_same && n_same > 1; j++) {
                std::sort(ms[j], ms[j] + LT_TIMED);
                double med = ms[j][LT_TIMED / 2];
                if (j == 0) first = best = med;
                else if (med < best && med < 0.97 * first) { // another kernel only where clearly faster than the first
                    best = med;
                    chosen = same[j];
                    fresh.algo = res[same[j]].algo;
                }
            }
            restore();
            cudaCheck(cudaStreamSynchronize(cudaStreamPerThread));
            free(saved);
            lt_last_chosen = chosen;
            const char* verbose = getenv("SEQM_LT_VERBOSE");
            if (verbose && verbose[0] == '1')
                fprintf(stderr, "matmul %c%c m %d n %d k %d %s epi %d beta %g: %d candidates, %d with the same bits; took #%d (%.4f ms, the first %.4f)\n",
                        opA == CUBLAS_OP_N ? 'N' : 'T', opB == CUBLAS_OP_N ? 'N' : 'T', m, n, k, dtype == CUDA_R_32F ? "fp32" : "bf16",
                        (int)epi, beta, found, n_same, chosen, n_same > 1 ? best : 0.0, first);
            cudaCheck(cudaEventDestroy(e0));
            cudaCheck(cudaEventDestroy(e1));
        }
        plan = n_plans < 64 ? &plans[n_plans++] : &plans[63]; // (a model has a handful of shapes)
        *plan = fresh;
    }
    if (plan->ok && launch(&plan->algo) != CUBLAS_STATUS_SUCCESS)
        plan->ok = false; // refused at run time (nothing launched): this shape takes the other path from now on
    cublasCheck(cublasLtMatrixLayoutDestroy(Ad));
    cublasCheck(cublasLtMatrixLayoutDestroy(Bd));
    cublasCheck(cublasLtMatrixLayoutDestroy(Dd));
    cublasCheck(cublasLtMatmulDescDestroy(op));
    return plan->ok;
}
/* C (m,n) = op(A) op(B) + beta C, column-major, fp32 in and out. fp32 mode: SGEMM. bf16 mode:
 * both operands are rounded to bf16 copies and multiplied on the tensor cores with fp32
 * accumulation (cuBLAS would run fp32 operands as TF32, at half the bf16 rate); C may be bf16
 * (an activation that only feeds bf16 kernels), rounded once from the fp32 accumulators. */
static cudaDataType_t cuda_type(const float*) { return CUDA_R_32F; }
static cudaDataType_t cuda_type(const __nv_bfloat16*) { return CUDA_R_16BF; }
template <typename TA, typename TB, typename TC>
static void gemm(cublasOperation_t opA, cublasOperation_t opB, int m, int n, int k, const TA* A, int lda, const TB* B,
                 int ldb, float beta, TC* C, int ldc) {
    const float one = 1.0f;
    if (use_fp32) { // (only ever called with float operands and output in fp32 mode)
        cublasCheck(cublasGemmEx(cublas_handle(), opA, opB, m, n, k, &one, A, CUDA_R_32F, lda, B, CUDA_R_32F, ldb, &beta, C,
                                 CUDA_R_32F, ldc, CUBLAS_COMPUTE_32F, CUBLAS_GEMM_DEFAULT));
        return;
    }
    static Bf16Scratch sa = {NULL, 0}, sb = {NULL, 0};
    long na = (long)lda * (opA == CUBLAS_OP_N ? k : m), nb = (long)ldb * (opB == CUBLAS_OP_N ? n : k);
    const __nv_bfloat16 *A16 = bf16_copy(&sa, A, na), *B16 = bf16_copy(&sb, B, nb);
    if (lt_matmul(opA, opB, m, n, k, A16, lda, B16, ldb, beta, C, cuda_type(C), ldc)) return;
    cublasCheck(cublasGemmEx(cublas_handle(), opA, opB, m, n, k, &one, A16, CUDA_R_16BF, lda, B16, CUDA_R_16BF, ldb, &beta, C,
                             cuda_type(C), ldc, CUBLAS_COMPUTE_32F, CUBLAS_GEMM_DEFAULT));
}
/* out (N,OC) = inp (N,C) W^T + bias; out fp32, or bf16 in bf16 mode */
template <typename X, typename O>
static void linear_forward(O* out, const X* inp, const float* W, const float* bias, int N, int C, int OC) {
    gemm(CUBLAS_OP_T, CUBLAS_OP_N, OC, N, C, W, C, inp, C, 0.0f, out, OC);
    if (bias) {
        add_bias_kernel<<<ceil_div((long)N * OC, 256), 256>>>(out, bias, N, OC);
        cudaCheck(cudaGetLastError());
    }
}
template <typename X, typename D, typename G>
static void linear_backward_gemms(G* dinp, float* dW, const D* dout, const X* inp, const float* W, int N, int C, int OC,
                                  bool set_dinp) {
    if (dinp) gemm(CUBLAS_OP_N, CUBLAS_OP_N, C, N, OC, W, C, dout, OC, set_dinp ? 0.0f : 1.0f, dinp, C); // dinp^T (C,N) (+)= W^T (C,OC) dout^T (OC,N)
    gemm(CUBLAS_OP_N, CUBLAS_OP_T, C, OC, N, inp, C, dout, OC, grad_set ? 0.0f : 1.0f, dW, C); // dW^T (C,OC) (+)= inp^T (C,N) dout (N,OC)
}
/* dout fp32 (rounded to bf16 once for both GEMMs in bf16 mode), or already bf16. set_dinp: dinp =
 * (the first gradient a buffer gets: no clearing before it, and no read of the old values).
 * dout16: dout's bf16 copy if the caller already has one (bf16 mode; the GEMMs and dbias use it).
 * dinp fp32, or bf16 in bf16 mode where its reader wants that (the attention backward's dout) */
template <typename X, typename D, typename G>
static void linear_backward(G* dinp, float* dW, float* dbias, const D* dout, const X* inp, const float* W,
                            int N, int C, int OC, bool set_dinp = false, const __nv_bfloat16* dout16 = NULL) {
    static Bf16Scratch sd = {NULL, 0};
    if (use_fp32) linear_backward_gemms(dinp, dW, dout, inp, W, N, C, OC, set_dinp);
    else linear_backward_gemms(dinp, dW, dout16 ? dout16 : bf16_copy(&sd, dout, (long)N * OC), inp, W, N, C, OC, set_dinp);
    if (dbias && dout16) bias_grad(dbias, dout16, N, OC);
    else if (dbias) bias_grad(dbias, dout, N, OC);
}
/* ============================================================================================
 * LayerNorm (eps 1e-5), and the kernels it shares with RMSNorm: RMSNorm is LayerNorm with the
 * mean taken as 0 and no bias (template flag RMS). One warp per row. Rows of up to NORM_MAX_C
 * columns are held in registers, lane l owning the float4s at columns 4 (l + 32 k), k < NV, so
 * a row is read once, with 16-byte loads; other widths (C % 4 != 0, C > NORM_MAX_C) and
 * unaligned rows take the strided *_rows kernels, which read a row again for each pass.
 * ============================================================================================ */
#define NORM_MAX_C 1024
/* NV, the float4s a lane holds for C columns, rounded up to a width we instantiate */
static int norm_nv(int C) {
    int nv = ceil_div(C, 128);
    return nv <= 4 ? nv : nv <= 6 ? 6 : 8;
}
/* calls F<NV>(args...) with NV = norm_nv(C) */
#define NORM_NV_SWITCH(C, F, ...)                  \
    switch (norm_nv(C)) {                          \
    case 1: F<1>(__VA_ARGS__); break;              \
    case 2: F<2>(__VA_ARGS__); break;              \
    case 3: F<3>(__VA_ARGS__); break;              \
    case 4: F<4>(__VA_ARGS__); break;              \
    case 6: F<6>(__VA_ARGS__); break;              \
    default: F<8>(__VA_ARGS__); break;             \
    }
/* 4 floats of a register row from and to memory (16-byte aligned; bf16: 8 bytes) */
__device__ inline void ld4(float (&v)[4], const float* p) {
    float4 t = *(const float4*)p;
    v[0] = t.x; v[1] = t.y; v[2] = t.z; v[3] = t.w;
}
__device__ inline void ld4(float (&v)[4], const __nv_bfloat16* p) {
    uint2 t = *(const uint2*)p;
    float2 lo = __bfloat1622float2(*(const __nv_bfloat162*)&t.x), hi = __bfloat1622float2(*(const __nv_bfloat162*)&t.y);
    v[0] = lo.x; v[1] = lo.y; v[2] = hi.x; v[3] = hi.y;
}
__device__ inline void st4(float* p, const float (&v)[4]) { *(float4*)p = make_float4(v[0], v[1], v[2], v[3]); }
__device__ inline void st4(__nv_bfloat16* p, const float (&v)[4]) {
    __nv_bfloat162 lo = __floats2bfloat162_rn(v[0], v[1]), hi = __floats2bfloat162_rn(v[2], v[3]);
    *(uint2*)p = make_uint2(*(const unsigned*)&lo, *(const unsigned*)&hi);
}

/* Forward: y = (x - mean) r w + b, r = 1/sqrt(var + eps) (RMSNorm: mean 0, var = mean(x^2), no
 * b); mean and rstd are kept for the backward. Given a branch, x = inp + branch is the residual
 * add before the norm, written to res (fp32: the backward reads it) in the same pass. */
template <typename X, int NV, bool RMS, typename Br>
__global__ void norm_forward_kernel(X* out, float* mean, float* rstd, float* res, const float* inp, const Br* branch,
                                    const float* w, const float* b, int N, int C, float eps) {
    int row = blockIdx.x * (blockDim.x / 32) + threadIdx.x / 32, lane = threadIdx.x % 32;
    if (row >= N) return;
    long o = (long)row * C;
    float x[NV][4], s = 0, v = 0;
#pragma unroll
    for (int k = 0; k < NV; k++) { // every load of the row issued before the first use
        int c = 4 * (lane + 32 * k);
        float y[4] = {0.0f, 0.0f, 0.0f, 0.0f};
        if (c < C) {
            ld4(x[k], inp + o + c);
            if (branch) ld4(y, branch + o + c);
        } else {
            for (int j = 0; j < 4; j++) x[k][j] = 0.0f;
        }
#pragma unroll
        for (int j = 0; j < 4; j++) x[k][j] += y[j];
    }
#pragma unroll
    for (int k = 0; k < NV; k++) {
        int c = 4 * (lane + 32 * k);
        if (branch && c < C) st4(res + o + c, x[k]);
        for (int j = 0; j < 4; j++) s += x[k][j];
    }
    float m = RMS ? 0.0f : warp_sum(s) / C;
#pragma unroll
    for (int k = 0; k < NV; k++)
        if (4 * (lane + 32 * k) < C)
            for (int j = 0; j < 4; j++) v += (x[k][j] - m) * (x[k][j] - m);
    float r = rsqrtf(warp_sum(v) / C + eps);
#pragma unroll
    for (int k = 0; k < NV; k++) {
        int c = 4 * (lane + 32 * k);
        if (c >= C) continue;
        float wk[4] = {1.0f, 1.0f, 1.0f, 1.0f}, bk[4] = {0.0f, 0.0f, 0.0f, 0.0f}, y[4];
        if (w) ld4(wk, w + c);
        if (b) ld4(bk, b + c);
        for (int j = 0; j < 4; j++) y[j] = (x[k][j] - m) * r * wk[j] + bk[j];
        st4(out + o + c, y);
    }
    if (lane == 0) {
        if (!RMS) mean[row] = m;
        rstd[row] = r;
    }
}
/* any width: the row read from memory in each pass */
template <typename X, bool RMS, typename Br>
__global__ void norm_forward_rows_kernel(X* out, float* mean, float* rstd, float* res, const float* inp, const Br* branch,
                                         const float* w, const float* b, int N, int C, float eps) {
    int row = blockIdx.x * (blockDim.x / 32) + threadIdx.x / 32, lane = threadIdx.x % 32;
    if (row >= N) return;
    long o = (long)row * C;
    const float* x = inp + o;
    if (branch) { // the residual add first (a lane reads back only the columns it wrote)
        for (int c = lane; c < C; c += 32) res[o + c] = x[c] + to_float(branch[o + c]);
        x = res + o;
    }
    float s = 0;
    for (int c = lane; c < C; c += 32) s += x[c];
    float m = RMS ? 0.0f : warp_sum(s) / C;
    float v = 0;
    for (int c = lane; c < C; c += 32) v += (x[c] - m) * (x[c] - m);
    float r = rsqrtf(warp_sum(v) / C + eps);
    for (int c = lane; c < C; c += 32) store_as(&out[o + c], (x[c] - m) * r * (w ? w[c] : 1.0f) + (b ? b[c] : 0.0f));
    if (lane == 0) {
        if (!RMS) mean[row] = m;
        rstd[row] = r;
    }
}
template <int NV, typename X, typename Br>
static void norm_forward_vec(bool rms, X* out, float* mean, float* rstd, float* res, const float* inp, const Br* branch,
                             const float* w, const float* b, int N, int C, float eps) {
    if (rms) norm_forward_kernel<X, NV, true, Br><<<ceil_div(N, 8), 256>>>(out, mean, rstd, res, inp, branch, w, b, N, C, eps);
    else norm_forward_kernel<X, NV, false, Br><<<ceil_div(N, 8), 256>>>(out, mean, rstd, res, inp, branch, w, b, N, C, eps);
}
/* mean unused, b NULL: RMSNorm; branch NULL: no residual add (res unused). The branch is fp32, or
 * bf16 in bf16 mode where its matmul writes it so (the transformer's attention and MLP outputs) */
template <typename X, typename Br>
static void norm_forward(bool rms, X* out, float* mean, float* rstd, float* res, const float* inp, const Br* branch,
                         const float* w, const float* b, int N, int C, float eps) {
    bool vec = C % 4 == 0 && C <= NORM_MAX_C && aligned(out, 4 * sizeof(X)) && aligned(res, 16) && aligned(inp, 16) &&
               aligned(branch, 16) && aligned(w, 16) && aligned(b, 16);
    if (vec) {
        NORM_NV_SWITCH(C, norm_forward_vec, rms, out, mean, rstd, res, inp, branch, w, b, N, C, eps);
    } else if (rms) {
        norm_forward_rows_kernel<X, true, Br><<<ceil_div(N, 8), 256>>>(out, mean, rstd, res, inp, branch, w, b, N, C, eps);
    } else {
        norm_forward_rows_kernel<X, false, Br><<<ceil_div(N, 8), 256>>>(out, mean, rstd, res, inp, branch, w, b, N, C, eps);
    }
    cudaCheck(cudaGetLastError());
}
template <typename X>
static void layernorm_forward(X* out, float* mean, float* rstd, const float* inp, const float* w, const float* b,
                              int N, int C) {
    norm_forward(false, out, mean, rstd, NULL, inp, (const float*)NULL, w, b, N, C, 1e-5f);
}
/* res = inp + branch (the residual add), out = LayerNorm(res): one pass */
template <typename X, typename Br>
static void residual_layernorm_forward(float* res, X* out, float* mean, float* rstd, const float* inp, const Br* branch,
                                       const float* w, const float* b, int N, int C) {
    norm_forward(false, out, mean, rstd, res, inp, branch, w, b, N, C, 1e-5f);
}

/* Backward: dxhat = dy w, xhat = (x - mean) r, dx = r (dxhat - mean(dxhat) - xhat mean(dxhat xhat))
 * (RMSNorm: no mean(dxhat) term), added to dx (+=, as the CPU op); or, given dres, the residual
 * stream's gradient that passes the norm by: dx = dres + ..., written, so that dx needs neither a
 * clearing nor a copy of dres first (dx may be dres). The weight gradients dw = sum
 * dy xhat, db = sum dy are column sums over all rows: each warp sums its rows, each block adds its
 * warps in order into one partial row, and norm_reduce_kernel adds the partial rows in order: the
 * same sums in the same order on every run, no atomics. */
#ifndef NORM_BWD_MINB /* blocks of 256 threads per multiprocessor (launch bounds); 3 measured slower on (b): */
#define NORM_BWD_MINB 2  /* 23.8-24.0 against 23.5-23.6 ms/step (session 18, H100, dev/runs/s18_call3) */
#endif
#define NORM_BWD_BLOCKS (132 * NORM_BWD_MINB)
/* blocks for N rows: at least 64 rows per block, so that small batches leave few partial rows to
 * add */
static int norm_bwd_blocks(int N) { return ceil_div(N, 64) < NORM_BWD_BLOCKS ? ceil_div(N, 64) : NORM_BWD_BLOCKS; }
/* A model's backward defers the last step (norm_defer = true): each norm backward leaves its
 * partial rows in a slot of its own, and norm_reduce_flush adds every pending norm's rows in one
 * launch at the end (config (b): 25 launches of ~4 us become one; the sums and their order are
 * the same). Elsewhere (tests) a norm backward adds its weight gradients before it returns. */
#define NORM_SLOTS 16
struct NormPending { float *dw, *db; const float* partials; int n_blocks, C; bool set; }; // set: grad_set at the call
struct NormPendingList { NormPending e[NORM_SLOTS]; int n; }; // (a kernel argument: 0.5 KB)
static bool norm_defer = false;
static NormPendingList norm_pending = {};
/* dw[c] (+)= sum_k partials[k][c], db[c] (+)= sum_k partials[k][C + c] for pending norm blockIdx.y
 * (= where grad_set was on at its call):
 * blocks of 32 columns x 16 slices of the partial rows (one thread per column walking all of them
 * was latency-bound), the slices added in order */
__global__ void norm_reduce_kernel(NormPendingList list) {
    __shared__ float red[2][16][33];
    NormPending e = list.e[blockIdx.y];
    int tx = threadIdx.x, ty = threadIdx.y, c = blockIdx.x * 32 + tx, C = e.C;
    if (blockIdx.x * 32 >= C) return; // (the grid is as wide as the widest pending norm)
    float sw = 0, sb = 0;
    if (c < C)
        for (int k = ty; k < e.n_blocks; k += 16) {
            sw += e.partials[(long)k * 2 * C + c];
            if (e.db) sb += e.partials[(long)k * 2 * C + C + c];
        }
    red[0][ty][tx] = sw;
    red[1][ty][tx] = sb;
    __syncthreads();
    if (ty > 0 || c >= C) return;
    for (int i = 1; i < 16; i++) { sw += red[0][i][tx]; sb += red[1][i][tx]; }
    if (e.dw) e.dw[c] = (e.set ? 0.0f : e.dw[c]) + sw;
    if (e.db) e.db[c] = (e.set ? 0.0f : e.db[c]) + sb;
}
static void norm_reduce_flush() {
    if (norm_pending.n == 0) return;
    int C = 0;
    for (int i = 0; i < norm_pending.n; i++) C = norm_pending.e[i].C > C ? norm_pending.e[i].C : C;
    norm_reduce_kernel<<<dim3(ceil_div(C, 32), norm_pending.n), dim3(32, 16)>>>(norm_pending);
    cudaCheck(cudaGetLastError());
    norm_pending.n = 0;
}
/* the partial rows of the next norm backward (NORM_BWD_BLOCKS x 2C floats: a block's dw then db)
 * in a slot of a buffer grown once; when every slot is pending, they are added first */
static float* norm_partials(int C) {
    static float* p = NULL;
    static size_t cap = 0;
    size_t slot = (size_t)NORM_BWD_BLOCKS * 2 * C;
    if (norm_pending.n == NORM_SLOTS || (slot * NORM_SLOTS * sizeof(float) > cap && norm_pending.n > 0)) norm_reduce_flush();
    scratch_grow(&p, &cap, slot * NORM_SLOTS * sizeof(float));
    return p + slot * norm_pending.n;
}
/* norm backward's last step: the weight gradients from the partial rows, now or deferred */
static void norm_reduce(float* dw, float* db, const float* partials, int n_blocks, int C) {
    norm_pending.e[norm_pending.n++] = {dw, db, partials, n_blocks, C, grad_set};
    if (!norm_defer) norm_reduce_flush();
}
/* rows strided over the grid, one warp each, the row (x, dy) in registers: read once. Each warp
 * sums its rows' dw, db into its own slice of shared memory (registers would halve the warps that
 * fit on a multiprocessor, and these loads need many in flight). */
template <int NV, bool RMS, typename D>
__global__ void __launch_bounds__(256, NORM_BWD_MINB) norm_backward_kernel(float* dinp, __nv_bfloat16* dinp16, float* partials, const D* dout,
                                                               const float* inp, const float* dres, const float* w, const float* mean,
                                                               const float* rstd, int N, int C) {
    extern __shared__ __align__(16) float red[]; // (warps, 2C): each warp's dw (C) and db (C)
    int warps = blockDim.x / 32, lane = threadIdx.x % 32;
    float* acc = red + (long)(threadIdx.x / 32) * 2 * C;
    for (int c = lane; c < 2 * C; c += 32) acc[c] = 0.0f;
    __syncwarp(); // from here on a lane owns the columns of its register row
    for (int row = blockIdx.x * warps + threadIdx.x / 32; row < N; row += gridDim.x * warps) {
        long o = (long)row * C;
        float m = RMS ? 0.0f : mean[row], r = rstd[row], s1 = 0, s2 = 0;
        const float* base = (dres ? dres : dinp) + o; // what dx adds to
        float x[NV][4], dy[NV][4], v[NV][4];            // x becomes xhat, dy dxhat
#pragma unroll
        for (int k = 0; k < NV; k++) { // every load of the row issued before the first use
            int c = 4 * (lane + 32 * k);
            if (c < C) { ld4(x[k], inp + o + c); ld4(dy[k], dout + o + c); ld4(v[k], base + c); }
            else for (int j = 0; j < 4; j++) x[k][j] = dy[k][j] = 0.0f; // adds nothing below
        }
#pragma unroll
        for (int k = 0; k < NV; k++) {
            int c = 4 * (lane + 32 * k);
            if (c >= C) continue;
            float wk[4] = {1.0f, 1.0f, 1.0f, 1.0f}, dw[4], db[4];
            if (w) ld4(wk, w + c);
            ld4(dw, acc + c);
            if (!RMS) ld4(db, acc + C + c);
#pragma unroll
            for (int j = 0; j < 4; j++) {
                float xhat = (x[k][j] - m) * r, dxhat = dy[k][j] * wk[j];
                s1 += dxhat;
                s2 += dxhat * xhat;
                dw[j] += dy[k][j] * xhat;
                db[j] += dy[k][j];
                x[k][j] = xhat;
                dy[k][j] = dxhat;
            }
            st4(acc + c, dw);
            if (!RMS) st4(acc + C + c, db);
        }
        s1 = RMS ? 0.0f : warp_sum(s1) / C;
        s2 = warp_sum(s2) / C;
#pragma unroll
        for (int k = 0; k < NV; k++) {
            int c = 4 * (lane + 32 * k);
            if (c >= C) continue;
#pragma unroll
            for (int j = 0; j < 4; j++) v[k][j] += r * (dy[k][j] - s1 - x[k][j] * s2);
            st4(dinp + o + c, v[k]);
            if (dinp16) st4(dinp16 + o + c, v[k]);
        }
    }
    __syncthreads();
    for (int c = threadIdx.x; c < (RMS ? C : 2 * C); c += blockDim.x) { // the block's partial row: its warps in order
        float s = 0;
        for (int i = 0; i < warps; i++) s += red[(long)i * 2 * C + c];
        partials[(long)blockIdx.x * 2 * C + c] = s;
    }
}
/* any width: the row read from memory in each pass, one warp per block, whose lanes own their
 * columns of the block's partial row (plain adds, in row order) */
template <bool RMS, typename D>
__global__ void norm_backward_rows_kernel(float* dinp, __nv_bfloat16* dinp16, float* partials, const D* dout, const float* inp,
                                          const float* dres, const float* w, const float* mean, const float* rstd, int N, int C) {
    int lane = threadIdx.x;
    float* acc = partials + (long)blockIdx.x * 2 * C; // dw (C), db (C)
    for (int c = lane; c < 2 * C; c += 32) acc[c] = 0.0f;
    for (int row = blockIdx.x; row < N; row += gridDim.x) {
        const float* x = inp + (long)row * C;
        const D* dy = dout + (long)row * C;
        float m = RMS ? 0.0f : mean[row], r = rstd[row], s1 = 0, s2 = 0;
        for (int c = lane; c < C; c += 32) {
            float xhat = (x[c] - m) * r, dxhat = to_float(dy[c]) * (w ? w[c] : 1.0f);
            s1 += dxhat;
            s2 += dxhat * xhat;
        }
        s1 = RMS ? 0.0f : warp_sum(s1) / C;
        s2 = warp_sum(s2) / C;
        float* dx = dinp + (long)row * C;
        const float* base = dres ? dres + (long)row * C : dx; // what dx adds to
        for (int c = lane; c < C; c += 32) {
            float dyc = to_float(dy[c]), xhat = (x[c] - m) * r, dxhat = dyc * (w ? w[c] : 1.0f);
            dx[c] = base[c] + r * (dxhat - s1 - xhat * s2);
            if (dinp16) dinp16[(long)row * C + c] = __float2bfloat16(dx[c]);
            acc[c] += dyc * xhat;
            acc[C + c] += dyc;
        }
    }
}
template <int NV, typename D>
static void norm_backward_vec(bool rms, int nb, float* dinp, __nv_bfloat16* dinp16, float* partials, const D* dout,
                              const float* inp, const float* dres, const float* w, const float* mean, const float* rstd, int N, int C) {
    static bool configured = false;
    if (!configured) { // 8 warps' dw, db: 64 KB at NORM_MAX_C, over the default 48
        int most = 8 * 2 * NORM_MAX_C * sizeof(float);
        cudaCheck(cudaFuncSetAttribute(norm_backward_kernel<NV, true, D>, cudaFuncAttributeMaxDynamicSharedMemorySize, most));
        cudaCheck(cudaFuncSetAttribute(norm_backward_kernel<NV, false, D>, cudaFuncAttributeMaxDynamicSharedMemorySize, most));
        configured = true;
    }
    size_t smem = 8 * 2 * C * sizeof(float); // 256 threads: 8 warps
    if (rms) norm_backward_kernel<NV, true, D><<<nb, 256, smem>>>(dinp, dinp16, partials, dout, inp, dres, w, mean, rstd, N, C);
    else norm_backward_kernel<NV, false, D><<<nb, 256, smem>>>(dinp, dinp16, partials, dout, inp, dres, w, mean, rstd, N, C);
}
/* db NULL, mean unused: RMSNorm; dres NULL: dx +=. dinp16: also a bf16 copy of dx (the residual
 * stream's gradient is the next matmul backward's operand: this saves it a rounding pass). dout
 * fp32, or bf16 as bf16 mode's matmul backwards write it where the norm is its only reader */
template <typename D>
static void norm_backward(bool rms, float* dinp, float* dw, float* db, const D* dout, const float* inp, const float* dres,
                          const float* w, const float* mean, const float* rstd, int N, int C, __nv_bfloat16* dinp16 = NULL) {
    float* partials = norm_partials(C);
    int nb = norm_bwd_blocks(N);
    bool vec = C % 4 == 0 && C <= NORM_MAX_C && aligned(dinp, 16) && aligned(dout, 16) && aligned(inp, 16) && aligned(dres, 16) &&
               aligned(w, 16) && aligned(dinp16, 8);
    if (vec) {
        NORM_NV_SWITCH(C, norm_backward_vec, rms, nb, dinp, dinp16, partials, dout, inp, dres, w, mean, rstd, N, C);
    } else if (rms) {
        norm_backward_rows_kernel<true, D><<<nb, 32>>>(dinp, dinp16, partials, dout, inp, dres, w, mean, rstd, N, C);
    } else {
        norm_backward_rows_kernel<false, D><<<nb, 32>>>(dinp, dinp16, partials, dout, inp, dres, w, mean, rstd, N, C);
    }
    cudaCheck(cudaGetLastError());
    norm_reduce(dw, db, partials, nb, C);
}
template <typename D>
static void layernorm_backward(float* dinp, float* dw, float* db, const D* dout, const float* inp, const float* w,
                               const float* mean, const float* rstd, int N, int C, const float* dres = NULL,
                               __nv_bfloat16* dinp16 = NULL) {
    norm_backward(false, dinp, dw, db, dout, inp, dres, w, mean, rstd, N, C, dinp16);
}

/* ============================================================================================
 * RMSNorm: LayerNorm's kernels with RMS set
 * ============================================================================================ */
template <typename X>
static void rmsnorm_forward(X* out, float* rstd, const float* inp, const float* w, int N, int C, double eps) {
    norm_forward(true, out, NULL, rstd, NULL, inp, (const float*)NULL, w, NULL, N, C, (float)eps);
}
/* res = inp + branch (the residual add), out = RMSNorm(res): one pass */
template <typename X, typename Br>
static void residual_rmsnorm_forward(float* res, X* out, float* rstd, const float* inp, const Br* branch, const float* w,
                                     int N, int C, double eps) {
    norm_forward(true, out, NULL, rstd, res, inp, branch, w, NULL, N, C, (float)eps);
}
template <typename D>
static void rmsnorm_backward(float* dinp, float* dw, const D* dout, const float* inp, const float* w,
                             const float* rstd, int N, int C, const float* dres = NULL, __nv_bfloat16* dinp16 = NULL) {
    norm_backward(true, dinp, dw, NULL, dout, inp, dres, w, NULL, rstd, N, C, dinp16);
}

/* ============================================================================================
 * GELU (tanh form), computed as u * sigmoid(2z) like the CPU op
 * ============================================================================================ */
#define GELU_SCALE_F 0.7978845608028654f
__device__ inline float gelu_sig(float u) { return 1.0f / (1.0f + expf(-2.0f * GELU_SCALE_F * (u + 0.044715f * u * u * u))); }
__device__ inline float gelu_grad_dev(float u) {
    float s = gelu_sig(u), th = 2.0f * s - 1.0f;
    return s + 0.5f * u * (1.0f - th * th) * GELU_SCALE_F * (1.0f + 3.0f * 0.044715f * u * u);
}
/* 8 elements per thread (n % 8 == 0: the MLP width times the rows; else one at a time) */
template <typename X, typename I>
__global__ void gelu_forward_kernel(X* out, const I* inp, long n) {
    long i = ((long)blockIdx.x * blockDim.x + threadIdx.x) * 8;
    if (i >= n) return;
    if (n % 8 == 0) {
        float v[8];
        load8(v, inp + i);
        for (int k = 0; k < 8; k++) v[k] *= gelu_sig(v[k]);
        store8(out + i, v);
    } else {
        for (long e = i; e < min(n, i + 8); e++) store_as(&out[e], to_float(inp[e]) * gelu_sig(to_float(inp[e])));
    }
}
template <typename X, typename I> /* inp fp32, or bf16 in bf16 mode (the c_fc matmul writes bf16) */
static void gelu_forward(X* out, const I* inp, long n) {
    gelu_forward_kernel<<<ceil_div(ceil_div(n, 8), 256), 256>>>(out, inp, n);
    cudaCheck(cudaGetLastError());
}
template <typename D, typename I>
__global__ void gelu_backward_kernel(D* dinp, const I* inp, const float* dout, long n) {
    long i = ((long)blockIdx.x * blockDim.x + threadIdx.x) * 8;
    if (i >= n) return;
    if (n % 8 == 0) {
        float u[8], d[8];
        load8(u, inp + i);
        load8(d, dout + i);
        for (int k = 0; k < 8; k++) d[k] *= gelu_grad_dev(u[k]);
        store8(dinp + i, d);
    } else {
        for (long e = i; e < min(n, i + 8); e++) store_as(&dinp[e], dout[e] * gelu_grad_dev(to_float(inp[e])));
    }
}
/* dinp = (set, not +=) dout * GELU'(inp). bf16 mode: inp and dinp bf16; dinp only feeds the
 * c_fc matmul's backward, which would round it anyway */
template <typename D, typename I>
static void gelu_backward(D* dinp, const I* inp, const float* dout, long n) {
    gelu_backward_kernel<<<ceil_div(ceil_div(n, 8), 256), 256>>>(dinp, inp, dout, n);
    cudaCheck(cudaGetLastError());
}
/* The MLP's first layer and its GELU, as seqmodels.h's linear_gelu_forward: out = inp W^T + bias
 * (the pre-activation, kept for the backward), act = GELU(out). bf16 mode: one cuBLASLt matmul
 * whose epilogue writes both; else (fp32 mode, or no cuBLASLt kernel) the matmul, then GELU. */
static bool linear_gelu_fused(float*, float*, const float*, const float*, const float*, int, int, int) { return false; }
static bool linear_gelu_fused(__nv_bfloat16* out, __nv_bfloat16* act, const __nv_bfloat16* inp, const float* W, const float* bias,
                              int N, int C, int OC) {
    static Bf16Scratch sw = {NULL, 0}, sb = {NULL, 0};
    return lt_matmul(CUBLAS_OP_T, CUBLAS_OP_N, OC, N, C, bf16_copy(&sw, W, (long)OC * C), C, inp, C, 0.0f, act, CUDA_R_16BF, OC,
                     bias ? CUBLASLT_EPILOGUE_GELU_AUX_BIAS : CUBLASLT_EPILOGUE_GELU_AUX, out, bias ? bf16_copy(&sb, bias, OC) : NULL);
}
template <typename X>
static void linear_gelu_forward(X* out, X* act, const X* inp, const float* W, const float* bias, int N, int C, int OC) {
    if (!use_fp32 && linear_gelu_fused(out, act, inp, W, bias, N, C, OC)) return;
    linear_forward(out, inp, W, bias, N, C, OC);
    gelu_forward(act, out, (long)N * OC);
}
/* The MLP's second layer's backward with the GELU's, as linear_backward_ex(LIN_SET_GELU_GRAD):
 * dgelu_in = (dout W) * GELU'(gelu_in), written (the gradient of the first layer's output, in the
 * activation type: bf16 mode writes the operand of c_fc's backward directly); dW, dbias +=. bf16
 * mode: the GELU' is the matmul's epilogue, so the (N, C) fp32 gradient of the GELU output never
 * exists; else dact (N, C) holds it between the matmul and gelu_backward (NULL: a scratch buffer). */
static bool dgelu_fused(float*, const float*, const __nv_bfloat16*, const float*, int, int, int) { return false; }
static bool dgelu_fused(__nv_bfloat16* dgelu_in, const __nv_bfloat16* gelu_in, const __nv_bfloat16* dout16, const float* W,
                        int N, int C, int OC) {
    static Bf16Scratch sw = {NULL, 0};
    return lt_matmul(CUBLAS_OP_N, CUBLAS_OP_N, C, N, OC, bf16_copy(&sw, W, (long)OC * C), C, dout16, OC, 0.0f, dgelu_in, CUDA_R_16BF, C,
                     CUBLASLT_EPILOGUE_DGELU, (void*)gelu_in, NULL);
}
template <typename X, typename D>
static void linear_backward_gelu(X* dgelu_in, float* dact, const X* gelu_in, float* dW, float* dbias, const D* dout,
                                 const X* act, const float* W, int N, int C, int OC, const __nv_bfloat16* dout16 = NULL) {
    if (use_fp32) {
        linear_backward(dact, dW, dbias, dout, act, W, N, C, OC, true);
        gelu_backward(dgelu_in, gelu_in, dact, (long)N * C);
        return;
    }
    static Bf16Scratch sd = {NULL, 0};
    bool given16 = dout16 != NULL;
    if (!dout16) dout16 = bf16_copy(&sd, dout, (long)N * OC); // rounded once for both matmuls (if fp32)
    bool fused = dgelu_fused(dgelu_in, gelu_in, dout16, W, N, C, OC);
    static float* own = NULL; // dact NULL: the unfused path's (N, C) in a buffer of its own, made only if needed
    static size_t own_cap = 0;
    if (!fused && !dact) {
        scratch_grow(&own, &own_cap, (size_t)N * C * sizeof(float));
        dact = own;
    }
    linear_backward_gemms(fused ? NULL : dact, dW, dout16, act, W, N, C, OC, true);
    if (!fused) gelu_backward(dgelu_in, gelu_in, dact, (long)N * C);
    if (dbias && given16) bias_grad(dbias, dout16, N, OC);
    else if (dbias) bias_grad(dbias, dout, N, OC);
}

/* ============================================================================================
 * SwiGLU: out = silu(gate) * up
 * ============================================================================================ */
template <typename X, typename I>
__global__ void swiglu_forward_kernel(X* out, const I* gate, const I* up, long n) {
    long i = (long)blockIdx.x * blockDim.x + threadIdx.x;
    if (i < n) {
        float g = to_float(gate[i]);
        store_as(&out[i], g / (1.0f + expf(-g)) * to_float(up[i]));
    }
}
template <typename X, typename I> /* gate, up fp32, or bf16 in bf16 mode (written so by their matmuls) */
static void swiglu_forward(X* out, const I* gate, const I* up, long n) {
    swiglu_forward_kernel<<<ceil_div(n, 256), 256>>>(out, gate, up, n);
    cudaCheck(cudaGetLastError());
}
template <typename I>
__global__ void swiglu_backward_kernel(float* dgate, float* dup, const float* dout, const I* gate, const I* up, long n) {
    long i = (long)blockIdx.x * blockDim.x + threadIdx.x;
    if (i >= n) return;
    float g = to_float(gate[i]), u = to_float(up[i]), s = 1.0f / (1.0f + expf(-g));
    dgate[i] = dout[i] * u * (s + g * s * (1.0f - s)); // set, not +=: the first (only) gradient they get
    dup[i] = dout[i] * g * s;
}
template <typename I>
static void swiglu_backward(float* dgate, float* dup, const float* dout, const I* gate, const I* up, long n) {
    swiglu_backward_kernel<<<ceil_div(n, 256), 256>>>(dgate, dup, dout, gate, up, n);
    cudaCheck(cudaGetLastError());
}

/* ============================================================================================
 * RoPE, rotate-half layout, in place on q and k of qkv (B,T,3C); sign -1 = backward
 * ============================================================================================ */
template <typename X>
__global__ void rope_rotate_kernel(X* qkv, int BT, int T, int C, int H, int sign) {
    int hs = C / H, half = hs / 2;
    long i = (long)blockIdx.x * blockDim.x + threadIdx.x; // over (bt, part, h, i)
    if (i >= (long)BT * 2 * H * half) return;
    int k = (int)(i % half), h = (int)((i / half) % H), part = (int)((i / half / H) % 2), bt = (int)(i / half / H / 2);
    double angle = (bt % T) * pow(10000.0, -2.0 * k / hs); // double like the CPU op: long contexts stay exact
    float cs = (float)cos(angle), sn = (float)(sign * sin(angle));
    X* x = qkv + (long)bt * 3 * C + part * C + h * hs;
    float x1 = to_float(x[k]), x2 = to_float(x[k + half]);
    store_as(&x[k], x1 * cs - x2 * sn);
    store_as(&x[k + half], x2 * cs + x1 * sn);
}
template <typename X> /* qkv fp32, or bf16 in bf16 mode (rotated in fp32, rounded once) */
static void rope_forward(X* qkv, int B, int T, int C, int H) {
    rope_rotate_kernel<<<ceil_div((long)B * T * C, 256), 256>>>(qkv, B * T, T, C, H, +1);
    cudaCheck(cudaGetLastError());
}
template <typename X>
static void rope_backward(X* dqkv, int B, int T, int C, int H) {
    rope_rotate_kernel<<<ceil_div((long)B * T * C, 256), 256>>>(dqkv, B * T, T, C, H, -1);
    cudaCheck(cudaGetLastError());
}

/* ============================================================================================
 * causal attention, flash-style (attention.md §4), first version: one warp per query row, the
 * head dimension spread over the lanes (hs <= 128). The forward streams the keys with an online
 * softmax (running max m, sum l, output o) and saves LSE = m + log l per row; no (T,T) matrix is
 * ever stored. The backward recomputes p = exp(s - LSE): dQ per query row, then dK, dV per key
 * row (no atomics).
 * Position biases as in seqmodels.h: ALiBi m_h (j - i); Hard-ALiBi skips keys j < i - h.
 * ============================================================================================ */
__device__ inline uint64_t hash64_dev(uint64_t x) { /* = hash64() of seqmodels.h */
    x += 0x9E3779B97F4A7C15ull;
    x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ull;
    x = (x ^ (x >> 27)) * 0x94D049BB133111EBull;
    return x ^ (x >> 31);
}
/* The step's dropout seed (Model.dropout_seed) lives in device memory: a training step captured
 * once as a CUDA graph then draws new masks at every replay. Kernels take a site number (which
 * dropout in the network) and derive the site's seed as dropout_site() does on the host. */
__device__ uint64_t d_dropout_seed;
__device__ inline uint64_t dropout_site_dev(uint64_t site) { return hash64_dev(d_dropout_seed * 1000003ull + site); }
static void set_dropout_seed(uint64_t s) { cudaCheck(cudaMemcpyToSymbolAsync(d_dropout_seed, &s, sizeof(s))); }
/* = dropout_keep() of seqmodels.h: the same masks on both sides */
__device__ inline bool dropout_keep_dev(uint64_t seed, uint64_t i, float p) {
    return (hash64_dev(seed ^ (i * 0xD1B54A32D192ED03ull)) >> 40) * (1.0 / 16777216.0) >= p;
}
/* the factor of attention dropout for element idx = ((b H + h) T + i) T + j: 1 without dropout,
 * else 0 or 1 / (1 - p) */
__device__ inline float attn_drop_mult(float p_drop, uint64_t seed, uint64_t idx) {
    return p_drop <= 0.0f ? 1.0f : dropout_keep_dev(seed, idx, p_drop) ? 1.0f / (1.0f - p_drop) : 0.0f;
}
#define ATT_MAX_PER_LANE 4 /* hs <= 4 * 32 */
__device__ inline double alibi_slope_dev(int h, int H) { /* same as alibi_slope() */
    int P = 1;
    while (P * 2 <= H) P *= 2;
    if (h < P) return pow(2.0, -8.0 * (h + 1) / P);
    return pow(2.0, -8.0 * (2 * (h - P) + 1) / (2.0 * P));
}
__device__ inline int attn_first_key(int pos, int n_masked, int h, int i) {
    return (pos == POS_HARD_ALIBI && h < n_masked && i - h > 0) ? i - h : 0;
}
template <typename X, typename Q>
__global__ void attention_forward_kernel(X* out, float* lse, const Q* qkv, int B, int T, int C, int H, int pos,
                                         int n_masked, float p_drop, uint64_t site) {
    uint64_t seed = dropout_site_dev(site); // this step's seed of the site (d_dropout_seed)
    long row = ((long)blockIdx.x * blockDim.x + threadIdx.x) / 32; // (b, h, i)
    int lane = threadIdx.x % 32;
    if (row >= (long)B * H * T) return;
    int i = (int)(row % T), h = (int)((row / T) % H), b = (int)(row / ((long)T * H)), hs = C / H;
    float scale = rsqrtf((float)hs), slope = pos == POS_ALIBI ? (float)alibi_slope_dev(h, H) : 0.0f;
    const Q* q = qkv + ((long)b * T + i) * 3 * C + h * hs;
    float qr[ATT_MAX_PER_LANE], o[ATT_MAX_PER_LANE];
    for (int r = 0; r < ATT_MAX_PER_LANE; r++) {
        int d = lane + 32 * r;
        qr[r] = d < hs ? to_float(q[d]) * scale : 0.0f;
        o[r] = 0.0f;
    }
    float m = -INFINITY, l = 0.0f;
    for (int j = attn_first_key(pos, n_masked, h, i); j <= i; j++) {
        const Q* k = qkv + ((long)b * T + j) * 3 * C + C + h * hs;
        const Q* v = k + C;
        float s = 0.0f;
        for (int r = 0; r < ATT_MAX_PER_LANE; r++) {
            int d = lane + 32 * r;
            if (d < hs) s += qr[r] * to_float(k[d]);
        }
        s = warp_sum(s) + slope * (j - i);
        float m_new = fmaxf(m, s), corr = expf(m - m_new), p = expf(s - m_new);
        l = l * corr + p; // the sum of the undropped probabilities; O takes the dropped ones
        float pd = p * attn_drop_mult(p_drop, seed, (uint64_t)row * T + j);
        for (int r = 0; r < ATT_MAX_PER_LANE; r++) {
            int d = lane + 32 * r;
            if (d < hs) o[r] = o[r] * corr + pd * to_float(v[d]);
        }
        m = m_new;
    }
    X* y = out + ((long)b * T + i) * C + h * hs;
    for (int r = 0; r < ATT_MAX_PER_LANE; r++) {
        int d = lane + 32 * r;
        if (d < hs) store_as(&y[d], o[r] / l);
    }
    if (lane == 0) lse[row] = m + logf(l);
}
template <typename X, typename Q>
static void attention_forward_rows(X* out, float* lse, const Q* qkv, int B, int T, int C, int H, int pos, int n_masked,
                                   float p_drop, uint64_t site) {
    if (C / H > 32 * ATT_MAX_PER_LANE) { fprintf(stderr, "error: attention kernel supports head size <= %d\n", 32 * ATT_MAX_PER_LANE); exit(1); }
    attention_forward_kernel<<<ceil_div((long)B * H * T * 32, 256), 256>>>(out, lse, qkv, B, T, C, H, pos, n_masked, p_drop, site);
    cudaCheck(cudaGetLastError());
}
/* The backward in two passes without atomics, so that its sums have one order and every run
 * gives the same bits (the fp32 mode is what test_gpu compares run against run):
 *   1. one warp per query row (b, h, i), over its keys in order: dQ += dS K * scale, and the row
 *      dot D_i = rowsum(dO_i O_i), kept for pass 2;
 *   2. one warp per key row (b, h, j), over the queries that see it in order: dV += P^T dO,
 *      dK += dS^T Q * scale.
 * Both recompute s = q.k * scale (+ the ALiBi bias), P = exp(s - LSE), dP = dO V^T and
 * dS = P (dP - D) (through the dropout mask). */
template <typename X, typename Q>
__global__ void attention_backward_dq_rows_kernel(float* dqkv, float* Drow, const float* dout, const X* out, const Q* qkv,
                                                  const float* lse, int B, int T, int C, int H, int pos, int n_masked,
                                                  float p_drop, uint64_t site) {
    uint64_t seed = dropout_site_dev(site); // this step's seed of the site (d_dropout_seed)
    long row = ((long)blockIdx.x * blockDim.x + threadIdx.x) / 32; // (b, h, i)
    int lane = threadIdx.x % 32;
    if (row >= (long)B * H * T) return;
    int i = (int)(row % T), h = (int)((row / T) % H), b = (int)(row / ((long)T * H)), hs = C / H;
    float scale = rsqrtf((float)hs), slope = pos == POS_ALIBI ? (float)alibi_slope_dev(h, H) : 0.0f;
    long qoff = ((long)b * T + i) * 3 * C + h * hs, ooff = ((long)b * T + i) * C + h * hs;
    float qr[ATT_MAX_PER_LANE], dor[ATT_MAX_PER_LANE], dq[ATT_MAX_PER_LANE], D = 0.0f;
    for (int r = 0; r < ATT_MAX_PER_LANE; r++) {
        int d = lane + 32 * r;
        qr[r] = d < hs ? to_float(qkv[qoff + d]) * scale : 0.0f;
        dor[r] = d < hs ? dout[ooff + d] : 0.0f;
        D += d < hs ? dor[r] * to_float(out[ooff + d]) : 0.0f;
        dq[r] = 0.0f;
    }
    D = warp_sum(D); // rowsum(dO * O)
    if (lane == 0) Drow[row] = D;
    float L = lse[row];
    for (int j = attn_first_key(pos, n_masked, h, i); j <= i; j++) {
        long koff = ((long)b * T + j) * 3 * C + C + h * hs, voff = koff + C;
        float s = 0.0f, dp = 0.0f;
        for (int r = 0; r < ATT_MAX_PER_LANE; r++) {
            int d = lane + 32 * r;
            if (d < hs) { s += qr[r] * to_float(qkv[koff + d]); dp += dor[r] * to_float(qkv[voff + d]); }
        }
        s = warp_sum(s) + slope * (j - i);
        dp = warp_sum(dp);
        float mult = attn_drop_mult(p_drop, seed, (uint64_t)row * T + j);
        float ds = expf(s - L) * (mult * dp - D);
        for (int r = 0; r < ATT_MAX_PER_LANE; r++) {
            int d = lane + 32 * r;
            if (d < hs) dq[r] += ds * to_float(qkv[koff + d]) * scale; // dQ += dS K * scale
        }
    }
    for (int r = 0; r < ATT_MAX_PER_LANE; r++) {
        int d = lane + 32 * r;
        if (d < hs) dqkv[qoff + d] += dq[r];
    }
}
template <typename Q>
__global__ void attention_backward_dkdv_rows_kernel(float* dqkv, const float* Drow, const float* dout, const Q* qkv,
                                                    const float* lse, int B, int T, int C, int H, int pos, int n_masked,
                                                    float p_drop, uint64_t site) {
    uint64_t seed = dropout_site_dev(site);
    long krow = ((long)blockIdx.x * blockDim.x + threadIdx.x) / 32; // (b, h, j)
    int lane = threadIdx.x % 32;
    if (krow >= (long)B * H * T) return;
    int j = (int)(krow % T), h = (int)((krow / T) % H), b = (int)(krow / ((long)T * H)), hs = C / H;
    float scale = rsqrtf((float)hs), slope = pos == POS_ALIBI ? (float)alibi_slope_dev(h, H) : 0.0f;
    long koff = ((long)b * T + j) * 3 * C + C + h * hs, voff = koff + C, row0 = krow - j; // row0: (b, h, 0)
    float kr[ATT_MAX_PER_LANE], vr[ATT_MAX_PER_LANE], dk[ATT_MAX_PER_LANE], dv[ATT_MAX_PER_LANE];
    for (int r = 0; r < ATT_MAX_PER_LANE; r++) {
        int d = lane + 32 * r;
        kr[r] = d < hs ? to_float(qkv[koff + d]) : 0.0f;
        vr[r] = d < hs ? to_float(qkv[voff + d]) : 0.0f;
        dk[r] = dv[r] = 0.0f;
    }
    // the queries i >= j whose window starts at or before j (attn_first_key grows with i)
    for (int i = j; i < T && attn_first_key(pos, n_masked, h, i) <= j; i++) {
        long qoff = ((long)b * T + i) * 3 * C + h * hs, ooff = ((long)b * T + i) * C + h * hs;
        float qr[ATT_MAX_PER_LANE], dor[ATT_MAX_PER_LANE], s = 0.0f, dp = 0.0f;
        for (int r = 0; r < ATT_MAX_PER_LANE; r++) {
            int d = lane + 32 * r;
            qr[r] = d < hs ? to_float(qkv[qoff + d]) * scale : 0.0f;
            dor[r] = d < hs ? dout[ooff + d] : 0.0f;
            s += qr[r] * kr[r];
            dp += dor[r] * vr[r];
        }
        s = warp_sum(s) + slope * (j - i);
        dp = warp_sum(dp);
        float mult = attn_drop_mult(p_drop, seed, (uint64_t)(row0 + i) * T + j);
        float p = expf(s - lse[row0 + i]), ds = p * (mult * dp - Drow[row0 + i]);
        for (int r = 0; r < ATT_MAX_PER_LANE; r++) {
            dv[r] += mult * p * dor[r]; // dV += P^T dO (P through the dropout mask)
            dk[r] += ds * qr[r];        // dK += dS^T Q * scale (qr holds q * scale)
        }
    }
    for (int r = 0; r < ATT_MAX_PER_LANE; r++) {
        int d = lane + 32 * r;
        if (d < hs) { dqkv[koff + d] += dk[r]; dqkv[voff + d] += dv[r]; }
    }
}
/* Drow: B*H*T floats (the row dots, from pass 1 to pass 2) */
template <typename X, typename Q>
static void attention_backward_rows(float* dqkv, float* Drow, const float* dout, const X* out, const Q* qkv, const float* lse, int B,
                                    int T, int C, int H, int pos, int n_masked, float p_drop, uint64_t site) {
    long threads = (long)B * H * T * 32;
    attention_backward_dq_rows_kernel<<<ceil_div(threads, 256), 256>>>(dqkv, Drow, dout, out, qkv, lse, B, T, C, H, pos, n_masked, p_drop, site);
    cudaCheck(cudaGetLastError());
    attention_backward_dkdv_rows_kernel<<<ceil_div(threads, 256), 256>>>(dqkv, Drow, dout, qkv, lse, B, T, C, H, pos, n_masked, p_drop, site);
    cudaCheck(cudaGetLastError());
}

/* --------------------------------------------------------------------------------------------
 * causal attention, tiled flash version for the tensor cores (head size 64; the bf16 mode).
 * Q, K, V are bf16 (the QKV matmul writes them so). A block of 4 warps owns 64 query rows (16
 * per warp) and walks the key tiles of 64 to the diagonal; the next K, V tile is copied into
 * shared memory (cp.async) while the current one is multiplied. The products are 64 x 64 x 64
 * with fp32 accumulators: on Hopper (sm_90a) one wgmma per 16 of k for the whole block (a
 * warpgroup), operands read from shared memory through descriptors; elsewhere m16n8k16
 * mma.sync per warp, operands read with ldmatrix. Both leave warp w rows 16w.. of the result in
 * the same registers: lane (g = lane / 4, t = lane % 4) holds rows g and g + 8, columns 2t and
 * 2t + 1 of each 16x8 tile; that is also where the next product wants its A operand, so P never
 * leaves the registers (only rounded to bf16), and the softmax, masks and dropout are written
 * once for both engines. Running max m and sum l per row, O rescaled by 2^(m_old - m_new) per
 * key tile; the forward saves LSE = m + log2 l per row, in log2 units (only these kernels read
 * it): exponentials are exp2, the softmax scale times log2(e) folded into the FFMA before each.
 * Backward without atomics, so the gradients are deterministic: one kernel per query tile
 * accumulates dQ = dS K over the key tiles (it runs first and also computes the row dots D_i =
 * rowsum(dO_i * O_i) of its rows), a second one per key tile accumulates dV = P^T dO and
 * dK = dS^T Q over the query tiles; both recompute P = exp(S - LSE) and dS = P (dP - D),
 * dP = dO V^T, and each writes its part of dqkv in bf16 (the QKV matmul's backward operand;
 * every element written once, nothing added). dO arrives in bf16 (the attention projection's
 * backward writes it so). Position biases as in the row kernel.
 * -------------------------------------------------------------------------------------------- */
typedef __nv_bfloat16 bf16;
enum { FA_D = 64, FA_TILE = 64, FA_THREADS = 128 };
#define FA_TILE_ELEMS (FA_TILE * FA_D)
#define LOG2E_F 1.4426950408889634f

/* The tensor-core engine: wgmma on sm_90a (Hopper), mma.sync everywhere else. Both compute the
 * same products with the same accumulator layout, so the kernels below are written once. */
#if defined(__CUDA_ARCH_FEAT_SM90_ALL)
#define FA_WGMMA 1
#else
#define FA_WGMMA 0
#endif

/* Shared tiles are 64 rows x 64 bf16 = 128 bytes a row, unpadded, 1024-byte aligned, and
 * "128-byte swizzled": the 16-byte chunk c of row r is stored at chunk position c ^ (r % 8).
 * That is the layout wgmma's shared-memory descriptors read (mode 1 below), and it keeps the 8
 * rows of an ldmatrix in distinct banks, as padding would. Element offset of chunk c of row r: */
__device__ __forceinline__ int fa_sw(int r, int c) { return r * FA_D + (((c ^ r) & 7) << 3); }

/* c (16x8 fp32) += a (16x16 bf16, row-major) b (16x8 bf16, col-major) */
__device__ __forceinline__ void mma_bf16_16816(float* c, const uint32_t* a, uint32_t b0, uint32_t b1) {
    asm volatile("mma.sync.aligned.m16n8k16.row.col.f32.bf16.bf16.f32 {%0,%1,%2,%3}, {%4,%5,%6,%7}, {%8,%9}, {%0,%1,%2,%3};\n"
                 : "+f"(c[0]), "+f"(c[1]), "+f"(c[2]), "+f"(c[3])
                 : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b0), "r"(b1));
}
/* four 8x8 bf16 matrices from shared memory; lane l gives the address of row l % 8 of matrix
 * l / 8 and receives, from each matrix, row l / 4, columns 2 (l % 4) and 2 (l % 4) + 1 (.trans:
 * column l / 4, rows 2 (l % 4) and 2 (l % 4) + 1) */
__device__ __forceinline__ void ldmatrix_x4(uint32_t* r, const bf16* p) {
    uint32_t a = (uint32_t)__cvta_generic_to_shared(p);
    asm volatile("ldmatrix.sync.aligned.m8n8.x4.shared.b16 {%0,%1,%2,%3}, [%4];\n" : "=r"(r[0]), "=r"(r[1]), "=r"(r[2]), "=r"(r[3]) : "r"(a));
}
__device__ __forceinline__ void ldmatrix_x4_trans(uint32_t* r, const bf16* p) {
    uint32_t a = (uint32_t)__cvta_generic_to_shared(p);
    asm volatile("ldmatrix.sync.aligned.m8n8.x4.trans.shared.b16 {%0,%1,%2,%3}, [%4];\n" : "=r"(r[0]), "=r"(r[1]), "=r"(r[2]), "=r"(r[3]) : "r"(a));
}
__device__ inline uint32_t pack_bf16(float lo, float hi) {
    __nv_bfloat162 v = __floats2bfloat162_rn(lo, hi);
    return *(uint32_t*)&v;
}
/* asynchronous global -> shared copies: 16 bytes (zeros when !valid), 4 bytes */
__device__ inline void cp_async16(void* dst, const void* src, bool valid) {
    asm volatile("cp.async.cg.shared.global [%0], [%1], 16, %2;\n" ::"r"((uint32_t)__cvta_generic_to_shared(dst)), "l"(src), "r"(valid ? 16 : 0));
}
__device__ inline void cp_async4(void* dst, const void* src, bool valid) {
    asm volatile("cp.async.ca.shared.global [%0], [%1], 4, %2;\n" ::"r"((uint32_t)__cvta_generic_to_shared(dst)), "l"(src), "r"(valid ? 4 : 0));
}
/* a hint: bring the 128-byte line holding p into L2 (no registers, no wait; an address outside any
 * allocation is not dereferenced by the callers below) */
__device__ inline void prefetch_l2(const void* p) { asm volatile("prefetch.global.L2 [%0];\n" ::"l"(p)); }
__device__ inline void cp_async_commit() { asm volatile("cp.async.commit_group;\n" ::); }
template <int N>
__device__ inline void cp_async_wait() { asm volatile("cp.async.wait_group %0;\n" ::"n"(N)); }
/* the tiles of every cp.async group but the newest N are in shared memory and visible to the
 * whole block, the tensor cores' reads (wgmma's "async proxy") included */
template <int N>
__device__ __forceinline__ void fa_tiles_ready() {
    cp_async_wait<N>();
#if FA_WGMMA
    asm volatile("fence.proxy.async.shared::cta;\n" ::: "memory");
#endif
    __syncthreads();
}
/* the dynamic shared memory of a tiled kernel, rounded up to the 1024 bytes the swizzle needs
 * (the launch asks for FA_SMEM_ALIGN bytes more) */
#define FA_SMEM_ALIGN 1024
__device__ __forceinline__ unsigned char* fa_smem(unsigned char* smem) {
    uint32_t a = (uint32_t)__cvta_generic_to_shared(smem);
    return smem + ((FA_SMEM_ALIGN - a % FA_SMEM_ALIGN) % FA_SMEM_ALIGN);
}

/* rows [t0, t0 + 64) of a (T, stride) bf16 matrix, 64 columns from src, into a shared tile,
 * asynchronously; rows past T are zeros. Thread x copies chunk x % 8 of rows x / 8 + 16 k: the
 * same swizzled chunk position in each (16 k leaves r % 8 alone), so the addresses are computed
 * once, and only a tile that crosses T checks its rows (address arithmetic was a third of the
 * forward's instructions). */
__device__ __forceinline__ void fa_load_tile(bf16* dst, const bf16* src, long stride, int t0, int T) {
    static_assert(FA_THREADS * 8 == FA_TILE * FA_D / 4, "4 chunks of 16 bytes per thread");
    int r = threadIdx.x / 8, c = threadIdx.x % 8;
    const bf16* from = src + (long)(t0 + r) * stride + c * 8;
    bf16* to = dst + fa_sw(r, c);
    if (t0 + FA_TILE <= T) {
        #pragma unroll
        for (int k = 0; k < 4; k++)
            cp_async16(to + 16 * k * FA_D, from + 16 * k * stride, true);
    } else {
        #pragma unroll
        for (int k = 0; k < 4; k++) {
            bool in = t0 + r + 16 * k < T;
            cp_async16(to + 16 * k * FA_D, in ? from + 16 * k * stride : src, in);
        }
    }
}
/* rows [t0, t0 + 64) of a length-T float vector into shared memory (zeros past T) */
__device__ __forceinline__ void fa_load_vec(float* dst, const float* src, int t0, int T) {
    int i = threadIdx.x;
    if (i < FA_TILE) cp_async4(dst + i, src + (t0 + i < T ? t0 + i : 0), t0 + i < T);
}

/* p (this warp's 16 x 64 fp32 accumulator tiles) as the A operands of 4 steps of k = 16, rounded
 * to bf16: lane (g, t) holds rows g, g + 8, columns 2t, 2t + 1 and 2t + 8, 2t + 9 of each 16 x 16
 * piece, which is where the accumulator has them (so P goes from the softmax to the next product
 * without leaving the registers). For wgmma, packed before the products are issued: registers
 * written between them make the compiler wait */
__device__ __forceinline__ void fa_pack_p(uint32_t (*a)[4], const float (*p)[4]) {
    #pragma unroll
    for (int kc = 0; kc < 4; kc++) {
        a[kc][0] = pack_bf16(p[2 * kc][0], p[2 * kc][1]);
        a[kc][1] = pack_bf16(p[2 * kc][2], p[2 * kc][3]);
        a[kc][2] = pack_bf16(p[2 * kc + 1][0], p[2 * kc + 1][1]);
        a[kc][3] = pack_bf16(p[2 * kc + 1][2], p[2 * kc + 1][3]);
    }
}

#if FA_WGMMA
/* wgmma: the block's 4 warps (one warpgroup) multiply together; warp w receives rows 16w..16w+15
 * of the 64 x 64 product in the same registers as mma.sync's m16n8 tiles (acc[n][e]: row g + 8
 * (e / 2), column 8n + 2t + e % 2). B, and A when not in registers, are read from shared memory
 * through a descriptor: the tile's address, the byte distance between groups of 8 rows (1024:
 * 8 rows of 128 bytes) and the 128-byte swizzle mode. */
__device__ __forceinline__ uint64_t wg_desc(const bf16* tile) {
    uint32_t a = (uint32_t)__cvta_generic_to_shared(tile);
    return (uint64_t)((a & 0x3FFFF) >> 4) | (uint64_t)(16 >> 4) << 16 | (uint64_t)(1024 >> 4) << 32 | (uint64_t)1 << 62;
}
__device__ __forceinline__ void wg_fence() { asm volatile("wgmma.fence.sync.aligned;\n" ::: "memory"); }
__device__ __forceinline__ void wg_commit() { asm volatile("wgmma.commit_group.sync.aligned;\n" ::: "memory"); }
/* the accumulators are read only after the wait: tie them to it so the compiler keeps the order */
__device__ __forceinline__ void wg_hold(float (*d)[4]) {
    #pragma unroll
    for (int n = 0; n < 8; n++)
        #pragma unroll
        for (int e = 0; e < 4; e++) asm volatile("" : "+f"(d[n][e])::"memory");
}
#define WG_ACC(d) "+f"(d[0][0]), "+f"(d[0][1]), "+f"(d[0][2]), "+f"(d[0][3]), "+f"(d[1][0]), "+f"(d[1][1]), "+f"(d[1][2]), "+f"(d[1][3]), \
    "+f"(d[2][0]), "+f"(d[2][1]), "+f"(d[2][2]), "+f"(d[2][3]), "+f"(d[3][0]), "+f"(d[3][1]), "+f"(d[3][2]), "+f"(d[3][3]),          \
    "+f"(d[4][0]), "+f"(d[4][1]), "+f"(d[4][2]), "+f"(d[4][3]), "+f"(d[5][0]), "+f"(d[5][1]), "+f"(d[5][2]), "+f"(d[5][3]),          \
    "+f"(d[6][0]), "+f"(d[6][1]), "+f"(d[6][2]), "+f"(d[6][3]), "+f"(d[7][0]), "+f"(d[7][1]), "+f"(d[7][2]), "+f"(d[7][3])
#define WG_D32 "{%0, %1, %2, %3, %4, %5, %6, %7, %8, %9, %10, %11, %12, %13, %14, %15, %16, %17, %18, %19, %20, %21, %22, %23, " \
               "%24, %25, %26, %27, %28, %29, %30, %31}"
/* d (64x64) (+)= A (64x16) B (16x64), A and B^T (64 x 16) read from shared memory, both with the
 * 16 k-elements contiguous ("K-major"); accumulate = 0 overwrites d */
__device__ __forceinline__ void wg_mma_ss(float (*d)[4], uint64_t desc_a, uint64_t desc_b, int accumulate) {
    asm volatile("{\n.reg .pred p;\nsetp.ne.b32 p, %34, 0;\n"
                 "wgmma.mma_async.sync.aligned.m64n64k16.f32.bf16.bf16 " WG_D32 ", %32, %33, p, 1, 1, 0, 0;\n}\n"
                 : WG_ACC(d) : "l"(desc_a), "l"(desc_b), "r"(accumulate));
}
/* d (64x64) += A (64x16, this warp's 16 rows in 4 registers, mma.sync's A layout) B (16x64), B
 * read from shared memory with its 64 n-elements contiguous ("MN-major": the transpose bit) */
__device__ __forceinline__ void wg_mma_rs_bt(float (*d)[4], const uint32_t* a, uint64_t desc_b) {
    asm volatile("{\n.reg .pred p;\nsetp.ne.b32 p, %37, 0;\n"
                 "wgmma.mma_async.sync.aligned.m64n64k16.f32.bf16.bf16 " WG_D32 ", {%32, %33, %34, %35}, %36, p, 1, 1, 1;\n}\n"
                 : WG_ACC(d) : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "l"(desc_b), "r"(1));
}
/* issue acc = A B^T (A, Bt: shared 64 x 64 tiles): 4 steps of k = 16, each 32 bytes further
 * along the swizzled rows (the descriptor's address is in 16-byte units) */
__device__ __forceinline__ void wg_issue_abt(float (*acc)[4], const bf16* A, const bf16* Bt) {
    uint64_t da = wg_desc(A), db = wg_desc(Bt);
    #pragma unroll
    for (int kc = 0; kc < 4; kc++) wg_mma_ss(acc, da + 2 * kc, db + 2 * kc, kc > 0);
}
/* issue acc += A B (A packed by fa_pack_p; B a shared 64 x 64 tile): step kc takes rows 16 kc..
 * of B, 2048 bytes further */
__device__ __forceinline__ void wg_issue_pb(float (*acc)[4], const uint32_t (*a)[4], const bf16* B) {
    uint64_t db = wg_desc(B);
    #pragma unroll
    for (int kc = 0; kc < 4; kc++) wg_mma_rs_bt(acc, a[kc], db + 128 * kc);
}
#else
/* the A fragments (4 chunks of 16 columns) of rows r0.. r0 + 15 of a shared tile */
__device__ __forceinline__ void fa_frag_a(uint32_t (*a)[4], const bf16* tile, int r0) {
    int lane = threadIdx.x % 32;
    #pragma unroll
    for (int kc = 0; kc < 4; kc++) ldmatrix_x4(a[kc], tile + fa_sw(r0 + ((lane >> 3) & 1) * 8 + (lane & 7), 2 * kc + (lane >> 4)));
}
#endif

#if !FA_WGMMA
/* mma.sync: acc (this warp's 16 x 64) = A (rows 16 warp.. of a shared 64 x 64 tile) times Bt^T */
__device__ __forceinline__ void mma_abt(float (*acc)[4], const bf16* A, const bf16* Bt) {
    int lane = threadIdx.x % 32;
    uint32_t a[4][4];
    fa_frag_a(a, A, (threadIdx.x / 32) * 16);
    #pragma unroll
    for (int n = 0; n < 8; n++)
        #pragma unroll
        for (int e = 0; e < 4; e++) acc[n][e] = 0.0f;
    #pragma unroll
    for (int kc = 0; kc < 4; kc++)
        #pragma unroll
        for (int np = 0; np < 4; np++) { // rows np*16 .. +15 of Bt = two n tiles
            uint32_t b[4];
            ldmatrix_x4(b, Bt + fa_sw(np * 16 + (lane >> 4) * 8 + (lane & 7), 2 * kc + ((lane >> 3) & 1)));
            mma_bf16_16816(acc[2 * np], a[kc], b[0], b[1]);
            mma_bf16_16816(acc[2 * np + 1], a[kc], b[2], b[3]);
        }
}
/* mma.sync: acc (16 x 64) += a (16 x 64, packed by fa_pack_p) times B, a shared (64, 64) tile */
__device__ __forceinline__ void mma_pb(float (*acc)[4], const uint32_t (*a)[4], const bf16* B) {
    int lane = threadIdx.x % 32;
    #pragma unroll
    for (int kc = 0; kc < 4; kc++)
        #pragma unroll
        for (int dp = 0; dp < 4; dp++) {
            uint32_t b[4];
            ldmatrix_x4_trans(b, B + fa_sw(kc * 16 + ((lane >> 3) & 1) * 8 + (lane & 7), 2 * dp + (lane >> 4)));
            mma_bf16_16816(acc[2 * dp], a[kc], b[0], b[1]);
            mma_bf16_16816(acc[2 * dp + 1], a[kc], b[2], b[3]);
        }
}
#endif
/* The two products of the kernels, issued and then waited for: wgmma starts them at the issue and
 * fa_mm_wait<N>(acc) waits until at most the N newest issues run, then hands acc back; their
 * operands (registers too) must stay untouched until then. mma.sync computes them at the issue.
 * fa_issue_start() goes before the first issue after the registers involved were written.
 *   fa_issue_abt: acc (this warp's 16 x 64) = A (rows 16 warp.. of a shared 64 x 64 tile) times
 *                 Bt^T, Bt a shared 64 x 64 tile: S = Q K^T, dP = dO V^T, S^T = K Q^T, dP^T = V dO^T
 *   fa_issue_pb:  acc (16 x 64) += a (packed by fa_pack_p) times B, a shared (64, 64) tile:
 *                 O += P V, dV += P^T dO, dK += dS^T Q, dQ += dS K */
__device__ __forceinline__ void fa_issue_start() {
#if FA_WGMMA
    wg_fence();
#endif
}
/* pins registers in place before fa_issue_start(): without it the compiler may move their last
 * writes (the bf16 packing of P, say) past the fence, and the hardware then waits for every product
 * in flight before the next issue */
__device__ __forceinline__ void fa_hold(float (*acc)[4]) {
#if FA_WGMMA
    wg_hold(acc);
#endif
}
__device__ __forceinline__ void fa_hold(uint32_t (*a)[4]) {
#if FA_WGMMA
    #pragma unroll
    for (int kc = 0; kc < 4; kc++)
        #pragma unroll
        for (int r = 0; r < 4; r++) asm volatile("" : "+r"(a[kc][r])::"memory");
#endif
}
__device__ __forceinline__ void fa_issue_abt(float (*acc)[4], const bf16* A, const bf16* Bt) {
#if FA_WGMMA
    wg_issue_abt(acc, A, Bt);
    wg_commit();
#else
    mma_abt(acc, A, Bt);
#endif
}
__device__ __forceinline__ void fa_issue_pb(float (*acc)[4], const uint32_t (*a)[4], const bf16* B) {
#if FA_WGMMA
    wg_issue_pb(acc, a, B);
    wg_commit();
#else
    mma_pb(acc, a, B);
#endif
}
template <int N>
__device__ __forceinline__ void fa_mm_wait(float (*acc)[4]) {
#if FA_WGMMA
    asm volatile("wgmma.wait_group.sync.aligned %0;\n" ::"n"(N) : "memory");
    wg_hold(acc);
#endif
}
/* The same products, finished on return; p rounded to bf16 here. The pair forms have both in
 * flight before the one wait. */
__device__ __forceinline__ void fa_mm_abt(float (*acc)[4], const bf16* A, const bf16* Bt) {
    fa_issue_start();
    fa_issue_abt(acc, A, Bt);
    fa_mm_wait<0>(acc);
}
__device__ __forceinline__ void fa_mm_pb(float (*acc)[4], const float (*p)[4], const bf16* B) {
    uint32_t a[4][4];
    fa_pack_p(a, p);
    fa_issue_start();
    fa_issue_pb(acc, a, B);
    fa_mm_wait<0>(acc);
}
__device__ __forceinline__ void fa_mm_abt2(float (*acc1)[4], const bf16* A1, const bf16* Bt1, float (*acc2)[4], const bf16* A2,
                                           const bf16* Bt2) {
    fa_issue_start();
    fa_issue_abt(acc1, A1, Bt1);
    fa_issue_abt(acc2, A2, Bt2);
    fa_mm_wait<0>(acc1);
    fa_hold(acc2);
}
__device__ __forceinline__ void fa_mm_pb2(float (*acc1)[4], const float (*p1)[4], const bf16* B1, float (*acc2)[4],
                                          const float (*p2)[4], const bf16* B2) {
    uint32_t a1[4][4], a2[4][4];
    fa_pack_p(a1, p1);
    fa_pack_p(a2, p2);
    fa_issue_start();
    fa_issue_pb(acc1, a1, B1);
    fa_issue_pb(acc2, a2, B2);
    fa_mm_wait<0>(acc1);
    fa_hold(acc2);
}
/* where element e (0..3) of accumulator tile n lives: row g + 8 (e / 2), column 8n + 2t + e % 2 */
__device__ inline int fa_row(int lane, int e) { return (lane >> 2) + 8 * (e >> 1); }
__device__ inline int fa_col(int lane, int n, int e) { return 8 * n + 2 * (lane & 3) + (e & 1); }
/* a 16 x 64 accumulator tile times mul, rounded to bf16, into rows r0 .. r0 + 15 of dst (row
 * stride ld, the tile's first column at dst); rows from T on are not written. Each lane stores
 * its two neighbouring columns of rows g and g + 8 as one 4-byte pair. */
__device__ __forceinline__ void fa_store_tile(bf16* dst, long ld, int r0, int T, const float (*acc)[4], float mul) {
    int lane = threadIdx.x % 32;
    #pragma unroll
    for (int n = 0; n < 8; n++)
        #pragma unroll
        for (int u = 0; u < 2; u++) { // elements 2u, 2u + 1: one row, two neighbouring columns
            int i = r0 + fa_row(lane, 2 * u);
            if (i < T) *(__nv_bfloat162*)&dst[i * ld + fa_col(lane, n, 2 * u)] = __floats2bfloat162_rn(mul * acc[n][2 * u], mul * acc[n][2 * u + 1]);
        }
}
/* max / sum over the 4 lanes that share a row */
__device__ inline float quad_max(float x) {
    x = fmaxf(x, __shfl_xor_sync(0xffffffff, x, 1));
    return fmaxf(x, __shfl_xor_sync(0xffffffff, x, 2));
}
__device__ inline float quad_sum(float x) {
    x += __shfl_xor_sync(0xffffffff, x, 1);
    return x + __shfl_xor_sync(0xffffffff, x, 2);
}
/* may query i see key j? (causal, Hard-ALiBi window, inside the sequence) */
__device__ inline bool fa_visible(int i, int j, int T, int pos, int n_masked, int h) {
    return i < T && j <= i && j >= attn_first_key(pos, n_masked, h, i);
}
/* a tile of queries q0.. and keys k0.. below the diagonal, inside T, with no window: every key
 * is visible and the per-element mask can be skipped */
__device__ inline bool fa_tile_full(int q0, int k0, int T, int pos, int n_masked, int h) {
    return k0 < q0 && q0 + FA_TILE <= T && !(pos == POS_HARD_ALIBI && h < n_masked);
}
/* the ALiBi slope in the units of q.k (the score is q.k / sqrt(d) + slope (j - i)) */
__device__ inline float fa_slope(int pos, int h, int H) { return pos == POS_ALIBI ? (float)alibi_slope_dev(h, H) * sqrtf((float)FA_D) : 0.0f; }
/* The kernels keep the scores of a tile in the units of q.k: the softmax scale sc (1/sqrt(d) and
 * log2(e), for exp2) goes into the one FFMA before each exponential, 2^(s sc - m), with m (the
 * running maximum, or the saved LSE) in log2 units. fa_scores adds the position bias of a 16 x 64
 * accumulator tile in those units, sl (j - i) with sl = the ALiBi slope times sqrt(d), where query
 * i sees key j, and sets -inf elsewhere (2^-inf = 0). Element coordinates: rows from r0, columns
 * from c0; KEY_ROWS: the rows are keys and the columns queries (the dK dV kernel's S^T). q0, k0:
 * the query and key tiles: most tiles have no mask and no bias and are left as they are. */
template <bool KEY_ROWS>
__device__ __forceinline__ void fa_scores(float (*s)[4], float sl, int q0, int k0, int r0, int c0, int T, int pos, int n_masked,
                                          int h) {
    if (sl == 0.0f && fa_tile_full(q0, k0, T, pos, n_masked, h)) return; // most tiles
    int lane = threadIdx.x % 32;
    #pragma unroll
    for (int n = 0; n < 8; n++)
        #pragma unroll
        for (int e = 0; e < 4; e++) {
            int r = r0 + fa_row(lane, e), c = c0 + fa_col(lane, n, e), i = KEY_ROWS ? c : r, j = KEY_ROWS ? r : c;
            s[n][e] = fa_visible(i, j, T, pos, n_masked, h) ? s[n][e] + sl * (j - i) : -INFINITY;
        }
}
/* the dropout element index of (b, h, query i, key j) */
__device__ inline uint64_t fa_drop_idx(int b, int h, int H, int T, int i, int j) { return (((uint64_t)b * H + h) * T + i) * T + j; }

/* shared memory bytes: forward Q, K x2, V x3; backward (dK dV) K, V, Q x2, dO x2, LSE x2, D x2;
 * backward (dQ) Q, dO, K x2, V x2 */
#define FA_FWD_SMEM (6 * FA_TILE_ELEMS * 2 + FA_SMEM_ALIGN)
#define FA_BWD_SMEM (6 * FA_TILE_ELEMS * 2 + 4 * FA_TILE * 4 + FA_SMEM_ALIGN)

/* DROP: attention dropout on. A separate instance: the hash of every element's mask, unrolled
 * over the tile, would multiply the code size, and the kernels without it stall on instruction
 * fetch already (measured with ncu) */
template <bool DROP>
__global__ void __launch_bounds__(FA_THREADS) flash_attention_forward_kernel(bf16* out, float* lse, const bf16* qkv, int T, int C,
                                                                             int H, int pos, int n_masked, float p_drop,
                                                                             uint64_t site) {
    uint64_t seed = dropout_site_dev(site); // this step's seed of the site (d_dropout_seed)
    extern __shared__ __align__(128) unsigned char smem_raw[];
    bf16 *Qs = (bf16*)fa_smem(smem_raw), *Ks = Qs + FA_TILE_ELEMS, *Vs = Ks + 2 * FA_TILE_ELEMS; // K: 2 buffers, V: 3
    int qt = gridDim.x - 1 - blockIdx.x, h = blockIdx.y, b = blockIdx.z; // the longest rows first
    int warp = threadIdx.x / 32, lane = threadIdx.x % 32, q0 = qt * FA_TILE, r0 = q0 + warp * 16;
    long stride = 3L * C;
    const bf16* base = qkv + (long)b * T * stride + h * FA_D;
    int kt0 = attn_first_key(pos, n_masked, h, q0) / FA_TILE;
    fa_load_tile(Qs, base, stride, q0, T);
    fa_load_tile(Ks, base + C, stride, kt0 * FA_TILE, T);
    fa_load_tile(Vs, base + 2 * C, stride, kt0 * FA_TILE, T);
    cp_async_commit();
    float o[8][4], s[8][4];
    uint32_t p16[4][4]; // the previous key tile's P in bf16, the A operand of its O += P V
    #pragma unroll
    for (int n = 0; n < 8; n++)
        #pragma unroll
        for (int e = 0; e < 4; e++) o[n][e] = 0.0f;
    float sc = rsqrtf((float)FA_D) * LOG2E_F, sl = fa_slope(pos, h, H);
    float m[2] = {-INFINITY, -INFINITY}, l[2] = {0.0f, 0.0f}; // rows g and g + 8 of this lane; m in q.k units
    /* Key tile kt: S = Q K^T is started together with the previous tile's O += P V, and the
     * softmax of S runs while the tensor cores still add P V (wgmma; mma.sync runs them one after
     * the other). Then O is rescaled to the new row maximum and P kept for the next round. So a V
     * tile is read one round after its K tile: K has 2 buffers, V 3, and tile kt + 1 is loaded
     * (into the buffers of tile kt - 1 for K, kt - 2 for V, free after the barrier) while tile kt
     * is multiplied. */
    for (int kt = kt0; kt <= qt; kt++) {
        int i = kt - kt0;
        fa_tiles_ready<0>(); // tile kt (and Q) are in; every warp is past round kt - 1
        if (kt < qt) {
            fa_load_tile(Ks + ((i + 1) & 1) * FA_TILE_ELEMS, base + C, stride, (kt + 1) * FA_TILE, T);
            fa_load_tile(Vs + ((i + 1) % 3) * FA_TILE_ELEMS, base + 2 * C, stride, (kt + 1) * FA_TILE, T);
            cp_async_commit();
        }
        fa_hold(s);
        fa_hold(o);
        fa_hold(p16);
        fa_issue_start();
        fa_issue_abt(s, Qs, Ks + (i & 1) * FA_TILE_ELEMS); // S (16, 64) = Q K^T
        if (i > 0) {
            fa_issue_start(); // (the branch needs its own fence, or the compiler adds one and says so)
            fa_issue_pb(o, p16, Vs + ((i + 2) % 3) * FA_TILE_ELEMS); // O += P V of tile kt - 1
            fa_mm_wait<1>(s);
        } else {
            fa_mm_wait<0>(s);
        }
        fa_scores<false>(s, sl, q0, kt * FA_TILE, r0, kt * FA_TILE, T, pos, n_masked, h);
        float mx[2] = {-INFINITY, -INFINITY};
        #pragma unroll
        for (int n = 0; n < 8; n++)
            #pragma unroll
            for (int e = 0; e < 4; e++) mx[e >> 1] = fmaxf(mx[e >> 1], s[n][e]);
        float corr[2], neg_m[2], sum[2] = {0.0f, 0.0f};
        #pragma unroll
        for (int u = 0; u < 2; u++) {
            float m_new = fmaxf(m[u], quad_max(mx[u]));
            float m_use = m_new == -INFINITY ? 0.0f : m_new; // a row with nothing visible yet: exp2(-inf) = 0
            corr[u] = ex2_approx((m[u] - m_use) * sc);
            neg_m[u] = -m_use * sc;
            m[u] = m_new;
        }
        #pragma unroll
        for (int n = 0; n < 8; n++)
            #pragma unroll
            for (int e = 0; e < 4; e++) {
                int u = e >> 1;
                float p = ex2_approx(fmaf(s[n][e], sc, neg_m[u]));
                sum[u] += p; // l sums the undropped probabilities, P V takes the dropped ones
                if (DROP)
                    p *= attn_drop_mult(p_drop, seed, fa_drop_idx(b, h, H, T, r0 + fa_row(lane, e), kt * FA_TILE + fa_col(lane, n, e)));
                s[n][e] = p;
            }
        #pragma unroll
        for (int u = 0; u < 2; u++) l[u] = l[u] * corr[u] + quad_sum(sum[u]);
        fa_mm_wait<0>(o); // the previous tile's P V is in O, and p16 is free
        #pragma unroll
        for (int n = 0; n < 8; n++)
            #pragma unroll
            for (int e = 0; e < 4; e++) o[n][e] *= corr[e >> 1];
        fa_pack_p(p16, s);
    }
    fa_issue_start();
    fa_issue_pb(o, p16, Vs + ((qt - kt0) % 3) * FA_TILE_ELEMS); // the last tile's O += P V
    fa_mm_wait<0>(o);
    float inv_l[2] = {1.0f / l[0], 1.0f / l[1]};
    #pragma unroll
    for (int n = 0; n < 8; n++)
        #pragma unroll
        for (int e = 0; e < 4; e++) o[n][e] *= inv_l[e >> 1]; // O = (P V) / rowsum P
    fa_store_tile(out + (long)b * T * C + h * FA_D, C, r0, T, o, 1.0f);
    if ((lane & 3) == 0)
        #pragma unroll
        for (int u = 0; u < 2; u++) {
            int i = r0 + (lane >> 2) + 8 * u;
            if (i < T) lse[((long)b * H + h) * T + i] = m[u] * sc + log2f(l[u]); // log2 units: what the backward wants
        }
}

/* dK, dV of one key tile: warp w owns keys k0 + 16w .. + 15 and works on S^T (keys x queries) */
#ifndef FA_DKDV_MIN_BLOCKS
#define FA_DKDV_MIN_BLOCKS 3 /* blocks per SM: 3 spills a few registers to L1, 2 leaves the SM idle more
                                (measured: 4.7 vs 5.6 ms per step on config b); with dropout 2 */
#endif
template <bool DROP>
__global__ void __launch_bounds__(FA_THREADS, DROP ? 2 : FA_DKDV_MIN_BLOCKS) flash_attention_backward_dkdv_kernel(bf16* dqkv, const bf16* dout, const bf16* qkv,
                                                                                   const float* lse, const float* D, int T, int C,
                                                                                   int H, int pos, int n_masked, float p_drop,
                                                                                   uint64_t site) {
    uint64_t seed = dropout_site_dev(site); // this step's seed of the site (d_dropout_seed)
    extern __shared__ __align__(128) unsigned char smem_raw[];
    bf16 *Ks = (bf16*)fa_smem(smem_raw), *Vs = Ks + FA_TILE_ELEMS, *Qs = Vs + FA_TILE_ELEMS, *dOs = Qs + 2 * FA_TILE_ELEMS; // Q, dO: x2
    float *Ls = (float*)(dOs + 2 * FA_TILE_ELEMS), *Ds = Ls + 2 * FA_TILE;                               // x2 each
    int kt = blockIdx.x, h = blockIdx.y, b = blockIdx.z, n_qt = ceil_div_dev(T, FA_TILE); // the first key tiles have the most work
    int warp = threadIdx.x / 32, lane = threadIdx.x % 32, k0 = kt * FA_TILE, j0 = k0 + warp * 16;
    long stride = 3L * C, row0 = ((long)b * H + h) * T;
    const bf16* base = qkv + (long)b * T * stride + h * FA_D;
    const bf16* dbase = dout + (long)b * T * C + h * FA_D;
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
        fa_tiles_ready<1>();
        const bf16 *Q = Qs + cur * FA_TILE_ELEMS, *dO = dOs + cur * FA_TILE_ELEMS;
        const float *Lq = Ls + cur * FA_TILE, *Dq = Ds + cur * FA_TILE;
        fa_mm_abt2(s, Ks, Q, dp, Vs, dO); // S^T (16 keys, 64 queries) = K Q^T, dP^T = V dO^T
        fa_scores<true>(s, sl, q0, k0, j0, q0, T, pos, n_masked, h);
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
        fa_mm_pb2(dV, s, dO, dK, dp, Q); // dV += P^T dO, dK += dS^T Q
        __syncthreads();
    }
    // dqkv[k part] = scale * dK, dqkv[v part] = dV (this block owns these rows: no atomics; written,
    // not added: the only gradient these get)
    bf16* dst = dqkv + (long)b * T * stride + h * FA_D;
    fa_store_tile(dst + C, stride, j0, T, dK, scale);
    fa_store_tile(dst + 2 * C, stride, j0, T, dV, 1.0f);
}

/* dQ of one query tile: warp w owns queries q0 + 16w .. + 15. It runs first: it also computes
 * the row dots D_i = sum_d dO[i,d] O[i,d] of its 64 rows (from the bf16 dO and O tiles) and writes
 * them out for the dK dV kernel. */
template <bool DROP>
__global__ void __launch_bounds__(FA_THREADS, DROP ? 3 : 4) flash_attention_backward_dq_kernel(bf16* dqkv, float* D, const bf16* dout, const bf16* out,
                                                                                 const bf16* qkv, const float* lse, int T, int C,
                                                                                 int H, int pos, int n_masked, float p_drop,
                                                                                 uint64_t site) {
    uint64_t seed = dropout_site_dev(site); // this step's seed of the site (d_dropout_seed)
    extern __shared__ __align__(128) unsigned char smem_raw[];
    bf16 *Qs = (bf16*)fa_smem(smem_raw), *dOs = Qs + FA_TILE_ELEMS, *Ks = dOs + FA_TILE_ELEMS, *Vs = Ks + 2 * FA_TILE_ELEMS; // K, V: x2
    float* Dsh = (float*)(Vs + 2 * FA_TILE_ELEMS); // this tile's D
    int qt = gridDim.x - 1 - blockIdx.x, h = blockIdx.y, b = blockIdx.z;
    int warp = threadIdx.x / 32, lane = threadIdx.x % 32, q0 = qt * FA_TILE, r0 = q0 + warp * 16;
    long stride = 3L * C, row0 = ((long)b * H + h) * T;
    const bf16* base = qkv + (long)b * T * stride + h * FA_D;
    int kt0 = attn_first_key(pos, n_masked, h, q0) / FA_TILE;
    fa_load_tile(Qs, base, stride, q0, T);
    fa_load_tile(dOs, dout + (long)b * T * C + h * FA_D, C, q0, T);
    fa_load_tile(Ks, base + C, stride, kt0 * FA_TILE, T);
    fa_load_tile(Vs, base + 2 * C, stride, kt0 * FA_TILE, T);
    fa_load_tile(Ks + FA_TILE_ELEMS, out + (long)b * T * C + h * FA_D, C, q0, T); // O, in the second K buffer until the loop needs it
    cp_async_commit();
    fa_tiles_ready<0>();
    { // D: two threads per row, 4 chunks of 8 each (rows past T are zeros: D = 0 there)
        int r = threadIdx.x / 2, c0 = (threadIdx.x % 2) * 4;
        float d = 0.0f;
        #pragma unroll
        for (int c = c0; c < c0 + 4; c++) {
            float a[8], o[8];
            load8(a, dOs + fa_sw(r, c));
            load8(o, Ks + FA_TILE_ELEMS + fa_sw(r, c));
            #pragma unroll
            for (int k = 0; k < 8; k++) d += a[k] * o[k];
        }
        d += __shfl_xor_sync(0xffffffff, d, 1);
        if (threadIdx.x % 2 == 0) {
            Dsh[r] = d;
            if (q0 + r < T) D[row0 + q0 + r] = d;
        }
    }
    __syncthreads(); // D is in, and the O tile's buffer is free for the loop
    float dQ[8][4], s[8][4], dp[8][4];
    #pragma unroll
    for (int n = 0; n < 8; n++)
        #pragma unroll
        for (int e = 0; e < 4; e++) dQ[n][e] = 0.0f;
    float Li[2], Di[2]; // LSE (log2 units) and D of rows g and g + 8
    #pragma unroll
    for (int u = 0; u < 2; u++) {
        int i = r0 + (lane >> 2) + 8 * u;
        Li[u] = i < T ? lse[row0 + i] : 0.0f;
        Di[u] = Dsh[i - q0];
    }
    float scale = rsqrtf((float)FA_D), sc = scale * LOG2E_F, sl = fa_slope(pos, h, H);
    for (int kt = kt0; kt <= qt; kt++) {
        int cur = (kt - kt0) & 1;
        if (kt < qt) {
            fa_load_tile(Ks + (cur ^ 1) * FA_TILE_ELEMS, base + C, stride, (kt + 1) * FA_TILE, T);
            fa_load_tile(Vs + (cur ^ 1) * FA_TILE_ELEMS, base + 2 * C, stride, (kt + 1) * FA_TILE, T);
        }
        cp_async_commit();
        fa_tiles_ready<1>();
        const bf16 *K = Ks + cur * FA_TILE_ELEMS, *V = Vs + cur * FA_TILE_ELEMS;
        fa_mm_abt2(s, Qs, K, dp, dOs, V); // S = Q K^T, dP = dO V^T
        fa_scores<false>(s, sl, q0, kt * FA_TILE, r0, kt * FA_TILE, T, pos, n_masked, h);
        #pragma unroll
        for (int n = 0; n < 8; n++)
            #pragma unroll
            for (int e = 0; e < 4; e++) s[n][e] = ex2_approx(fmaf(s[n][e], sc, -Li[e >> 1])); // P
        #pragma unroll
        for (int n = 0; n < 8; n++)
            #pragma unroll
            for (int e = 0; e < 4; e++) { // s holds P now
                float mult = DROP ? attn_drop_mult(p_drop, seed, fa_drop_idx(b, h, H, T, r0 + fa_row(lane, e), kt * FA_TILE + fa_col(lane, n, e))) : 1.0f;
                dp[n][e] = s[n][e] * (dp[n][e] * mult - Di[e >> 1]); // dS
            }
        fa_mm_pb(dQ, dp, K); // dQ += dS K
        __syncthreads();
    }
    fa_store_tile(dqkv + (long)b * T * stride + h * FA_D, stride, r0, T, dQ, scale);
}

/* bf16 mode (output and qkv bf16) runs the tiled kernels for head size 64 and the row kernels
 * for other head sizes (up to 128); fp32 mode always the row kernels */
static bool attention_uses_flash(int C, int H) { return C / H == FA_D && C % H == 0; }
/* p_drop, site: attention-probability dropout (0 = none), the mask of dropout_keep() with the
 * seed of dropout site `site` at this step (dropout_site_dev) */
static void attention_forward(float* out, float* lse, const float* qkv, int B, int T, int C, int H, int pos, int n_masked,
                              float p_drop = 0, uint64_t site = 0) {
    attention_forward_rows(out, lse, qkv, B, T, C, H, pos, n_masked, p_drop, site); // fp32: the row kernel
}
static void attention_forward(bf16* out, float* lse, const bf16* qkv, int B, int T, int C, int H, int pos, int n_masked,
                              float p_drop = 0, uint64_t site = 0) {
    if (!attention_uses_flash(C, H)) { attention_forward_rows(out, lse, qkv, B, T, C, H, pos, n_masked, p_drop, site); return; } // slow path
    static bool configured = false;
    if (!configured) {
        cudaCheck(cudaFuncSetAttribute(flash_attention_forward_kernel<false>, cudaFuncAttributeMaxDynamicSharedMemorySize, FA_FWD_SMEM));
        cudaCheck(cudaFuncSetAttribute(flash_attention_forward_kernel<true>, cudaFuncAttributeMaxDynamicSharedMemorySize, FA_FWD_SMEM));
        configured = true;
    }
    dim3 grid(ceil_div(T, FA_TILE), H, B);
    (p_drop > 0 ? flash_attention_forward_kernel<true> : flash_attention_forward_kernel<false>)<<<grid, FA_THREADS, FA_FWD_SMEM>>>(
        out, lse, qkv, T, C, H, pos, n_masked, p_drop, site);
    cudaCheck(cudaGetLastError());
}
/* dqkv = the gradient (written, not added; the row kernels add into a cleared buffer).
 * scratch: B*H*T floats (the row dots D) */
static void attention_backward(float* dqkv, const float* dout, const float* out, const float* qkv, const float* lse,
                               float* scratch, int B, int T, int C, int H, int pos, int n_masked, float p_drop = 0,
                               uint64_t site = 0) {
    cudaCheck(cudaMemsetAsync(dqkv, 0, (size_t)B * T * 3 * C * sizeof(float)));
    attention_backward_rows(dqkv, scratch, dout, out, qkv, lse, B, T, C, H, pos, n_masked, p_drop, site);
}
/* the row kernels for bf16 tensors (head sizes the tiled kernels do not take): through an fp32
 * dqkv, rounded at the end. scratch: B*H*T floats (the row dots) */
static void attention_backward_rows_bf16(bf16* dqkv, float* scratch, const float* dout, const bf16* out, const bf16* qkv,
                                         const float* lse, int B, int T, int C, int H, int pos, int n_masked, float p_drop, uint64_t site) {
    static float* dqkv32 = NULL;
    static size_t cap = 0;
    long n = (long)B * T * 3 * C;
    scratch_grow(&dqkv32, &cap, n * sizeof(float));
    cudaCheck(cudaMemsetAsync(dqkv32, 0, n * sizeof(float)));
    attention_backward_rows(dqkv32, scratch, dout, out, qkv, lse, B, T, C, H, pos, n_masked, p_drop, site);
    to_bf16_kernel<<<ceil_div((n + 3) / 4, 256), 256>>>(dqkv, dqkv32, n);
    cudaCheck(cudaGetLastError());
}
static void attention_backward_tiled(bf16* dqkv, const bf16* dout, const bf16* out, const bf16* qkv, const float* lse, float* D,
                                     int B, int T, int C, int H, int pos, int n_masked, float p_drop, uint64_t site) {
    static bool configured = false;
    if (!configured) {
        for (int drop = 0; drop < 2; drop++) {
            cudaCheck(cudaFuncSetAttribute(drop ? flash_attention_backward_dkdv_kernel<true> : flash_attention_backward_dkdv_kernel<false>,
                                           cudaFuncAttributeMaxDynamicSharedMemorySize, FA_BWD_SMEM));
            cudaCheck(cudaFuncSetAttribute(drop ? flash_attention_backward_dq_kernel<true> : flash_attention_backward_dq_kernel<false>,
                                           cudaFuncAttributeMaxDynamicSharedMemorySize, FA_BWD_SMEM));
        }
        configured = true;
    }
    dim3 grid(ceil_div(T, FA_TILE), H, B);
    (p_drop > 0 ? flash_attention_backward_dq_kernel<true> : flash_attention_backward_dq_kernel<false>)<<<grid, FA_THREADS, FA_BWD_SMEM>>>(
        dqkv, D, dout, out, qkv, lse, T, C, H, pos, n_masked, p_drop, site);
    cudaCheck(cudaGetLastError());
    (p_drop > 0 ? flash_attention_backward_dkdv_kernel<true> : flash_attention_backward_dkdv_kernel<false>)<<<grid, FA_THREADS, FA_BWD_SMEM>>>(
        dqkv, dout, qkv, lse, D, T, C, H, pos, n_masked, p_drop, site);
    cudaCheck(cudaGetLastError());
}
/* bf16 mode: dqkv in bf16, the operand of the QKV matmul's backward. The tiled kernels (head size
 * 64) take dout in bf16, as the attention projection's backward writes it in bf16 mode; the dQ
 * kernel runs first and leaves the row dots D in scratch (B*H*T floats) for the dK dV kernel. The
 * row kernels (other head sizes) take dout widened to fp32 and add into an fp32 scratch, rounded
 * once at the end. */
static void attention_backward(bf16* dqkv, const bf16* dout, const bf16* out, const bf16* qkv, const float* lse, float* scratch,
                               int B, int T, int C, int H, int pos, int n_masked, float p_drop = 0, uint64_t site = 0) {
    if (attention_uses_flash(C, H)) {
        attention_backward_tiled(dqkv, dout, out, qkv, lse, scratch, B, T, C, H, pos, n_masked, p_drop, site);
        return;
    }
    static float* dout32 = NULL;
    static size_t cap = 0;
    long n = (long)B * T * C;
    scratch_grow(&dout32, &cap, n * sizeof(float));
    to_float_kernel<<<ceil_div((n + 3) / 4, 256), 256>>>(dout32, dout, n);
    cudaCheck(cudaGetLastError());
    attention_backward_rows_bf16(dqkv, scratch, dout32, out, qkv, lse, B, T, C, H, pos, n_masked, p_drop, site);
}

/* ============================================================================================
 * residual: out = a + b. Its backward copies nothing: both inputs' gradient is dout, which the
 * branch reads as it is (or through its dropout, out of place) and the norm before the branch adds
 * to its own (norm_backward's dres); see transformer_backward_x.
 * ============================================================================================ */
__global__ void residual_forward_kernel(float* out, const float* a, const float* b, long n) {
    long i = (long)blockIdx.x * blockDim.x + threadIdx.x;
    if (i < n) out[i] = a[i] + b[i];
}
static void residual_forward(float* out, const float* a, const float* b, long n) {
    residual_forward_kernel<<<ceil_div(n, 256), 256>>>(out, a, b, n);
    cudaCheck(cudaGetLastError());
}

/* ============================================================================================
 * dropout, in place (the backward also out of place), the same hash of (seed, index) as the CPU
 * op: identical masks on both
 * ============================================================================================ */
template <typename T> /* float, or bf16 (the transformer's branch outputs in bf16 mode) */
__global__ void dropout_kernel(T* out, const T* x, long n, float p, uint64_t site) { /* out may be x */
    uint64_t seed = dropout_site_dev(site); // this step's seed of the site (d_dropout_seed)
    long i = (long)blockIdx.x * blockDim.x + threadIdx.x;
    if (i >= n) return;
    store_as(&out[i], dropout_keep_dev(seed, (uint64_t)i, p) ? to_float(x[i]) / (1.0f - p) : 0.0f);
}
template <typename T>
static void dropout_forward(T* x, long n, float p, uint64_t site) {
    if (p <= 0) return;
    dropout_kernel<<<ceil_div(n, 256), 256>>>(x, x, n, p, site);
    cudaCheck(cudaGetLastError());
}
static void dropout_backward(float* dx, long n, float p, uint64_t site) { dropout_forward(dx, n, p, site); }
/* out of place: dx = the dropout backward of dout, returned; with nothing dropped that is dout
 * itself, and nothing is written */
static const float* dropout_backward_to(float* dx, const float* dout, long n, float p, uint64_t site) {
    if (p <= 0) return dout;
    dropout_kernel<<<ceil_div(n, 256), 256>>>(dx, dout, n, p, site);
    cudaCheck(cudaGetLastError());
    return dx;
}

/* ============================================================================================
 * fused softmax cross-entropy: one block per position computes the loss and, in the same pass,
 * dlogits = (softmax - onehot) * scale_i (scale_i = mask_i / N_scored); the probabilities are
 * never written to memory.
 * ============================================================================================ */
__global__ void crossentropy_fused_kernel(float* losses, float* dlogits, const float* logits, const int* targets,
                                          const unsigned char* mask, const float* scale, int V) {
    int n = blockIdx.x;
    const float* z = logits + (long)n * V;
    __shared__ float red[32];
    float mx = -INFINITY;
    for (int i = threadIdx.x; i < V; i += blockDim.x) mx = fmaxf(mx, z[i]);
    mx = warp_max(mx);
    if (threadIdx.x % 32 == 0) red[threadIdx.x / 32] = mx;
    __syncthreads();
    if (threadIdx.x < 32) {
        float v = threadIdx.x < blockDim.x / 32 ? red[threadIdx.x] : -INFINITY;
        v = warp_max(v);
        if (threadIdx.x == 0) red[0] = v;
    }
    __syncthreads();
    mx = red[0];
    __syncthreads();
    float s = 0;
    for (int i = threadIdx.x; i < V; i += blockDim.x) s += expf(z[i] - mx);
    s = warp_sum(s);
    if (threadIdx.x % 32 == 0) red[threadIdx.x / 32] = s;
    __syncthreads();
    if (threadIdx.x < 32) {
        float v = threadIdx.x < blockDim.x / 32 ? red[threadIdx.x] : 0.0f;
        v = warp_sum(v);
        if (threadIdx.x == 0) red[0] = v;
    }
    __syncthreads();
    float sum = red[0];
    int tgt = targets[n];
    if (threadIdx.x == 0) losses[n] = -(z[tgt] - mx - logf(sum));
    if (dlogits) {
        float sc = (mask && !mask[n]) ? 0.0f : *scale;
        for (int i = threadIdx.x; i < V; i += blockDim.x)
            dlogits[(long)n * V + i] = (expf(z[i] - mx) / sum - (i == tgt ? 1.0f : 0.0f)) * sc;
    }
}
static void crossentropy_fused(float* losses, float* dlogits, const float* logits, const int* targets,
                               const unsigned char* mask, const float* scale, int N, int V) {
    crossentropy_fused_kernel<<<N, 256>>>(losses, dlogits, logits, targets, mask, scale, V);
    cudaCheck(cudaGetLastError());
}

/* ============================================================================================
 * causal depthwise conv1d (Mamba, Longhorn), fused with the SiLU that follows it in the block:
 *   xc[b,t,e] = SiLU(xconv[b,t,e]),  xconv[b,t,e] = bias[e] + sum_w W[e,w] x[b,t-(W-1)+w,e]
 * x rows have stride ldx (the xs half of in_proj's output, ldx = 2E). One thread walks V
 * consecutive channels of one batch row through a segment of consecutive steps (CONV_FWD_SEG,
 * CONV_BWD_SEG) and slides the last
 * W inputs through registers, so every input is read once (taps indexed by how far back they
 * look: tap k has weight W[e, W-1-k]). V > 1 channels per thread make each access wider, and the
 * loads of U steps are issued together; rows that are not 16-byte aligned take V = 1.
 * The backward is one pass that walks its segment backwards in time: it recomputes xconv_t from
 * the window x[t-W+1 .. t], turns dxc_t into dxconv_t, keeps the next W dxconv values for dx_t =
 * sum_k W[e,W-1-k] dxconv_{t+k}, and adds the weight and bias sums (partial rows per segment,
 * added in order afterwards: deterministic). The W-1 dxconv values past the segment's end are
 * recomputed from x and dxc. W <= CONV_MAX_W; W <= 4 has its own (smaller) instances.
 * ============================================================================================ */
#define CONV_MAX_W 8
/* steps per thread: the forward's and the backward's segment length (bench_scan built with
 * -DCONV_FWD_SEG=.. -DCONV_BWD_SEG=.. measures others; H100, B16 T1024 E1536: forward 64 0.050 ms,
 * 128 0.062; backward with its weight reduce 64 0.130 ms, 128 0.122, 32 0.151, 256 0.180) */
#ifndef CONV_FWD_SEG
#define CONV_FWD_SEG 64
#endif
#ifndef CONV_BWD_SEG
#define CONV_BWD_SEG 128
#endif
/* channels per thread (V) and steps whose loads are issued together (U), measured by
 * dev/bench/bench_scan's conv table (H100, B16 T1024 E1536 bf16) */
#define CONV_FWD_V 2
#define CONV_FWD_U 4
#define CONV_BWD_V 2
#define CONV_BWD_U 4
/* 1 / (1 + 2^(-v log2 e)): ex2.approx (2 ulp) without __expf's fix-ups for subnormal results,
 * which only matter where sigmoid(v) rounds to 1 anyway; 2^+inf = inf gives 0 for v < -88 */
__device__ inline float sigmoidf_(float v) { return rcp_approx(1.0f + ex2_approx(-v * LOG2E_F)); }
/* d SiLU(v) / dv = sg (1 + v (1 - sg)), given sg = sigmoid(v) (the conv and the scan's gate) */
__device__ inline float dsilu(float v, float sg) { return sg * (1.0f + v * (1.0f - sg)); }
/* V consecutive elements as 16-, 8- or 4-byte accesses (p aligned to V sizeof(X) or 16 bytes) */
template <int V, typename X>
__device__ inline void load_v(float (&v)[V], const X* p) {
    constexpr int BYTES = V * sizeof(X);
    if constexpr (BYTES % 16 == 0) {
#pragma unroll
        for (int c = 0; c < BYTES / 16; c++) {
            uint4 r = ((const uint4*)p)[c];
            const X* q = (const X*)&r;
#pragma unroll
            for (int u = 0; u < 16 / (int)sizeof(X); u++) v[c * 16 / sizeof(X) + u] = to_float(q[u]);
        }
    } else if constexpr (BYTES == 8) {
        uint2 r = *(const uint2*)p;
        const X* q = (const X*)&r;
#pragma unroll
        for (int u = 0; u < V; u++) v[u] = to_float(q[u]);
    } else {
#pragma unroll
        for (int u = 0; u < V; u++) v[u] = to_float(p[u]);
    }
}
template <int V, typename X>
__device__ inline void store_v(X* p, const float (&v)[V]) {
    constexpr int BYTES = V * sizeof(X);
    if constexpr (V == 8) {
        store8(p, v);
    } else if constexpr (BYTES == 16 || BYTES == 8) {
        X q[V];
#pragma unroll
        for (int u = 0; u < V; u++) store_as(&q[u], v[u]);
        if constexpr (BYTES == 16) *(uint4*)p = *(const uint4*)q;
        else *(uint2*)p = *(const uint2*)q;
    } else {
#pragma unroll
        for (int u = 0; u < V; u++) store_as(&p[u], v[u]);
    }
}
/* grid: (ceil(E / (128 V)), B * n_seg), 128 threads; n_seg = ceil(T / seg) */
static dim3 conv1d_grid(int B, int T, int E, int V, int seg) { return dim3(ceil_div(E, 128 * V), B * ceil_div(T, seg)); }
/* this thread's first channel, row and steps [t0, t1); false past E */
struct ConvSeg { int e, b, t0, t1; };
template <int V, int SEG>
__device__ inline bool conv1d_seg(ConvSeg& S, int T, int E) {
    int n_seg = (T + SEG - 1) / SEG;
    S.e = (blockIdx.x * blockDim.x + threadIdx.x) * V;
    S.b = blockIdx.y / n_seg;
    S.t0 = (blockIdx.y % n_seg) * SEG;
    S.t1 = min(T, S.t0 + SEG);
    return S.e < E;
}
/* the taps' weights w[k][u] = W[e+u, W-1-k] (zeros for k >= W) and the bias */
template <int V, int WM>
__device__ inline void conv1d_weights(float (&w)[WM][V], float (&bias)[V], const float* weight, const float* b, int e, int W) {
#pragma unroll
    for (int u = 0; u < V; u++) {
        bias[u] = b[e + u];
#pragma unroll
        for (int k = 0; k < WM; k++) w[k][u] = k < W ? weight[(e + u) * W + W - 1 - k] : 0.0f;
    }
}
/* xconv over the window win[k] = x[t-k] */
template <int V, int WM>
__device__ inline void conv1d_dot(float (&s)[V], const float (&w)[WM][V], const float (&win)[WM][V], const float (&bias)[V]) {
#pragma unroll
    for (int u = 0; u < V; u++) {
        s[u] = bias[u];
#pragma unroll
        for (int k = 0; k < WM; k++) s[u] += w[k][u] * win[k][u];
    }
}
template <int V, int WM, int U, typename X>
__global__ void conv1d_silu_forward_kernel(X* xc, const X* x, int ldx, const float* weight, const float* bias, int T, int E, int W) {
    ConvSeg S;
    if (!conv1d_seg<V, CONV_FWD_SEG>(S, T, E)) return;
    float w[WM][V], bb[V], win[WM][V]; // after the step at t: win[k] = x[t-k]
    conv1d_weights<V, WM>(w, bb, weight, bias, S.e, W);
#pragma unroll
    for (int k = 0; k < WM; k++) { // before the first step win[k] = x[t0-1-k] (zero before t = 0)
        int t = S.t0 - 1 - k;
        if (k < WM - 1 && t >= 0) load_v<V>(win[k], x + ((long)S.b * T + t) * ldx + S.e);
        else for (int u = 0; u < V; u++) win[k][u] = 0.0f;
    }
    for (int t = S.t0; t < S.t1; t += U) {
        float xin[U][V]; // the loads of U steps issued together (more bytes in flight)
#pragma unroll
        for (int i = 0; i < U; i++)
            if (t + i < S.t1) load_v<V>(xin[i], x + ((long)S.b * T + t + i) * ldx + S.e);
#pragma unroll
        for (int i = 0; i < U; i++) {
            if (t + i >= S.t1) break;
#pragma unroll
            for (int k = WM - 1; k > 0; k--)
                for (int u = 0; u < V; u++) win[k][u] = win[k - 1][u];
            for (int u = 0; u < V; u++) win[0][u] = xin[i][u];
            float s[V];
            conv1d_dot<V, WM>(s, w, win, bb);
#pragma unroll
            for (int u = 0; u < V; u++) s[u] *= sigmoidf_(s[u]);
            store_v<V>(xc + ((long)S.b * T + t + i) * E + S.e, s);
        }
    }
}
/* rows 16-byte aligned: vector accesses */
static bool conv1d_vec(const void* a, const void* b, int E, int ldx) { return E % 8 == 0 && ldx % 8 == 0 && aligned(a, 16) && aligned(b, 16); }
/* x, xc fp32, or bf16 in bf16 mode (x is in_proj's output, xc feeds x_proj and the scan) */
template <typename X>
static void conv1d_silu_forward(X* xc, const X* x, int ldx, const float* weight, const float* bias, int B, int T, int E, int W) {
    constexpr int V = CONV_FWD_V, U = CONV_FWD_U;
    if (W <= 4 && conv1d_vec(xc, x, E, ldx)) conv1d_silu_forward_kernel<V, 4, U><<<conv1d_grid(B, T, E, V, CONV_FWD_SEG), 128>>>(xc, x, ldx, weight, bias, T, E, W);
    else if (W <= 4) conv1d_silu_forward_kernel<1, 4, U><<<conv1d_grid(B, T, E, 1, CONV_FWD_SEG), 128>>>(xc, x, ldx, weight, bias, T, E, W);
    else conv1d_silu_forward_kernel<1, CONV_MAX_W, U><<<conv1d_grid(B, T, E, 1, CONV_FWD_SEG), 128>>>(xc, x, ldx, weight, bias, T, E, W);
    cudaCheck(cudaGetLastError());
}
/* dxconv_t = dxc_t SiLU'(xconv_t) */
template <int V>
__device__ inline void conv1d_silu_grad(float (&g)[V], const float (&s)[V], const float (&dxc)[V]) {
#pragma unroll
    for (int u = 0; u < V; u++) g[u] = dxc[u] * dsilu(s[u], sigmoidf_(s[u]));
}
/* dx (written, stride ldx), and per segment the partial sums dW[e, W-1-k] = sum_t dxconv_t
 * x_{t-k} and dbias = sum_t dxconv_t */
template <int V, int WM, int U, typename X>
__global__ void conv1d_silu_backward_kernel(X* dx, int ldx, float* partials, const X* dxc, const X* x, const float* weight,
                                            const float* bias, int T, int E, int W) {
    ConvSeg S;
    if (!conv1d_seg<V, CONV_BWD_SEG>(S, T, E)) return;
    float w[WM][V], bb[V], win[WM][V], ahead[WM][V], acc[WM + 1][V]; // win[k] = x[t-k], ahead[k] = dxconv[t+k]
    conv1d_weights<V, WM>(w, bb, weight, bias, S.e, W);
    const X* xrow = x + (long)S.b * T * ldx + S.e;
    const X* grow = dxc + (long)S.b * T * E + S.e;
    // dxconv at t1 .. t1+WM-2 (past the segment; zero past T), from the inputs x[t1-WM+1 .. t1+WM-2]
    float xh[2 * WM - 2][V];
#pragma unroll
    for (int j = 0; j < 2 * WM - 2; j++) {
        int t = S.t1 - WM + 1 + j;
        if (t >= 0 && t < T) load_v<V>(xh[j], xrow + (long)t * ldx);
        else for (int u = 0; u < V; u++) xh[j][u] = 0.0f;
    }
#pragma unroll
    for (int j = 0; j < WM; j++) { // ahead[j] = dxconv[t1 + j]: the first step shifts it to ahead[j+1]
        if (j < WM - 1 && S.t1 + j < T) {
#pragma unroll
            for (int k = 0; k < WM; k++)
                for (int u = 0; u < V; u++) win[k][u] = xh[j - k + WM - 1][u];
            float s[V], g[V];
            conv1d_dot<V, WM>(s, w, win, bb);
            load_v<V>(g, grow + (long)(S.t1 + j) * E);
            conv1d_silu_grad<V>(ahead[j], s, g);
        } else {
            for (int u = 0; u < V; u++) ahead[j][u] = 0.0f;
        }
    }
#pragma unroll
    for (int k = 0; k < WM; k++) // as if after the step at t1: win[k] = x[t1-k] (win[0] is shifted out)
        for (int u = 0; u < V; u++) { win[k][u] = k > 0 ? xh[WM - 1 - k][u] : 0.0f; acc[k][u] = 0.0f; }
    for (int u = 0; u < V; u++) acc[WM][u] = 0.0f;
    for (int tb = S.t1 - 1; tb >= S.t0; tb -= U) { // steps tb, tb-1, ... (backwards)
        float xin[U][V], gin[U][V]; // the loads of U steps issued together
#pragma unroll
        for (int i = 0; i < U; i++) {
            int t = tb - i;
            if (t < S.t0) break;
            if (t - WM + 1 >= 0) load_v<V>(xin[i], xrow + (long)(t - WM + 1) * ldx);
            else for (int u = 0; u < V; u++) xin[i][u] = 0.0f;
            load_v<V>(gin[i], grow + (long)t * E);
        }
#pragma unroll
        for (int i = 0; i < U; i++) {
            int t = tb - i;
            if (t < S.t0) break;
#pragma unroll
            for (int k = 0; k < WM - 1; k++)
                for (int u = 0; u < V; u++) win[k][u] = win[k + 1][u];
            for (int u = 0; u < V; u++) win[WM - 1][u] = xin[i][u];
            float s[V], d[V];
            conv1d_dot<V, WM>(s, w, win, bb);
#pragma unroll
            for (int k = WM - 1; k > 0; k--)
                for (int u = 0; u < V; u++) ahead[k][u] = ahead[k - 1][u];
            conv1d_silu_grad<V>(ahead[0], s, gin[i]);
#pragma unroll
            for (int u = 0; u < V; u++) {
                d[u] = 0.0f;
#pragma unroll
                for (int k = 0; k < WM; k++) d[u] += w[k][u] * ahead[k][u];
#pragma unroll
                for (int k = 0; k < WM; k++) acc[k][u] += ahead[0][u] * win[k][u]; // the window holds zeros before t = 0
                acc[WM][u] += ahead[0][u];
            }
            store_v<V>(dx + ((long)S.b * T + t) * ldx + S.e, d);
        }
    }
#pragma unroll
    for (int u = 0; u < V; u++) {
        float* p = partials + ((long)blockIdx.y * E + S.e + u) * (CONV_MAX_W + 1);
#pragma unroll
        for (int k = 0; k < WM; k++) p[k] = acc[k][u];
        p[CONV_MAX_W] = acc[WM][u];
    }
}
/* the segments' partial sums, per (e, tap or bias) column: 8 slices of rows summed by 8 threads
 * each (32 columns per block: coalesced rows), then the slices added in order (deterministic) */
#define CONV_RED_SLICES 8
__global__ void conv1d_dweight_reduce_kernel(float* dweight, float* dbias, const float* partials, int n_rows, int E, int W) {
    __shared__ float part[CONV_RED_SLICES][32];
    long ncol = (long)E * (CONV_MAX_W + 1), j = (long)blockIdx.x * 32 + threadIdx.x;
    int e = (int)(j / (CONV_MAX_W + 1)), col = (int)(j % (CONV_MAX_W + 1));
    bool used = j < ncol && (col < W || col == CONV_MAX_W); // (taps past W are never written)
    float s = 0;
    if (used)
        for (int r = threadIdx.y; r < n_rows; r += CONV_RED_SLICES) s += partials[r * ncol + j];
    part[threadIdx.y][threadIdx.x] = s;
    __syncthreads();
    if (threadIdx.y != 0 || !used) return;
    for (int i = 1; i < CONV_RED_SLICES; i++) s += part[i][threadIdx.x];
    if (col < W) dweight[e * W + W - 1 - col] += s;
    else dbias[e] += s;
}
/* scratch: conv1d_backward_scratch(B, T, E) floats (partial sums) */
static size_t conv1d_backward_scratch(int B, int T, int E) { return (size_t)B * ceil_div(T, CONV_BWD_SEG) * E * (CONV_MAX_W + 1); }
/* dx (written, stride ldx), x and dxc: X as in the forward (dx feeds in_proj's backward matmul) */
template <typename X>
static void conv1d_silu_backward(X* dx, int ldx, float* dweight, float* dbias, float* scratch, const X* dxc, const X* x,
                                 const float* weight, const float* bias, int B, int T, int E, int W) {
    int n_rows = B * ceil_div(T, CONV_BWD_SEG);
    if (W <= 4 && conv1d_vec(dx, x, E, ldx) && aligned(dxc, 16))
        conv1d_silu_backward_kernel<CONV_BWD_V, 4, CONV_BWD_U><<<conv1d_grid(B, T, E, CONV_BWD_V, CONV_BWD_SEG), 128>>>(dx, ldx, scratch, dxc, x, weight, bias, T, E, W);
    else if (W <= 4) conv1d_silu_backward_kernel<1, 4, CONV_BWD_U><<<conv1d_grid(B, T, E, 1, CONV_BWD_SEG), 128>>>(dx, ldx, scratch, dxc, x, weight, bias, T, E, W);
    else conv1d_silu_backward_kernel<1, CONV_MAX_W, CONV_BWD_U><<<conv1d_grid(B, T, E, 1, CONV_BWD_SEG), 128>>>(dx, ldx, scratch, dxc, x, weight, bias, T, E, W);
    cudaCheck(cudaGetLastError());
    conv1d_dweight_reduce_kernel<<<ceil_div((long)E * (CONV_MAX_W + 1), 32), dim3(32, CONV_RED_SLICES)>>>(dweight, dbias, scratch, n_rows, E, W);
    cudaCheck(cudaGetLastError());
}

/* ============================================================================================
 * selective scan (Mamba, Longhorn): ssm_scan_forward / ssm_scan_backward of seqmodels.h, with
 * the step size, the (t,e,n) coefficients and the output gate fused in.
 *
 * A pair of lanes owns one (b, e) recurrence and keeps its N states in registers (N/2 each; one
 * lane for N = 4 in the forward): 16 channels of one batch row per warp. The scans walk time in
 * chunks of SSM_CHUNK steps whose inputs go through shared memory (the B_t/k and C_t/q rows are
 * shared by all channels). The forward writes only the gated output g = y SiLU(z) and the state
 * at every chunk start (hck, 1/SSM_CHUNK of the states); the (B,T,E,N) states never reach HBM.
 * The backward walks the chunks from the last, recomputes the chunk's states from its checkpoint
 * into shared memory, then runs the chunk backwards carrying dh (ssm.md §2). Sums over channels
 * (dB_t/dk, dC_t/dq, and Longhorn's d|k|^2) are reduced inside each warp, added over the 4 warps
 * of a block in shared memory, and written as one partial row per block, added up by
 * ssm_partials_reduce_kernel in a fixed order; sums over (b, t) (dA_log, dD) are kept per thread
 * and added over b afterwards. No atomics: the results are deterministic.
 *   mamba:    dt = softplus(dtr + b),  a = exp(dt A) (A = -exp(A_log)),  b = dt B_t x
 *   longhorn: beta = sigmoid(dtr + b), dt = beta / (1 + beta |k|^2),  a = 1 - dt k^2,  b = dt x k
 * Supported state sizes: SSM_N_SUPPORTED (template instances).
 * ============================================================================================ */
#define SSM_CHUNK 16
#define SSM_N_SUPPORTED "4, 8, 16, 32"
static bool ssm_state_supported(int N) { return N == 4 || N == 8 || N == 16 || N == 32; }
__host__ __device__ inline int ssm_n_chunks(int T) { return (T + SSM_CHUNK - 1) / SSM_CHUNK; }

/* the step size of channel e at one step, from v (the dt_proj / dt_head output without its bias),
 * the bias and, for Longhorn, 1 + |k_t|^2 */
/* softplus(v) = log(1 + e^v) = max(v, 0) + log1p(u) with u = e^-|v| in (0, 1], and log1p(u) =
 * 2 atanh(q), q = u / (2 + u) <= 1/3, by its odd series up to q^11 (relative error < 2e-7): two
 * special-function operations (ex2, rcp) and a few FMAs instead of libm's log1pf */
__device__ inline float softplus_fast(float v) {
    float u = ex2_approx(-fabsf(v) * LOG2E_F), q = __fdividef(u, 2.0f + u), q2 = q * q;
    float p = fmaf(fmaf(fmaf(fmaf(fmaf(1.0f / 11, q2, 1.0f / 9), q2, 1.0f / 7), q2, 1.0f / 5), q2, 1.0f / 3), q2, 1.0f);
    return fmaf(q + q, p, fmaxf(v, 0.0f));
}
template <int LH>
__device__ inline float ssm_dt(float v, float bias, float ksq1) {
    // beta / (1 + beta |k|^2) with beta = 1 / (1 + e^-(v + bias)) is 1 / (1 + |k|^2 + e^-(v + bias)):
    // one FMA, one exponential, one add, one reciprocal
    if (LH) return rcp_approx(ksq1 + ex2_approx(fmaf(v, -LOG2E_F, -bias * LOG2E_F)));
    return softplus_fast(v + bias);
}

/* NH consecutive floats of a shared row (4-aligned: float4 loads when NH allows) */
template <int NH>
__device__ inline void row_get(float (&v)[NH], const float* p) {
    if constexpr (NH % 4 == 0) {
#pragma unroll
        for (int j = 0; j < NH; j += 4) {
            float4 q = *(const float4*)(p + j);
            v[j] = q.x; v[j + 1] = q.y; v[j + 2] = q.z; v[j + 3] = q.w;
        }
    } else {
#pragma unroll
        for (int j = 0; j < NH; j++) v[j] = p[j];
    }
}
/* The forward gives each channel a pair of lanes too (N >= 8; lane = 2 c + half, N/2 states
 * each, y and Longhorn's |k|^2 summed over the pair by one shuffle): 16 channels per warp, twice
 * the warps of one lane per channel, and a register cap for 12 warps per SM, so that B16 E1536
 * (1536 warps) runs in one wave on 132 SMs. While it scans a chunk, the next chunk's inputs (the
 * warp's channels of xc, the dt projection and z at 16 steps, and the 16 B/C rows) are on their way
 * into the other half of a double buffer in shared memory (cp.async: no registers held, so the
 * register cap stays). A chunk runs in phases, so that the per-step loop holds only the state
 * update: (1) the step sizes of the chunk's 16 x 16 (step, channel) pairs, each computed once (not
 * once per lane of the pair) with no dependence between them; (2) the 16 steps; (3) the gate
 * g = y SiLU(z) for the chunk's outputs, written as 16-byte rows, computed together with the next
 * chunk's step sizes (two latency-bound phases as one, with twice the independent chains).
 * Measured on an H100 (dev/bench/bench_scan, mamba B16 T1024 E1536 N16, bf16 inputs): 0.203 ms
 * (0.200 and Longhorn 0.170 after session 17's trims around the state update: README);
 * 0.219 with phases (1) and (3) apart; 0.366 with the step size and gate inside the step loop;
 * 0.503 for the chunk loaded into registers and then scanned; 0.54 for one lane per channel. 4
 * lanes per channel, a register double buffer, a time split into segments and larger blocks were
 * slower (dev/bench/scan_fwd_variants). Rows that are not 16-byte aligned (E not a multiple of 8,
 * or the x_proj width not a multiple of 4 floats) take plain loads and stores. */
#define SSM_FWD_MIN_BLOCKS 12
template <int N> struct ScanFwdLanes { static constexpr int LPC = N >= 8 ? 2 : 1, NS = N / LPC, CH = 32 / LPC; };
template <int N, int CH, typename X>
struct ScanChunkBuf {                                 // one chunk of a warp's inputs (forward and backward)
    X xvz[3][SSM_CHUNK][CH];                          // xc, dt projection, z of the warp's CH channels
    float bc[SSM_CHUNK][2 * N];                       // rows of [B_t | C_t] (mamba) or [k | q] (longhorn)
};
template <int N>
struct ScanFwdStep {                                  // per chunk (double-buffered): step sizes in, outputs y out
    static constexpr int CH = ScanFwdLanes<N>::CH;
    float dt[SSM_CHUNK][CH], y[SSM_CHUNK][CH], ksq1[SSM_CHUNK]; // (ksq1: Longhorn's 1 + |k_t|^2)
};
/* start copying chunk k's inputs into shared memory (ASYNC: cp.async, 16-byte pieces; else plain
 * loads and stores; the caller commits the group): xc, the dt projection and z of CH channels from
 * e0 (zeros past E and T), and the chunk's B/C rows */
template <int CH, bool ASYNC, typename X>
__device__ inline void scan_fetch_xvz(X (&xvz)[3][SSM_CHUNK][CH], const X* __restrict__ xc, const X* __restrict__ dtr,
                                      const X* __restrict__ xz, int b, int k, int T, int E, int e0) {
    constexpr int XPR = 16 / sizeof(X), PR = CH / XPR; // elements, pieces per row
    int lane = threadIdx.x & 31, t0 = k * SSM_CHUNK;
    if (ASYNC) { // 64-bit addresses once per chunk, 32-bit offsets from them per piece (0 for pieces outside)
        long row0 = (long)b * T + t0;
        const X* base[3] = {xc + row0 * E + e0, dtr + row0 * E + e0, xz + row0 * 2 * E + E + e0};
#pragma unroll
        for (int q = lane; q < 3 * SSM_CHUNK * PR; q += 32) { // piece q: array, step, piece of the row
            int i = q / (SSM_CHUNK * PR), st = q / PR % SSM_CHUNK, pc = q % PR;
            bool ok = t0 + st < T && e0 + pc * XPR < E;
            cp_async16(&xvz[i][st][pc * XPR], base[i] + (ok ? st * (i == 2 ? 2 * E : E) + pc * XPR : 0), ok);
        }
    } else {
        for (int q = lane; q < 3 * SSM_CHUNK * CH; q += 32) {
            int i = q / (SSM_CHUNK * CH), st = q / CH % SSM_CHUNK, c = q % CH, t = t0 + st, ch = e0 + c;
            bool ok = t < T && ch < E;
            long row = (long)b * T + t;
            xvz[i][st][c] = !ok ? X(0.0f) : i == 0 ? xc[row * E + ch] : i == 1 ? dtr[row * E + ch] : xz[row * 2 * E + E + ch];
        }
    }
}
template <int N, bool ASYNC>
__device__ inline void scan_fetch_bc(float (&bc)[SSM_CHUNK][2 * N], const float* __restrict__ xdbl, int b, int k, int T, int R) {
    int lane = threadIdx.x & 31, t0 = k * SSM_CHUNK, XD = R + 2 * N;
    if (ASYNC) {
        const float* base = xdbl + ((long)b * T + t0) * XD + R;
#pragma unroll
        for (int q = lane; q < SSM_CHUNK * N / 2; q += 32) { // 2N floats per row: N/2 pieces
            int st = q / (N / 2), c4 = q % (N / 2);
            bool ok = t0 + st < T;
            cp_async16(&bc[st][4 * c4], base + (ok ? st * XD + 4 * c4 : 0), ok);
        }
    } else {
        for (int q = lane; q < SSM_CHUNK * 2 * N; q += 32) {
            int st = q / (2 * N), col = q % (2 * N), t = t0 + st;
            bc[st][col] = t < T ? xdbl[((long)b * T + t) * XD + R + col] : 0.0f;
        }
    }
}
template <int N, int CH, bool ASYNC, typename X>
__device__ inline void scan_chunk_fetch(ScanChunkBuf<N, CH, X>& buf, const X* __restrict__ xc, const X* __restrict__ dtr, const X* __restrict__ xz,
                                        const float* __restrict__ xdbl, int b, int k, int T, int E, int R, int e0) {
    scan_fetch_xvz<CH, ASYNC>(buf.xvz, xc, dtr, xz, b, k, T, E, e0);
    scan_fetch_bc<N, ASYNC>(buf.bc, xdbl, b, k, T, R);
    cp_async_commit(); // (an empty group without ASYNC)
}
/* phase 1 of a chunk: the step sizes of its 16 x CH (step, channel) pairs into dt; lane (channel
 * cl, pair half) takes steps half, half + LPC, ... (a fixed trip count: independent chains) */
template <int N, int LH, typename X>
__device__ inline void scan_fwd_step_sizes(float (&dt)[SSM_CHUNK][ScanFwdLanes<N>::CH], const ScanChunkBuf<N, ScanFwdLanes<N>::CH, X>& c,
                                           const float* ksq1, float bias) {
    constexpr int LPC = ScanFwdLanes<N>::LPC;
    int lane = threadIdx.x & 31, cl = lane / LPC;
    float v[SSM_CHUNK / LPC];
#pragma unroll
    for (int r = 0; r < SSM_CHUNK / LPC; r++) {
        int s = r * LPC + lane % LPC;
        v[r] = ssm_dt<LH>(to_float(c.xvz[1][s][cl]), bias, LH ? ksq1[s] : 0.0f);
    }
#pragma unroll
    for (int r = 0; r < SSM_CHUNK / LPC; r++) dt[r * LPC + lane % LPC][cl] = v[r];
}
/* Longhorn: 1 + |k_t|^2 of a chunk's 16 rows, shared by all channels. A lane pair per row, each
 * lane half of it in two chains, so that the whole warp works on it for a short dependent chain */
template <int N>
__device__ inline void scan_ksq1(float* ksq1, const float (&bc)[SSM_CHUNK][2 * N]) {
    static_assert(SSM_CHUNK == 16, "two lanes per row");
    int lane = threadIdx.x & 31, row = lane >> 1, half = lane & 1;
    float k[N / 2], s0 = half ? 0.0f : 1.0f, s1 = 0.0f;
    row_get<N / 2>(k, &bc[row][half * (N / 2)]);
#pragma unroll
    for (int n = 0; n < N / 2; n += 2) { s0 = fmaf(k[n], k[n], s0); s1 = fmaf(k[n + 1], k[n + 1], s1); }
    s0 += s1;
    s0 += __shfl_xor_sync(0xffffffff, s0, 1);
    if (!half) ksq1[row] = s0;
}
/* phase 3 of a chunk: g = y SiLU(z) (B,T,E) for the chunk's outputs, 8 channels of one step per
 * lane, stored as one 16-byte row piece (ASYNC: aligned rows) or element by element */
template <int N, bool ASYNC, typename X>
__device__ inline void scan_fwd_gate(X* __restrict__ g, const ScanChunkBuf<N, ScanFwdLanes<N>::CH, X>& c,
                                     const float (&y)[SSM_CHUNK][ScanFwdLanes<N>::CH], int b, int t0, int T, int E, int e0) {
    constexpr int CH = ScanFwdLanes<N>::CH, PR = CH / 8; // pieces of 8 channels per output row
    int lane = threadIdx.x & 31;
    if (ASYNC) {
#pragma unroll
        for (int q = lane; q < SSM_CHUNK * PR; q += 32) {
            int s = q / PR, c0 = q % PR * 8;
            float out[8], z[8];
            load8(z, &c.xvz[2][s][c0]); // (16-byte aligned: c0 is a multiple of 8)
#pragma unroll
            for (int u = 0; u < 8; u++) out[u] = y[s][c0 + u] * z[u] * sigmoidf_(z[u]); // (computed for every piece, stored for those inside: no branch around the math)
            if (t0 + s < T && e0 + c0 < E) store8(&g[((long)b * T + t0 + s) * E + e0 + c0], out);
        }
    } else {
        for (int q = lane; q < SSM_CHUNK * CH; q += 32) {
            int s = q / CH, cc = q % CH;
            if (t0 + s >= T || e0 + cc >= E) continue;
            float z = to_float(c.xvz[2][s][cc]);
            store_as(&g[((long)b * T + t0 + s) * E + e0 + cc], y[s][cc] * z * sigmoidf_(z));
        }
    }
}
template <int N, int LH, bool ASYNC, typename X>
__global__ void __launch_bounds__(32, SSM_FWD_MIN_BLOCKS) ssm_scan_forward_kernel(X* __restrict__ g, float* __restrict__ hck,
    const X* __restrict__ xc, const X* __restrict__ dtr, const float* __restrict__ dt_bias, const float* __restrict__ xdbl,
    const X* __restrict__ xz, const float* __restrict__ A_log, const float* __restrict__ D, int T, int E, int R) {
    constexpr int LPC = ScanFwdLanes<N>::LPC, NS = ScanFwdLanes<N>::NS, CH = ScanFwdLanes<N>::CH; // lanes per channel, states per lane
    static_assert(NS % 4 == 0, "a lane's B/C values and checkpoint are float4s");
    __shared__ __align__(16) ScanChunkBuf<N, CH, X> buf[2];
    __shared__ __align__(16) ScanFwdStep<N> st[2];
    int lane = threadIdx.x, b = blockIdx.y, e0 = blockIdx.x * CH, cl = lane / LPC, e = e0 + cl, n0 = (lane % LPC) * NS;
    int n_ck = ssm_n_chunks(T);
    bool active = e < E, writer = lane % LPC == 0; // the pair's first lane writes y
    int ec = active ? e : 0;
    float A2[NS], h[NS]; // A log2(e): a = 2^(dt A2)
#pragma unroll
    for (int j = 0; j < NS; j++) { A2[j] = LH ? 0.0f : -__expf(A_log[ec * N + n0 + j]) * LOG2E_F; h[j] = 0.0f; }
    float bias = dt_bias[ec], Dd = D[ec];
    scan_chunk_fetch<N, CH, ASYNC>(buf[0], xc, dtr, xz, xdbl, b, 0, T, E, R, e0);
    if (n_ck > 1) scan_chunk_fetch<N, CH, ASYNC>(buf[1], xc, dtr, xz, xdbl, b, 1, T, E, R, e0);
    else cp_async_commit(); // an empty group: the wait below leaves exactly chunk 1 in flight
    cp_async_wait<1>();
    __syncwarp();
    if (LH) { scan_ksq1<N>(st[0].ksq1, buf[0].bc); __syncwarp(); }
    scan_fwd_step_sizes<N, LH>(st[0].dt, buf[0], st[0].ksq1, bias);
    __syncwarp();
    for (int k = 0; k < n_ck; k++) {
        int t0 = k * SSM_CHUNK, p = k & 1;
        const ScanChunkBuf<N, CH, X>& c = buf[p];
        if (active) { // the state before step t0
            float4* ck = (float4*)(hck + (((long)b * n_ck + k) * E + e) * N + n0);
#pragma unroll
            for (int j = 0; j < NS; j += 4) ck[j / 4] = make_float4(h[j], h[j + 1], h[j + 2], h[j + 3]);
        }
        // 2. the recurrence (steps past T run on zero inputs; their outputs are not written)
#pragma unroll
        for (int s = 0; s < SSM_CHUNK; s++) {
            float Bs[NS], Cs[NS], yp[2] = {0.0f, 0.0f}, x = to_float(c.xvz[0][s][cl]), dt = st[p].dt[s][cl], dtx = dt * x;
            row_get<NS>(Bs, &c.bc[s][n0]);
            row_get<NS>(Cs, &c.bc[s][N + n0]);
#pragma unroll
            for (int j = 0; j < NS; j++) {
                if (LH) { // (1 - dt k^2) h + dt x k, as h - (dt k)(k h - x): 3 operations instead of 4
                    float dtk = dt * Bs[j];
                    h[j] = fmaf(-dtk, fmaf(Bs[j], h[j], -x), h[j]);
                } else {
                    h[j] = ex2_approx(dt * A2[j]) * h[j] + dtx * Bs[j];
                }
                yp[j & 1] += h[j] * Cs[j]; // two partial sums: half the dependent chain
            }
            float y = yp[0] + yp[1];
            if (LPC == 2) y += __shfl_xor_sync(0xffffffff, y, 1); // the pair's two halves
            if (writer) st[p].y[s][cl] = y + Dd * x;
        }
        // 3. this chunk's gate and the next chunk's step sizes, together (independent work: more
        // instructions in flight than either phase alone)
        cp_async_wait<0>(); // the next chunk has landed
        __syncwarp();
        bool next = k + 1 < n_ck;
        if (LH && next) { scan_ksq1<N>(st[p ^ 1].ksq1, buf[p ^ 1].bc); __syncwarp(); }
        scan_fwd_gate<N, ASYNC>(g, c, st[p].y, b, t0, T, E, e0);
        if (next) scan_fwd_step_sizes<N, LH>(st[p ^ 1].dt, buf[p ^ 1], st[p ^ 1].ksq1, bias);
        __syncwarp(); // every lane is done with this buffer before it is refilled
        if (k + 2 < n_ck) scan_chunk_fetch<N, CH, ASYNC>(buf[p], xc, dtr, xz, xdbl, b, k + 2, T, E, R, e0);
    }
}

/* The backward splits each channel's N states over a pair of lanes too (lane = 2 c + half: 16
 * channels per warp, N/2 states per lane); the pair adds its halves of y, d dt and dxc with one
 * shuffle each. A chunk runs in phases, all through shared memory so that the step loops hold
 * only the state math (no per-step arrays in registers: they spilled):
 *   1. the chunk's inputs (xc, dt projection, z, dg, the B/C rows) are copied in (cp.async when
 *      the rows are 16-byte aligned), and each (step, channel) pair's scalars are computed once:
 *      dt, dy = dg SiLU'... (see below), and the factors that turn d dt into d dt_proj;
 *   2. per sub-chunk of SSM_BWD_SUB steps, from the last: its states are recomputed from the
 *      chunk's checkpoint (the steps before it first, not kept) into shared memory (SUB slots:
 *      the state before each step; the state after a step is the one before the next, carried
 *      in registers), then the sub-chunk runs backwards carrying dh;
 *   3. dxc, d dt_proj and dz, staged in shared memory by step 2, go out as 16-byte rows;
 *   4. the block's 4 warps add their sums over channels (one row per step each) in shared memory
 *      and write one partial row per step: a quarter of the bytes of a row per warp.
 * Sub-chunks of 8 keep the states in 8 KB per warp (N 16), so 12 warps fit on an SM and B16
 * E1536 (1536 warps) runs in one wave; the price is recomputing the first 8 steps twice.
 * Measured on an H100 (bench_scan, mamba B16 T1024 E1536 N16, forward + backward): 1.13 ms with
 * sub-chunks of 8, 1.48 with 16 (the states of a whole chunk kept: 8 warps per SM), 1.89 for the
 * previous backward that held the chunk's inputs in registers (168 registers and spills). */
#define SSM_BWD_CH 16
#define SSM_BWD_WARPS 4 /* warps per block: their sums over channels are added in shared memory before they are written */
#ifndef SSM_BWD_SUB
#define SSM_BWD_SUB 8
#endif
#ifndef SSM_BWD_MIN_BLOCKS
#define SSM_BWD_MIN_BLOCKS (SSM_BWD_SUB <= 8 ? 3 : 2) /* blocks of SSM_BWD_WARPS warps per SM */
#endif
static_assert(SSM_CHUNK % SSM_BWD_SUB == 0, "sub-chunks split a chunk evenly");
template <int N, int LH, typename X>
struct ScanBwdSmem {                         // one warp's
    X xvz[3][SSM_CHUNK][SSM_BWD_CH];         // xc, dt projection, z of its 16 channels
    X dg[SSM_CHUNK][SSM_BWD_CH];             // dL/dg as copied in
    float dt[SSM_CHUNK][SSM_BWD_CH];         // the step sizes
    float dy[SSM_CHUNK][SSM_BWD_CH];         // dL/dy; dxc after step 2 has passed the step
    float gz[SSM_CHUNK][SSM_BWD_CH];         // dL/dg d(z sigmoid(z))/dz (dz = y gz); then dz
    float fv[SSM_CHUNK][SSM_BWD_CH];         // d dt / d v (v = dt_proj output); then d dt_proj
    float fk[LH ? SSM_CHUNK : 1][SSM_BWD_CH]; // longhorn: d dt / d|k|^2
    float ksq1[SSM_CHUNK];                   // longhorn: 1 + |k_t|^2
};
template <int N, int LH>
struct ScanBwdShared {                       // the block's
    float bc[SSM_CHUNK][2 * N];              // rows of [B_t | C_t] or [k | q], shared by the block's channels
    float sums[SSM_BWD_WARPS][SSM_CHUNK][2 * N + LH]; // each warp's channel sums per step, added over the warps at the chunk's end
};
/* a lane's NH states at one slot of the history: float4 pieces interleaved over the lanes, so
 * each access is conflict-free */
template <int NH>
__device__ inline void hist_put(float* slot, const float (&h)[NH]) {
    int lane = threadIdx.x & 31;
    if constexpr (NH % 4 == 0) {
#pragma unroll
        for (int v = 0; v < NH / 4; v++) ((float4*)slot)[v * 32 + lane] = make_float4(h[4 * v], h[4 * v + 1], h[4 * v + 2], h[4 * v + 3]);
    } else {
#pragma unroll
        for (int j = 0; j < NH; j++) slot[j * 32 + lane] = h[j];
    }
}
template <int NH>
__device__ inline void hist_get(float (&h)[NH], const float* slot) {
    int lane = threadIdx.x & 31;
    if constexpr (NH % 4 == 0) {
#pragma unroll
        for (int v = 0; v < NH / 4; v++) {
            float4 q = ((const float4*)slot)[v * 32 + lane];
            h[4 * v] = q.x; h[4 * v + 1] = q.y; h[4 * v + 2] = q.z; h[4 * v + 3] = q.w;
        }
    } else {
#pragma unroll
        for (int j = 0; j < NH; j++) h[j] = slot[j * 32 + lane];
    }
}
/* one step of the recurrence on a lane's NH states (recomputation in the backward) */
template <int NH, int LH>
__device__ inline void scan_bwd_recompute(float (&h)[NH], const float (&A2)[NH], const float* Brow, float dt, float x) {
    float Bs[NH], dtx = dt * x;
    row_get<NH>(Bs, Brow);
#pragma unroll
    for (int j = 0; j < NH; j++) { // (as the forward's steps: the same states, bit for bit)
        if (LH) h[j] = fmaf(-(dt * Bs[j]), fmaf(Bs[j], h[j], -x), h[j]);
        else h[j] = ex2_approx(dt * A2[j]) * h[j] + dtx * Bs[j];
    }
}
/* Sums over the channels of a warp: a butterfly reduce-scatter. The 16 lanes of one half (lane
 * bit 0 fixed) each hold 16 values; at stage X the lanes with bit X keep the upper H values and the
 * others the lower, each adding its partner's copy of them. After 4 stages (15 shuffles for 16
 * sums) lane holds the total of value (lane >> 1). */
template <int X, int H>
__device__ inline void reduce_scatter_stage16(float (&v)[16], int lane) {
    bool up = lane & X;
#pragma unroll
    for (int k = 0; k < H; k++) {
        float send = up ? v[k] : v[k + H], keep = up ? v[k + H] : v[k];
        v[k] = keep + __shfl_xor_sync(0xffffffff, send, X);
    }
}
__device__ inline float half_reduce_scatter16(float (&v)[16]) {
    int lane = threadIdx.x & 31;
    reduce_scatter_stage16<16, 8>(v, lane);
    reduce_scatter_stage16<8, 4>(v, lane);
    reduce_scatter_stage16<4, 2>(v, lane);
    reduce_scatter_stage16<2, 1>(v, lane);
    return v[0];
}
/* the backward's inputs of the chunk from step t0 into L2, while the block runs the chunk after
 * it: the copy-in of that chunk then waits on L2, not HBM. Thread (kind, row) of the block's 128
 * hints one 128-byte line of one row: the block's channels of xc, the dt projection, z, dg (two
 * lines in fp32), and the B/C row (it may straddle two lines) */
template <int N, int CH, typename X>
__device__ inline void scan_bwd_prefetch_l2(const X* xc, const X* dtr, const X* xz, const X* dg, const float* xdbl,
                                            int b, int t0, int T, int E, int R) {
    static_assert(SSM_BWD_WARPS * 32 >= 7 * SSM_CHUNK, "a thread per (kind, row)");
    int row = threadIdx.x % SSM_CHUNK, kind = threadIdx.x / SSM_CHUNK, eb = blockIdx.x * SSM_BWD_WARPS * CH;
    long r = (long)b * T + t0 + row, xd = r * (R + 2 * N) + R;
    const void* p = nullptr;
    switch (kind) {
    case 0: p = xc + r * E + eb; break;
    case 1: p = dtr + r * E + eb; break;
    case 2: p = xz + r * 2 * E + E + eb; break;
    case 3: p = dg + r * E + eb; break;
    case 4: if (sizeof(X) == 4 && eb + 32 < E) p = dg + r * E + eb + 32; break;
    case 5: p = xdbl + xd; break;
    case 6: p = xdbl + xd + 2 * N - 1; break;
    }
    if (p) prefetch_l2(p);
}
template <int N, int LH, bool VEC, typename X>
__global__ void __launch_bounds__(32 * SSM_BWD_WARPS, SSM_BWD_MIN_BLOCKS) ssm_scan_backward_kernel(X* __restrict__ dxc, X* __restrict__ ddtr,
    X* __restrict__ dxz, float* __restrict__ part_bc, float* __restrict__ part_ad, const X* __restrict__ dg, const float* __restrict__ hck,
    const X* __restrict__ xc, const X* __restrict__ dtr, const float* __restrict__ dt_bias, const float* __restrict__ xdbl,
    const X* __restrict__ xz, const float* __restrict__ A_log, const float* __restrict__ D, int T, int E, int R) {
    constexpr int CH = SSM_BWD_CH, NH = N / 2, NG = (N + 15) / 16, PW = 2 * N + LH, SUB = SSM_BWD_SUB;
    // shared memory (ssm_bwd_smem bytes): the block's ScanBwdShared, each warp's ScanBwdSmem, then
    // each warp's SUB slots of (NH, 32) states: the state before each step of a sub-chunk
    extern __shared__ float4 smem_all[];
    ScanBwdShared<N, LH>& blk = *(ScanBwdShared<N, LH>*)smem_all;
    ScanBwdSmem<N, LH, X>* warp_sm = (ScanBwdSmem<N, LH, X>*)(&blk + 1);
    float* hist_all = (float*)(warp_sm + SSM_BWD_WARPS);
    int wi = threadIdx.x / 32, lane = threadIdx.x % 32, b = blockIdx.y, half = lane & 1, cl = lane >> 1;
    int e0 = (blockIdx.x * SSM_BWD_WARPS + wi) * CH, e = e0 + cl, n_ck = ssm_n_chunks(T), n0 = half * NH; // this lane's states: n0 .. n0 + NH
    bool active = e < E, lead = active && half == 0; // the lead lane writes the channel's sums
    int ec = active ? e : 0;
    ScanBwdSmem<N, LH, X>& sm = warp_sm[wi];
    float* hist = hist_all + wi * SUB * NH * 32;
    float A2[NH], dh[NH], dA[NH]; // dA: sum of (dL/da) a dt; times A at the end
#pragma unroll
    for (int j = 0; j < NH; j++) { A2[j] = LH ? 0.0f : -__expf(A_log[ec * N + n0 + j]) * LOG2E_F; dh[j] = 0.0f; dA[j] = 0.0f; }
    float bias = dt_bias[ec], Dd = D[ec], dD = 0.0f, dbias = 0.0f; // dbias: the dt bias gradient, sum of d dt_proj
    for (int ck = n_ck - 1; ck >= 0; ck--) {
        int t0 = ck * SSM_CHUNK;
        // 1. the chunk's inputs (rows past T and channels past E are zeros) and per-(step, channel) scalars
        if (VEC) {
            constexpr int XPR = 16 / sizeof(X), PR = CH / XPR; // elements, 16-byte pieces per row
#pragma unroll
            for (int q = lane; q < SSM_CHUNK * PR; q += 32) {
                int st = q / PR, ch = e0 + q % PR * XPR;
                bool ok = t0 + st < T && ch < E;
                cp_async16(&sm.dg[st][q % PR * XPR], ok ? dg + ((long)b * T + t0 + st) * E + ch : dg, ok);
            }
        } else {
            for (int q = lane; q < SSM_CHUNK * CH; q += 32) {
                int st = q / CH, ch = e0 + q % CH;
                sm.dg[st][q % CH] = t0 + st < T && ch < E ? dg[((long)b * T + t0 + st) * E + ch] : X(0.0f);
            }
        }
        scan_fetch_xvz<CH, VEC>(sm.xvz, xc, dtr, xz, b, ck, T, E, e0);
        if (wi == 0) scan_fetch_bc<N, VEC>(blk.bc, xdbl, b, ck, T, R);
        cp_async_commit();
        if (ck > 0) scan_bwd_prefetch_l2<N, CH>(xc, dtr, xz, dg, xdbl, b, t0 - SSM_CHUNK, T, E, R);
        float hc[NH]; // the chunk's checkpoint: the state before step t0
        row_get<NH>(hc, hck + (((long)b * n_ck + ck) * E + ec) * N + n0);
        cp_async_wait<0>();
        __syncthreads(); // the B/C rows are in (and every warp is past the previous chunk's sums)
        if (LH) scan_ksq1<N>(sm.ksq1, blk.bc);
        __syncwarp();
#pragma unroll
        for (int r = 0; r < SSM_CHUNK / 2; r++) { // the pair splits the steps (a fixed trip count: independent chains)
            int s = 2 * r + half;
            float vr = to_float(sm.xvz[1][s][cl]), v = vr + bias, z = to_float(sm.xvz[2][s][cl]), gd = to_float(sm.dg[s][cl]);
            float sz = sigmoidf_(z), ksq1 = LH ? sm.ksq1[s] : 0.0f;
            sm.dt[s][cl] = t0 + s < T ? ssm_dt<LH>(vr, bias, ksq1) : 0.0f; // dt = 0 past T: a = 1, nothing moves
            sm.dy[s][cl] = gd * z * sz;
            sm.gz[s][cl] = gd * dsilu(z, sz);
            if (LH) { // dt = beta / (1 + beta s), s = |k|^2; 1 + beta s = (1 - beta) + beta (1 + s)
                float beta = sigmoidf_(v), r = rcp_approx(fmaf(beta, ksq1, 1.0f - beta)), r2 = r * r;
                sm.fv[s][cl] = beta * (1.0f - beta) * r2;
                sm.fk[s][cl] = -beta * beta * r2;
            } else {
                sm.fv[s][cl] = sigmoidf_(v); // softplus' = sigmoid
            }
        }
        __syncwarp();
        // 2. sub-chunks from the last
#pragma unroll 1
        for (int q = SSM_CHUNK / SUB - 1; q >= 0; q--) {
            float h[NH];
#pragma unroll
            for (int j = 0; j < NH; j++) h[j] = hc[j];
#pragma unroll 4
            for (int s = 0; s < q * SUB; s++) scan_bwd_recompute<NH, LH>(h, A2, &blk.bc[s][n0], sm.dt[s][cl], to_float(sm.xvz[0][s][cl]));
#pragma unroll
            for (int i = 0; i < SUB; i++) { // slot i: the state before step i of the sub-chunk
                int s = q * SUB + i;
                hist_put<NH>(hist + i * NH * 32, h);
                scan_bwd_recompute<NH, LH>(h, A2, &blk.bc[s][n0], sm.dt[s][cl], to_float(sm.xvz[0][s][cl]));
            }
            float ht[NH]; // the state after the step: h for the sub-chunk's last step, then the previous step's hp
#pragma unroll
            for (int j = 0; j < NH; j++) ht[j] = h[j];
#pragma unroll // (fully: 2 or 4 measured slower, dev/runs/s14_call11)
            for (int i = SUB - 1; i >= 0; i--) {
                int s = q * SUB + i;
                float x = to_float(sm.xvz[0][s][cl]), dt = sm.dt[s][cl], dtx = dt * x, dy = sm.dy[s][cl];
                float hp[NH], Bs[NH], Cs[NH], vals[NG * 16]; // vals: [dB_t or dk | dC_t or dq] of this lane's states
                hist_get<NH>(hp, hist + i * NH * 32);
                row_get<NH>(Bs, &blk.bc[s][n0]);
                row_get<NH>(Cs, &blk.bc[s][N + n0]);
                float y = 0.0f, S = 0.0f, Q = 0.0f; // S = sum dh B (d dt via b and dxc); Q: d dt via a
#pragma unroll
                for (int j = 0; j < NH; j++) {
                    float k2 = Bs[j] * Bs[j]; // (longhorn: k^2 once for a and Q)
                    float a = LH ? fmaf(-dt, k2, 1.0f) : ex2_approx(dt * A2[j]);
                    y += ht[j] * Cs[j];
                    vals[NH + j] = dy * ht[j]; // dC_t / dq
                    dh[j] += dy * Cs[j];       // dL/dh[t]
                    S += dh[j] * Bs[j];
                    if (LH) { // a = 1 - dt k^2, b = dt x k
                        float da = dh[j] * hp[j]; // dL/da
                        Q += da * k2;
                        vals[j] = fmaf(-2.0f * dt * da, Bs[j], dh[j] * dtx); // dk
                        dh[j] *= a; // on to dL/dh[t-1]
                    } else {  // a = 2^(dt A2)
                        vals[j] = dh[j] * dtx; // dB_t
                        dh[j] *= a;            // on to dL/dh[t-1]
                        float daa = dh[j] * hp[j]; // (dL/da) a, from dL/dh[t-1] = (dL/dh[t]) a: one multiply fewer
                        Q += daa * A2[j];
                        dA[j] += daa * dt;
                    }
                    ht[j] = hp[j];
                }
                y += __shfl_xor_sync(0xffffffff, y, 1) + Dd * x; // the pair's two halves
                S += __shfl_xor_sync(0xffffffff, S, 1);
                Q += __shfl_xor_sync(0xffffffff, Q, 1);
                float ddt = LH ? x * S - Q : fmaf(Q, 0.6931471805599453f, x * S), dx = fmaf(dt, S, dy * Dd);
#pragma unroll
                for (int k = N; k < NG * 16; k++) vals[k] = 0.0f;
#pragma unroll
                for (int grp = 0; grp < NG; grp++) { // this warp's sums over its channels, into shared memory
                    float v16[16];
#pragma unroll
                    for (int k = 0; k < 16; k++) v16[k] = vals[grp * 16 + k];
                    float tot = half_reduce_scatter16(v16);
                    int k = grp * 16 + (lane >> 1); // value k of this half: dB/dk of n0 + k, or dC/dq of n0 + k - NH
                    if (k < N) blk.sums[wi][s][k < NH ? n0 + k : N + n0 + k - NH] = tot;
                }
                if (LH) {
                    float dks = warp_sum(lead ? ddt * sm.fk[s][cl] : 0.0f);
                    if (lane == 0) blk.sums[wi][s][2 * N] = dks;
                }
                if (lead) { // the step's outputs replace its inputs (the partner has read them: the shuffles wait for it)
                    float dv = sm.fv[s][cl] * ddt; // d dt_proj (zero past T: dt = 0 there)
                    dD += dy * x;
                    dbias += dv;
                    sm.dy[s][cl] = dx;
                    sm.gz[s][cl] *= y;
                    sm.fv[s][cl] = dv;
                }
            }
        }
        __syncwarp();
        // 3. dxc, d dt_proj and dz (X) out
        if (VEC) {
#pragma unroll
            for (int q = lane; q < SSM_CHUNK * CH / 8; q += 32) {
                int s = q / (CH / 8), c0 = q % (CH / 8) * 8;
                if (t0 + s >= T || e0 + c0 >= E) continue;
                long row = (long)b * T + t0 + s;
                store8(&dxc[row * E + e0 + c0], &sm.dy[s][c0]);
                store8(&ddtr[row * E + e0 + c0], &sm.fv[s][c0]);
                store8(&dxz[row * 2 * E + E + e0 + c0], &sm.gz[s][c0]);
            }
        } else {
            for (int q = lane; q < SSM_CHUNK * CH; q += 32) {
                int s = q / CH, c = q % CH;
                if (t0 + s >= T || e0 + c >= E) continue;
                long row = (long)b * T + t0 + s;
                store_as(&dxc[row * E + e0 + c], sm.dy[s][c]);
                store_as(&ddtr[row * E + e0 + c], sm.fv[s][c]);
                store_as(&dxz[row * 2 * E + E + e0 + c], sm.gz[s][c]);
            }
        }
        // 4. the block's sums over its 64 channels: one partial row per (step, block), added up by ssm_partials_reduce_kernel
        __syncthreads();
        for (int j = threadIdx.x; j < SSM_CHUNK * PW; j += 32 * SSM_BWD_WARPS) {
            int s = j / PW, col = j % PW;
            if (t0 + s >= T) break;
            float tot = 0.0f;
#pragma unroll
            for (int w = 0; w < SSM_BWD_WARPS; w++) tot += blk.sums[w][s][col];
            part_bc[(((long)b * T + t0 + s) * gridDim.x + blockIdx.x) * PW + col] = tot;
        }
    }
    if (!active) return;
    float* pad = part_ad + ((long)b * E + e) * (N + 2); // per batch row: dA_log (N), dD, the dt bias
#pragma unroll
    for (int j = 0; j < NH; j++) pad[n0 + j] = dA[j] * A2[j] * 0.6931471805599453f; // dA/dA_log = A = A2 ln 2
    if (half == 0) { pad[N] = dD; pad[N + 1] = dbias; }
}

/* dxdbl's B/k and C/q columns (written) from the per-warp partial rows; Longhorn adds the path
 * through |k|^2: dk[n] += 2 k[n] d|k|^2 */
__global__ void ssm_partials_reduce_kernel(float* dxdbl, const float* part_bc, const float* xdbl, int BT, int N, int R, int n_parts,
                                           int LH) {
    long j = (long)blockIdx.x * blockDim.x + threadIdx.x;
    if (j >= (long)BT * 2 * N) return;
    long i = j / (2 * N);
    int col = (int)(j % (2 * N)), PW = 2 * N + LH, XD = R + 2 * N;
    const float* p = part_bc + i * n_parts * PW;
    float s = 0, dks = 0;
    for (int w = 0; w < n_parts; w++) {
        s += p[w * PW + col];
        if (LH) dks += p[w * PW + 2 * N];
    }
    if (LH && col < N) s += 2.0f * xdbl[i * XD + R + col] * dks;
    dxdbl[i * XD + R + col] = s;
}
/* dA_log (E,N) +=, dD (E) += and the dt bias gradient (E) += the per-batch-row sums, in order of b */
__global__ void ssm_param_reduce_kernel(float* dA_log, float* dD, float* ddt_bias, const float* part_ad, int B, int E, int N) {
    long j = (long)blockIdx.x * blockDim.x + threadIdx.x;
    if (j >= (long)E * (N + 2)) return;
    int e = (int)(j / (N + 2)), n = (int)(j % (N + 2));
    float s = 0;
    for (int b = 0; b < B; b++) s += part_ad[((long)b * E + e) * (N + 2) + n];
    if (n < N) { if (dA_log) dA_log[e * N + n] += s; }
    else if (n == N) dD[e] += s;
    else ddt_bias[e] += s;
}

/* g (B,T,E) = y * SiLU(z) with y the scan output; hck (B, ssm_n_chunks(T), E, N) checkpoints.
 * xz (B,T,2E): z is its second half. A_log NULL for longhorn. */
template <int N, typename X>
static void ssm_scan_forward_n(X* g, float* hck, const X* xc, const X* dtr, const float* dt_bias, const float* xdbl,
                               const X* xz, const float* A_log, const float* D, int longhorn, int B, int T, int E, int R) {
    dim3 grid(ceil_div(E, ScanFwdLanes<N>::CH), B);
    // 16-byte pieces: rows, the z half, the B/C columns and the base pointers all 16-byte aligned
    bool async = E % 8 == 0 && R % 4 == 0 && aligned(g, 16) && aligned(xc, 16) && aligned(dtr, 16) && aligned(xz, 16) && aligned(xdbl, 16);
    if (longhorn && async) ssm_scan_forward_kernel<N, 1, true, X><<<grid, 32>>>(g, hck, xc, dtr, dt_bias, xdbl, xz, A_log, D, T, E, R);
    else if (longhorn) ssm_scan_forward_kernel<N, 1, false, X><<<grid, 32>>>(g, hck, xc, dtr, dt_bias, xdbl, xz, A_log, D, T, E, R);
    else if (async) ssm_scan_forward_kernel<N, 0, true, X><<<grid, 32>>>(g, hck, xc, dtr, dt_bias, xdbl, xz, A_log, D, T, E, R);
    else ssm_scan_forward_kernel<N, 0, false, X><<<grid, 32>>>(g, hck, xc, dtr, dt_bias, xdbl, xz, A_log, D, T, E, R);
    cudaCheck(cudaGetLastError());
}
template <typename X> /* xc, dtr, xz and g: fp32, or bf16 in bf16 mode */
static void ssm_scan_forward(X* g, float* hck, const X* xc, const X* dtr, const float* dt_bias, const float* xdbl, const X* xz,
                             const float* A_log, const float* D, int longhorn, int B, int T, int E, int N, int R) {
    switch (N) {
    case 4: ssm_scan_forward_n<4>(g, hck, xc, dtr, dt_bias, xdbl, xz, A_log, D, longhorn, B, T, E, R); break;
    case 8: ssm_scan_forward_n<8>(g, hck, xc, dtr, dt_bias, xdbl, xz, A_log, D, longhorn, B, T, E, R); break;
    case 16: ssm_scan_forward_n<16>(g, hck, xc, dtr, dt_bias, xdbl, xz, A_log, D, longhorn, B, T, E, R); break;
    case 32: ssm_scan_forward_n<32>(g, hck, xc, dtr, dt_bias, xdbl, xz, A_log, D, longhorn, B, T, E, R); break;
    default: sm_die("d_state %d has no GPU scan kernel (supported: %s)", N, SSM_N_SUPPORTED);
    }
}
/* scratch floats the backward needs for (B,T,E,N) */
/* the backward's scratch: partial rows per (b,t) and block of channels, [dB_t or dk (N) | dC_t or
 * dq (N) | d|k|^2 (longhorn)], then per (b, e) [dA_log (N) | dD | dt bias] */
template <int N, int LH, typename X>
static size_t ssm_bwd_smem() {
    return sizeof(ScanBwdShared<N, LH>) + SSM_BWD_WARPS * (sizeof(ScanBwdSmem<N, LH, X>) + SSM_BWD_SUB * (N / 2) * 32 * sizeof(float));
}
static int ssm_bwd_blocks(int E) { return ceil_div(E, SSM_BWD_CH * SSM_BWD_WARPS); }
static size_t ssm_scan_backward_scratch(int B, int T, int E, int N) {
    return (size_t)B * T * ssm_bwd_blocks(E) * (2 * N + 1) + (size_t)B * E * (N + 2);
}
template <int N, int LH, bool VEC, typename X>
static void ssm_scan_backward_launch(X* dxc, X* ddtr, X* dxz, float* part_bc, float* part_ad, const X* dg, const float* hck,
                                     const X* xc, const X* dtr, const float* dt_bias, const float* xdbl, const X* xz,
                                     const float* A_log, const float* D, int B, int T, int E, int R) {
    size_t smem = ssm_bwd_smem<N, LH, X>();
    static bool configured = false;
    if (!configured) { // all of the SM's on-chip memory as shared memory: the kernel does not spill
        cudaCheck(cudaFuncSetAttribute(ssm_scan_backward_kernel<N, LH, VEC, X>, cudaFuncAttributeMaxDynamicSharedMemorySize, (int)smem));
        cudaCheck(cudaFuncSetAttribute(ssm_scan_backward_kernel<N, LH, VEC, X>, cudaFuncAttributePreferredSharedMemoryCarveout, 100));
        configured = true;
    }
    ssm_scan_backward_kernel<N, LH, VEC, X><<<dim3(ssm_bwd_blocks(E), B), 32 * SSM_BWD_WARPS, smem>>>(dxc, ddtr, dxz, part_bc, part_ad, dg, hck, xc, dtr,
                                                                                            dt_bias, xdbl, xz, A_log, D, T, E, R);
    cudaCheck(cudaGetLastError());
}
template <int N, typename X>
static void ssm_scan_backward_n(X* dxc, X* ddtr, X* dxz, float* part_bc, float* part_ad, const X* dg, const float* hck,
                                const X* xc, const X* dtr, const float* dt_bias, const float* xdbl, const X* xz,
                                const float* A_log, const float* D, int longhorn, int B, int T, int E, int R) {
    // 16-byte pieces (as the forward), and 16-byte stores of dxc, d dt_proj and dz
    bool vec = E % 8 == 0 && R % 4 == 0 && aligned(xc, 16) && aligned(dtr, 16) && aligned(xz, 16) && aligned(xdbl, 16) &&
               aligned(dg, 16) && aligned(dxc, 16) && aligned(ddtr, 16) && aligned(dxz, 16);
#define SSM_BWD_ARGS dxc, ddtr, dxz, part_bc, part_ad, dg, hck, xc, dtr, dt_bias, xdbl, xz, A_log, D, B, T, E, R
    if (longhorn && vec) ssm_scan_backward_launch<N, 1, true, X>(SSM_BWD_ARGS);
    else if (longhorn) ssm_scan_backward_launch<N, 1, false, X>(SSM_BWD_ARGS);
    else if (vec) ssm_scan_backward_launch<N, 0, true, X>(SSM_BWD_ARGS);
    else ssm_scan_backward_launch<N, 0, false, X>(SSM_BWD_ARGS);
#undef SSM_BWD_ARGS
}
/* dg -> dxc (written), ddtr (written: the gradient of dt_proj / dt_head's output, bias included),
 * dz (written into the second half of dxz), dxdbl's B/C (k/q) columns (written), dA_log, dD and
 * the dt bias gradient ddt_bias (added: the sum of d dt_proj over (b, t), in fp32 before d dt_proj
 * is stored as X). scratch: ssm_scan_backward_scratch() floats. X as in the forward: dg (out_proj's
 * input gradient) and the gradients the scan writes are X too: ddtr and dz are read only by
 * matmuls, dxc by x_proj's backward (which adds its part to it) and the conv backward. */
template <typename X>
static void ssm_scan_backward(X* dxc, X* ddtr, X* dxz, float* dxdbl, float* dA_log, float* dD, float* ddt_bias, float* scratch, const X* dg,
                              const float* hck, const X* xc, const X* dtr, const float* dt_bias, const float* xdbl,
                              const X* xz, const float* A_log, const float* D, int longhorn, int B, int T, int E, int N, int R) {
    float *part_bc = scratch, *part_ad = scratch + (size_t)B * T * ssm_bwd_blocks(E) * (2 * N + 1);
    switch (N) {
    case 4: ssm_scan_backward_n<4>(dxc, ddtr, dxz, part_bc, part_ad, dg, hck, xc, dtr, dt_bias, xdbl, xz, A_log, D, longhorn, B, T, E, R); break;
    case 8: ssm_scan_backward_n<8>(dxc, ddtr, dxz, part_bc, part_ad, dg, hck, xc, dtr, dt_bias, xdbl, xz, A_log, D, longhorn, B, T, E, R); break;
    case 16: ssm_scan_backward_n<16>(dxc, ddtr, dxz, part_bc, part_ad, dg, hck, xc, dtr, dt_bias, xdbl, xz, A_log, D, longhorn, B, T, E, R); break;
    case 32: ssm_scan_backward_n<32>(dxc, ddtr, dxz, part_bc, part_ad, dg, hck, xc, dtr, dt_bias, xdbl, xz, A_log, D, longhorn, B, T, E, R); break;
    default: sm_die("d_state %d has no GPU scan kernel (supported: %s)", N, SSM_N_SUPPORTED);
    }
    long BT = (long)B * T;
    ssm_partials_reduce_kernel<<<ceil_div(BT * 2 * N, 256), 256>>>(dxdbl, part_bc, xdbl, (int)BT, N, R, ssm_bwd_blocks(E), longhorn);
    cudaCheck(cudaGetLastError());
    ssm_param_reduce_kernel<<<ceil_div((long)E * (N + 2), 256), 256>>>(longhorn ? NULL : dA_log, dD, ddt_bias, part_ad, B, E, N);
    cudaCheck(cudaGetLastError());
}

/* ============================================================================================
 * The step's scalars live in device memory (StepScalars), written by the host before each step:
 * the kernels below read them there, so the same captured graph serves every step.
 * ============================================================================================ */
struct StepScalars {
    float inv_scored;          /* 1 / scored positions: the scale of dlogits */
    int scored;                /* positions with mask 1 (all of them without a mask) */
    float lr, bc1, bc2, decay; /* AdamW: learning rate, 1 - beta1^t, 1 - beta2^t, 1 - lr * weight_decay */
    float beta1, beta2, eps;
    double clip;               /* global-norm clip (0 = none) */
    double loss;               /* out: mean loss over the scored positions */
    double sumsq;              /* out: sum of the squared gradients */
};

/* ---- the mean loss: one block sums the per-position losses in a fixed order ---- */
__global__ void loss_mean_kernel(StepScalars* s, const float* losses, const unsigned char* mask, int N) {
    __shared__ double red[1024];
    double acc = 0;
    for (int i = threadIdx.x; i < N; i += blockDim.x) if (!mask || mask[i]) acc += losses[i];
    red[threadIdx.x] = acc;
    __syncthreads();
    for (int k = blockDim.x / 2; k > 0; k >>= 1) {
        if (threadIdx.x < k) red[threadIdx.x] += red[threadIdx.x + k];
        __syncthreads();
    }
    if (threadIdx.x == 0) s->loss = s->scored ? red[0] / s->scored : 0.0;
}
static void loss_mean(StepScalars* s, const float* losses, const unsigned char* mask, int N) {
    loss_mean_kernel<<<1, 1024>>>(s, losses, mask, N);
    cudaCheck(cudaGetLastError());
}

/* ============================================================================================
 * global grad norm: per-block sums of squares, then one block adds them in order (deterministic)
 * ============================================================================================ */
#define SUMSQ_BLOCKS 264
/* 16-byte loads, four of them in flight per thread (a float at a time, one load per dependent
 * add, read at 1.9 TB/s on an H100), then the tail past the last whole float4 */
__global__ void sumsq_partial_kernel(double* partials, const float* g, long n) {
    __shared__ double red[256];
    double acc[4] = {0, 0, 0, 0};
    long n4 = n / 4, stride = (long)gridDim.x * blockDim.x, i = (long)blockIdx.x * blockDim.x + threadIdx.x;
    const float4* g4 = (const float4*)g; // (g: the gradient buffer, from cudaMalloc)
#pragma unroll 4
    for (long k = i; k < n4; k += stride) {
        float4 v = g4[k];
        acc[0] += (double)v.x * v.x;
        acc[1] += (double)v.y * v.y;
        acc[2] += (double)v.z * v.z;
        acc[3] += (double)v.w * v.w;
    }
    for (long k = 4 * n4 + i; k < n; k += stride) acc[0] += (double)g[k] * g[k];
    red[threadIdx.x] = (acc[0] + acc[1]) + (acc[2] + acc[3]);
    __syncthreads();
    for (int k = blockDim.x / 2; k > 0; k >>= 1) {
        if (threadIdx.x < k) red[threadIdx.x] += red[threadIdx.x + k];
        __syncthreads();
    }
    if (threadIdx.x == 0) partials[blockIdx.x] = red[0];
}
__global__ void sumsq_reduce_kernel(double* out, const double* partials, int n) {
    if (threadIdx.x != 0) return;
    double s = 0;
    for (int k = 0; k < n; k++) s += partials[k];
    *out = s;
}
/* sum of g^2 into *out (device); partials: SUMSQ_BLOCKS doubles */
static void grad_sumsq(double* out, const float* g, long n, double* partials) {
    sumsq_partial_kernel<<<SUMSQ_BLOCKS, 256>>>(partials, g, n);
    cudaCheck(cudaGetLastError());
    sumsq_reduce_kernel<<<1, 32>>>(out, partials, SUMSQ_BLOCKS);
    cudaCheck(cudaGetLastError());
}

/* ============================================================================================
 * AdamW over the whole parameter buffer in one launch (torch.optim.AdamW semantics, as
 * adamw_step), with the global-norm clip folded in: g <- g * clip / (norm + 1e-6) when
 * norm > clip, as the trainer does on the CPU. Weight decay differs per tensor (not on norms,
 * biases, 1-D tensors), so the buffer is cut into AdamChunks of one tensor each; block k
 * updates chunk k.
 * ============================================================================================ */
#define ADAM_CHUNK 4096
struct AdamChunk { long start; int count, decay; };
/* one element's update (the scalar and the float4 paths share it) */
__device__ __forceinline__ float adamw_one(float& p, float g, float& m, float& v, float clip_scale, float decay, const StepScalars* s) {
    float gi = g * clip_scale;
    m = s->beta1 * m + (1.0f - s->beta1) * gi;
    v = s->beta2 * v + (1.0f - s->beta2) * gi * gi;
    p = p * decay - (s->lr / s->bc1) * m / (sqrtf(v / s->bc2) + s->eps);
    return p;
}
__global__ void adamw_kernel(float* p, __nv_bfloat16* p16, const float* g, float* m, float* v, const AdamChunk* chunks,
                             const StepScalars* s) {
    AdamChunk ch = chunks[blockIdx.x];
    double norm = sqrt(s->sumsq);
    float clip_scale = s->clip > 0 && norm > s->clip ? (float)(s->clip / (norm + 1e-6)) : 1.0f;
    float decay = ch.decay ? s->decay : 1.0f;
    if (ch.start % 4 == 0 && ch.count % 4 == 0) { // (the buffers are cudaMalloc's: a multiple of 4 elements is 16 bytes in)
        // 16-byte loads and stores (4 elements a thread): with one float per load the kernel had
        // too few bytes in flight to fill the memory pipe (2.8 TB/s on an H100)
        for (int k = 4 * threadIdx.x; k < ch.count; k += 4 * blockDim.x) {
            long i = ch.start + k;
            float4 pi = *(float4*)(p + i), gi = *(const float4*)(g + i), mi = *(float4*)(m + i), vi = *(float4*)(v + i);
            adamw_one(pi.x, gi.x, mi.x, vi.x, clip_scale, decay, s);
            adamw_one(pi.y, gi.y, mi.y, vi.y, clip_scale, decay, s);
            adamw_one(pi.z, gi.z, mi.z, vi.z, clip_scale, decay, s);
            adamw_one(pi.w, gi.w, mi.w, vi.w, clip_scale, decay, s);
            *(float4*)(p + i) = pi;
            *(float4*)(m + i) = mi;
            *(float4*)(v + i) = vi;
            if (p16) st4(p16 + i, {pi.x, pi.y, pi.z, pi.w});
        }
        return;
    }
    for (int k = threadIdx.x; k < ch.count; k += blockDim.x) {
        long i = ch.start + k;
        float pi = adamw_one(p[i], g[i], m[i], v[i], clip_scale, decay, s);
        if (p16) p16[i] = __float2bfloat16(pi);
    }
}
/* the chunk table of a parameter table (device memory; *n_chunks = the grid size) */
static AdamChunk* adamw_chunks(const ParamTable* pt, int* n_chunks) {
    int n = 0;
    for (int i = 0; i < pt->n; i++) n += (int)((pt->t[i].numel + ADAM_CHUNK - 1) / ADAM_CHUNK);
    AdamChunk* h = (AdamChunk*)mallocCheck((size_t)n * sizeof(AdamChunk));
    int k = 0;
    for (int i = 0; i < pt->n; i++)
        for (size_t o = 0; o < pt->t[i].numel; o += ADAM_CHUNK)
            h[k++] = {(long)(pt->t[i].offset + o), (int)(pt->t[i].numel - o < ADAM_CHUNK ? pt->t[i].numel - o : ADAM_CHUNK), pt->t[i].decay};
    AdamChunk* d;
    device_alloc(&d, (size_t)n * sizeof(AdamChunk));
    cudaCheck(cudaMemcpy(d, h, (size_t)n * sizeof(AdamChunk), cudaMemcpyHostToDevice));
    free(h);
    *n_chunks = n;
    return d;
}
/* p16: the bf16 mirror of p to refresh, or NULL */
static void adamw_update(float* p, __nv_bfloat16* p16, const float* g, float* m, float* v, const AdamChunk* chunks, int n_chunks,
                         const StepScalars* s) {
    adamw_kernel<<<n_chunks, 256>>>(p, p16, g, m, v, chunks, s);
    cudaCheck(cudaGetLastError());
}
/* the host's half of a step's scalars: the schedule's lr, the bias corrections of step t */
static void step_scalars_set(StepScalars* s, const OptimConfig* o, double lr, int t) {
    s->lr = (float)lr;
    s->bc1 = (float)(1 - pow(o->beta1, t));
    s->bc2 = (float)(1 - pow(o->beta2, t));
    s->decay = (float)(1 - lr * o->weight_decay);
    s->beta1 = (float)o->beta1;
    s->beta2 = (float)o->beta2;
    s->eps = (float)o->eps;
    s->clip = o->grad_clip;
}

/* ============================================================================================
 * 5.1 Transformer family (gpt, llama) on the GPU: the same walk as transformer_forward /
 * transformer_backward in seqmodels.h, op for op, over device copies of the same parameter
 * buffer and the same activation layout (attention keeps one LSE per row instead of P).
 * ============================================================================================ */
/* what a captured step depends on besides the device buffers: batch shape, mask or not, and the
 * scratch buffers' addresses (scratch_generation) */
struct StepKey { int B, T, mask, gen; };
static bool same_key(StepKey a, StepKey b) { return a.B == b.B && a.T == b.T && a.mask == b.mask && a.gen == b.gen; }
struct GpuModel {
    Model* host;                          /* config, parameter table, offsets */
    float *params, *grads, *adam_m, *adam_v; /* device buffers, the host layout */
    __nv_bfloat16* params16;              /* bf16 mode: the parameters rounded to bf16 (see params_base) */
    float *acts, *dacts, *logits, *dlogits, *losses; /* dacts: ONE layer's gradients, reused */
    int *inputs, *targets;
    unsigned char* mask;
    int has_mask;         /* the uploaded batch has a loss mask */
    StepScalars* step;    /* device: this step's scalars (section "The step's scalars") */
    double* sumsq_partials;
    AdamChunk* adam_chunks;
    int n_adam_chunks;
    float* att_scratch;   /* B*H*T: attention backward's row dots D */
    size_t n_acts, n_dacts;
    /* train_step's CUDA graph and the shape it was captured for (see train_step) */
    int use_graph;
    cudaGraphExec_t graph;
    StepKey graph_key, warm_key; /* the graph's shape; the last eager step's (the next one may be captured) */
};
/* The backward needs the gradients of one layer at a time, so dacts holds the layout of a
 * one-layer model: its `encoded` and `res2` are the two residual-stream gradients (into and out
 * of the current layer), swapped from layer to layer. That halves the memory of a deep model. */
static Config one_layer(const Config* c) {
    Config c1 = *c;
    c1.n_layer = 1;
    return c1;
}
/* the GPU's activation layout flags (see transformer_layout): bf16 mode stores matmul-only
 * activations in bf16; the branch outputs hold one layer */
/* --recompute: 0 keeps every layer's activations; 1 (default) keeps one layer of the MLP activation
 * and recomputes the others' in the backward (an elementwise pass; 1.2 GB less at GPT-2 small,
 * B16 T1024); 2 also recomputes both norms' outputs from the kept residual stream, mean and rstd */
static int recompute = 1;
static int gpu_layout_flags(int x_half) {
    return (x_half ? LAYOUT_X_HALF : 0) | LAYOUT_ONE_BRANCH | (recompute >= 1 ? LAYOUT_ONE_ACT : 0) | (recompute >= 2 ? LAYOUT_ONE_NORM : 0);
}
static int gpu_grads_flags(int x_half) { return (x_half ? LAYOUT_X_HALF : 0) | LAYOUT_GRADS; } /* of one_layer(c) */
static size_t gpu_acts_size(const Config* c, int B, int T, int x_half) {
    TransformerActs a;
    Arena ar = {NULL, 0};
    transformer_layout(&a, &ar, c, B, T, 1, gpu_layout_flags(x_half));
    return ar.used;
}
static float* gpu_tensor(const GpuModel* g, float* buf, const char* fmt, int l) {
    char name[SM_MAX_NAME];
    snprintf(name, sizeof(name), fmt, l);
    int i = table_find(&g->host->pt, name);
    return i < 0 ? NULL : buf + g->host->pt.t[i].offset;
}
static TransformerLayerParams gpu_layer(const GpuModel* g, float* buf, int l) {
    TransformerLayerParams p; /* transformer_layer() over a device buffer: the offsets are the host's */
    const char* names[13] = {"transformer.h.%d.ln_1.weight", "transformer.h.%d.ln_1.bias", "transformer.h.%d.attn.c_attn.weight",
                             "transformer.h.%d.attn.c_attn.bias", "transformer.h.%d.attn.c_proj.weight", "transformer.h.%d.attn.c_proj.bias",
                             "transformer.h.%d.ln_2.weight", "transformer.h.%d.ln_2.bias",
                             is_llama(&g->host->cfg) ? "transformer.h.%d.mlp.fc_1.weight" : "transformer.h.%d.mlp.c_fc.weight",
                             "transformer.h.%d.mlp.c_fc.bias", "transformer.h.%d.mlp.fc_2.weight", "transformer.h.%d.mlp.c_proj.weight",
                             "transformer.h.%d.mlp.c_proj.bias"};
    float** fields[13] = {&p.ln1w, &p.ln1b, &p.qkvw, &p.qkvb, &p.attprojw, &p.attprojb, &p.ln2w, &p.ln2b, &p.fcw, &p.fcb, &p.fc2w, &p.mlpprojw, &p.mlpprojb};
    for (int k = 0; k < 13; k++) *fields[k] = gpu_tensor(g, buf, names[k], l);
    return p;
}
template <typename X>
static void gpu_norm_forward(const Config* c, X* out, float* mean, float* rstd, const float* x, const float* w, const float* b, int N) {
    if (is_llama(c)) rmsnorm_forward(out, rstd, x, w, N, c->n_embd, 1e-5);
    else layernorm_forward(out, mean, rstd, x, w, b, N, c->n_embd);
}
/* res = x + branch (the residual add) and out = norm(res), in one pass */
template <typename X, typename Br>
static void gpu_residual_norm_forward(const Config* c, float* res, X* out, float* mean, float* rstd, const float* x, const Br* branch,
                                      const float* w, const float* b, int N) {
    if (is_llama(c)) residual_rmsnorm_forward(res, out, rstd, x, branch, w, N, c->n_embd, 1e-5);
    else residual_layernorm_forward(res, out, mean, rstd, x, branch, w, b, N, c->n_embd);
}
/* dres NULL: dx += the norm's backward; else dx = dres + it (see norm_backward); dx16: a bf16 copy of dx, or NULL */
template <typename D>
static void gpu_norm_backward(const Config* c, float* dx, float* dw, float* db, const D* dout, const float* x, const float* w,
                              const float* mean, const float* rstd, int N, const float* dres, __nv_bfloat16* dx16 = NULL) {
    if (is_llama(c)) rmsnorm_backward(dx, dw, dout, x, w, rstd, N, c->n_embd, dres, dx16);
    else layernorm_backward(dx, dw, db, dout, x, w, mean, rstd, N, c->n_embd, dres, dx16);
}

/* forward to the logits (the loss is model_forward's, below) */
template <typename X> /* float (fp32 mode) or bf16: the type of the activations that only feed matmuls */
static void transformer_forward_x(GpuModel* g, int B, int T) { /* g->inputs already on the device */
    Model* m = g->host;
    const Config* c = &m->cfg;
    int L = c->n_layer, C = c->n_embd, H = c->n_head, Hd = c->mlp_hidden, V = c->vocab_size, BT = B * T;
    float p = active_dropout(m);
    TransformerActs a;
    Arena ar = {(real*)g->acts, 0};
    transformer_layout(&a, &ar, c, B, T, 1, gpu_layout_flags(sizeof(X) == 2));
    X *ln1 = (X*)a.ln1, *qkv = (X*)a.qkv, *atty = (X*)a.atty, *ln2 = (X*)a.ln2, *fch = (X*)a.fch, *fch2 = (X*)a.fch2;
    X* fch_act = (X*)a.fch_act;
    float* wte = gpu_tensor(g, g->params, "transformer.wte.weight", 0);
    encoder_forward(a.encoded, g->inputs, wte, gpu_tensor(g, g->params, "transformer.wpe.weight", 0), B, T, C);
    dropout_forward(a.encoded, (long)BT * C, active_embd_dropout(m), 0);
    TransformerLayerParams w0 = gpu_layer(g, g->params, 0); // layer 0's ln_1; the next ones' are fused into the residual adds
    gpu_norm_forward(c, ln1, a.ln1_mean, a.ln1_rstd, a.encoded, w0.ln1w, w0.ln1b, BT);
    for (int l = 0; l < L; l++) {
        TransformerLayerParams w = gpu_layer(g, g->params, l);
        size_t oC = (size_t)l * BT * C, oH = (size_t)l * BT * Hd, o3 = (size_t)l * BT * 3 * C;
        size_t oA = recompute >= 1 ? 0 : oH, oN = recompute >= 2 ? 0 : oC; // fch_act's, ln1's and ln2's layer (--recompute)
        float* x = l == 0 ? a.encoded : a.res2 + (size_t)(l - 1) * BT * C;
        linear_forward(qkv + o3, ln1 + oN, w.qkvw, w.qkvb, BT, C, 3 * C);
        if (c->pos == POS_ROPE) rope_forward(qkv + o3, B, T, C, H);
        attention_forward(atty + oC, a.att + (size_t)l * B * H * T, qkv + o3, B, T, C, H, c->pos, hard_alibi_heads(c),
                          active_attn_dropout(m), attn_site(l));
        X* attproj = (X*)a.attproj; // bf16 mode: in bf16 (as autocast keeps it), added to the fp32 residual stream by the norm
        linear_forward(attproj, atty + oC, w.attprojw, w.attprojb, BT, C, C); // one buffer for all layers (LAYOUT_ONE_BRANCH)
        dropout_forward(attproj, (long)BT * C, p, 1 + 2 * l);
        // res1 = x + attention branch, and its ln_2
        gpu_residual_norm_forward(c, a.res1 + oC, ln2 + oN, a.ln2_mean + l * BT, a.ln2_rstd + l * BT, x, attproj, w.ln2w, w.ln2b, BT);
        if (is_llama(c)) {
            linear_forward(fch + oH, ln2 + oN, w.fcw, w.fcb, BT, C, Hd);
            linear_forward(fch2 + oH, ln2 + oN, w.fc2w, NULL, BT, C, Hd);
            swiglu_forward(fch_act + oA, fch2 + oH, fch + oH, (long)BT * Hd);
        } else {
            linear_gelu_forward(fch + oH, fch_act + oA, ln2 + oN, w.fcw, w.fcb, BT, C, Hd); // fch_act = GELU(fch)
        }
        X* mlpproj = (X*)a.mlpproj; // bf16 mode: in bf16, as attproj
        linear_forward(mlpproj, fch_act + oA, w.mlpprojw, w.mlpprojb, BT, Hd, C);
        dropout_forward(mlpproj, (long)BT * C, p, 2 + 2 * l);
        // res2 = res1 + mlp branch, and the norm that reads it: the next layer's ln_1, or ln_f
        if (l < L - 1) {
            TransformerLayerParams wn = gpu_layer(g, g->params, l + 1);
            gpu_residual_norm_forward(c, a.res2 + oC, ln1 + (recompute >= 2 ? 0 : oC + (size_t)BT * C), a.ln1_mean + (l + 1) * BT, a.ln1_rstd + (l + 1) * BT,
                                      a.res1 + oC, mlpproj, wn.ln1w, wn.ln1b, BT);
        } else {
            gpu_residual_norm_forward(c, a.res2 + oC, a.lnf, a.lnf_mean, a.lnf_rstd, a.res1 + oC, mlpproj,
                                      gpu_tensor(g, g->params, "transformer.ln_f.weight", 0),
                                      gpu_tensor(g, g->params, "transformer.ln_f.bias", 0), BT);
        }
    }
    linear_forward(g->logits, a.lnf, wte, NULL, BT, C, V);
}
/* backward of the last forward (dlogits are already there): accumulates into g->grads. The
 * per-layer gradients live in the one-layer buffer dacts (see one_layer), so they are indexed
 * without the layer offsets that the activations have. */
template <typename X>
static void transformer_backward_x(GpuModel* g, int B, int T) {
    Model* m = g->host;
    const Config* c = &m->cfg;
    Config c1 = one_layer(c);
    int L = c->n_layer, C = c->n_embd, H = c->n_head, Hd = c->mlp_hidden, V = c->vocab_size, BT = B * T;
    float p = active_dropout(m);
    TransformerActs a, d;
    Arena ar = {(real*)g->acts, 0}, dr = {(real*)g->dacts, 0};
    transformer_layout(&a, &ar, c, B, T, 1, gpu_layout_flags(sizeof(X) == 2));
    transformer_layout(&d, &dr, &c1, B, T, 1, gpu_grads_flags(sizeof(X) == 2)); // fp32 but for qkv (and gpt's fch) in bf16 mode
    d.lnf = d.attproj = d.mlpproj = d.ln1; // LAYOUT_GRADS: these live while ln1's gradient is free
    X *ln1 = (X*)a.ln1, *qkv = (X*)a.qkv, *atty = (X*)a.atty, *ln2 = (X*)a.ln2, *fch = (X*)a.fch, *fch2 = (X*)a.fch2;
    X* fch_act = (X*)a.fch_act;
    float *wte = gpu_tensor(g, g->params, "transformer.wte.weight", 0), *dwte = gpu_tensor(g, g->grads, "transformer.wte.weight", 0);
    float *xL = a.res2 + (size_t)(L - 1) * BT * C, *dout = d.res2, *dx = d.encoded; // residual-stream gradients
    // bf16 mode without residual dropout: the norm backwards also write their dx in bf16 (g16), which
    // is then the attproj / mlpproj backward's operand as it is (no fp32 -> bf16 pass). One buffer:
    // each copy is read by the next matmul backward before the next norm backward rewrites it.
    static Bf16Scratch g16s = {NULL, 0};
    __nv_bfloat16* g16 = NULL;
    if (sizeof(X) == 2 && p <= 0) {
        scratch_grow(&g16s.p, &g16s.cap, (size_t)BT * C * sizeof(__nv_bfloat16));
        g16 = g16s.p;
    }
    // Every activation gradient below is written by its first producer (set_dinp, norm_backward's
    // dres, the GELU/SwiGLU/attention backwards): nothing is cleared per layer, only ln_f's output
    cudaCheck(cudaMemsetAsync(dout, 0, (size_t)BT * C * sizeof(float)));
    linear_backward(d.lnf, dwte, NULL, g->dlogits, a.lnf, wte, BT, C, V, true);
    gpu_norm_backward(c, dout, gpu_tensor(g, g->grads, "transformer.ln_f.weight", 0), gpu_tensor(g, g->grads, "transformer.ln_f.bias", 0),
                      d.lnf, xL, gpu_tensor(g, g->params, "transformer.ln_f.weight", 0), a.lnf_mean, a.lnf_rstd, BT, NULL, g16);
    for (int l = L - 1; l >= 0; l--) {
        TransformerLayerParams w = gpu_layer(g, g->params, l), gr = gpu_layer(g, g->grads, l);
        size_t oC = (size_t)l * BT * C, oH = (size_t)l * BT * Hd, o3 = (size_t)l * BT * 3 * C;
        float* x = l == 0 ? a.encoded : a.res2 + (size_t)(l - 1) * BT * C;
        // res2 = res1 + mlp branch: the branch's gradient is dout (through its dropout)
        const float* dmlp = dropout_backward_to(d.mlpproj, dout, (long)BT * C, p, 2 + 2 * l);
        // --recompute: the one-layer buffers hold the last layer's; the others' are computed again
        size_t oA = recompute >= 1 ? 0 : oH, oN = recompute >= 2 ? 0 : oC;
        if (recompute >= 1 && l < L - 1) { // the MLP activation, for c_proj's dW
            if (is_llama(c)) swiglu_forward(fch_act, fch2 + oH, fch + oH, (long)BT * Hd);
            else gelu_forward(fch_act, fch + oH, (long)BT * Hd);
        }
        if (recompute >= 2 && l < L - 1) { // ln_2's output, for c_fc's dW (its mean and rstd are rewritten as they were)
            gpu_norm_forward(c, ln2, a.ln2_mean + l * BT, a.ln2_rstd + l * BT, a.res1 + oC, w.ln2w, w.ln2b, BT);
        }
        if (is_llama(c)) {
            linear_backward(d.fch_act, gr.mlpprojw, gr.mlpprojb, dmlp, fch_act + oA, w.mlpprojw, BT, Hd, C, true, g16);
            swiglu_backward(d.fch2, d.fch, d.fch_act, fch2 + oH, fch + oH, (long)BT * Hd);
            linear_backward(d.ln2, gr.fc2w, NULL, d.fch2, ln2 + oN, w.fc2w, BT, C, Hd, true);
            linear_backward(d.ln2, gr.fcw, gr.fcb, d.fch, ln2 + oN, w.fcw, BT, C, Hd); // (adds: ln_2's gradient stays fp32)
            // d res1 = dout (the residual path) + ln_2's backward; res1 = x + attention branch
            gpu_norm_backward(c, d.res1, gr.ln2w, gr.ln2b, d.ln2, a.res1 + oC, w.ln2w, a.ln2_mean + l * BT, a.ln2_rstd + l * BT, BT, dout, g16);
        } else { // d(fch) in the activation type: bf16 mode writes the c_fc backward's operand directly
            float* dact = sizeof(X) == 2 ? NULL : d.fch_act; // bf16 mode: no fch_act gradient (LAYOUT_GRADS)
            linear_backward_gelu((X*)d.fch, dact, fch + oH, gr.mlpprojw, gr.mlpprojb, dmlp, fch_act + oA, w.mlpprojw, BT, Hd, C, g16);
            X* dln2 = (X*)d.ln2; // bf16 mode: in bf16, from its one writer to its one reader (the norm backward)
            linear_backward(dln2, gr.fcw, gr.fcb, (const X*)d.fch, ln2 + oN, w.fcw, BT, C, Hd, true);
            gpu_norm_backward(c, d.res1, gr.ln2w, gr.ln2b, dln2, a.res1 + oC, w.ln2w, a.ln2_mean + l * BT, a.ln2_rstd + l * BT, BT, dout, g16);
        }
        const float* datt = dropout_backward_to(d.attproj, d.res1, (long)BT * C, p, 1 + 2 * l);
        X* datty = (X*)d.atty; // bf16 mode: the attention backward's operand, written in bf16 by the matmul
        linear_backward(datty, gr.attprojw, gr.attprojb, datt, atty + oC, w.attprojw, BT, C, C, true, g16);
        X* dqkv = (X*)d.qkv; // bf16 mode: written in bf16 by attention, the operand of the QKV backward
        attention_backward(dqkv, datty, atty + oC, qkv + o3, a.att + (size_t)l * B * H * T, g->att_scratch, B, T, C, H, c->pos,
                           hard_alibi_heads(c), active_attn_dropout(m), attn_site(l));
        if (c->pos == POS_ROPE) rope_backward(dqkv, B, T, C, H);
        if (recompute >= 2 && l < L - 1) gpu_norm_forward(c, ln1, a.ln1_mean + l * BT, a.ln1_rstd + l * BT, x, w.ln1w, w.ln1b, BT); // for the QKV dW
        X* dln1 = (X*)d.ln1; // bf16 mode: in bf16, as ln_2's
        linear_backward(dln1, gr.qkvw, gr.qkvb, (const X*)dqkv, ln1 + oN, w.qkvw, BT, C, 3 * C, true);
        // dx = d res1 (the residual path) + ln_1's backward
        gpu_norm_backward(c, dx, gr.ln1w, gr.ln1b, dln1, x, w.ln1w, a.ln1_mean + l * BT, a.ln1_rstd + l * BT, BT, d.res1, l > 0 ? g16 : NULL);
        float* t = dout; // this layer's input gradient is the next (lower) layer's output gradient
        dout = dx;
        dx = t;
    }
    // after the swap, dout holds the gradient of the embedding output
    dropout_backward(dout, (long)BT * C, active_embd_dropout(m), 0);
    encoder_backward(dwte, gpu_tensor(g, g->grads, "transformer.wpe.weight", 0), dout, g->inputs, B, T, C, V);
}

/* ============================================================================================
 * 5.2 State-space models (mamba, longhorn) on the GPU: ssm_forward / ssm_backward of seqmodels.h
 * over the same parameter buffer. The activations differ from the CPU layout (SsmActs): the scan
 * keeps checkpoints every SSM_CHUNK steps instead of every state, the step size and the gate
 * are recomputed inside the scan kernels, and in bf16 mode the activations the matmuls, the conv
 * and the scan read (u, xz, xc, dtr, g) are bf16, as are the gradients between the matmuls, the
 * conv and the scan (dg, dxc, dxz, ddtr: as PyTorch's autocast keeps them; fp32 dg and dxc cost
 * 300 MB of traffic per layer more at B16 T1024 E1536); the scan's state, its checkpoints,
 * x_proj's small output and the residual stream stay fp32.
 * ============================================================================================ */
typedef struct {
    float *x0, *res, *rstd;  // (B,T,C) embedding; (L,B,T,C) block outputs; (L,B,T)
    float *u;                // (L,B,T,C) RMSNorm output (X)
    float *xz, *xc, *xdbl;   // (L,B,T,2E) in_proj output [xs | z] (X); (L,B,T,E) SiLU(conv) (X); (L,B,T,R+2N)
    float *dtr;              // (L,B,T,E) dt_proj / dt_head output without its bias (X)
    float *hck;              // (L,B,n_chunks,E,N) scan checkpoints
    float *g;                // (L,B,T,E) y * SiLU(z) (X)
    float *mix;              // (B,T,C) out_proj output (one layer at a time)
    float *lnf, *lnf_rstd;   // (B,T,C) (X), (B,T)
} SsmGpuActs;
typedef struct { // one layer's gradients (reused from layer to layer) and the kernels' scratch; dxz, dxc, ddtr, dg X
    float *dout, *dx, *du, *dxz, *dxc, *dxdbl, *ddtr, *dg, *dlnf, *scan_scratch, *conv_scratch;
    float *dout16; // bf16 mode: the norm backward's bf16 copy of the block output gradient, out_proj's backward operand
} SsmGpuGrads;
static void ssm_gpu_layout(SsmGpuActs* a, Arena* ar, const Config* c, int B, int T, int x_half) {
    size_t L = c->n_layer, BT = (size_t)B * T, C = c->n_embd, E = (size_t)c->expand * C, N = c->d_state;
    size_t XD = c->dt_rank + 2 * N, xd = x_half ? 2 : 1;
    a->x0 = carve(ar, BT * C);
    a->res = carve(ar, L * BT * C);
    a->rstd = carve(ar, L * BT);
    a->u = carve(ar, (L * BT * C + xd - 1) / xd);
    a->xz = carve(ar, (L * BT * 2 * E + xd - 1) / xd);
    a->xc = carve(ar, (L * BT * E + xd - 1) / xd);
    a->xdbl = carve(ar, L * BT * XD);
    a->dtr = carve(ar, (L * BT * E + xd - 1) / xd);
    a->hck = carve(ar, L * B * ssm_n_chunks(T) * E * N);
    a->g = carve(ar, (L * BT * E + xd - 1) / xd);
    a->mix = carve(ar, BT * C);
    a->lnf = carve(ar, (BT * C + xd - 1) / xd);
    a->lnf_rstd = carve(ar, BT);
}
static void ssm_gpu_grads_layout(SsmGpuGrads* d, Arena* ar, const Config* c, int B, int T, int x_half) {
    size_t BT = (size_t)B * T, C = c->n_embd, E = (size_t)c->expand * C, N = c->d_state, XD = c->dt_rank + 2 * N, xd = x_half ? 2 : 1;
    d->dout = carve(ar, BT * C);
    d->dx = carve(ar, BT * C);
    d->du = carve(ar, BT * C);
    d->dxz = carve(ar, (BT * 2 * E + xd - 1) / xd);
    d->dxc = carve(ar, (BT * E + xd - 1) / xd);
    d->dxdbl = carve(ar, BT * XD);
    d->ddtr = carve(ar, (BT * E + xd - 1) / xd);
    d->dg = carve(ar, (BT * E + xd - 1) / xd);
    d->dlnf = carve(ar, BT * C);
    d->dout16 = x_half ? carve(ar, (BT * C + 1) / 2) : NULL;
    d->scan_scratch = carve(ar, ssm_scan_backward_scratch(B, T, (int)E, (int)N));
    d->conv_scratch = carve(ar, conv1d_backward_scratch(B, T, (int)E));
}
/* what the GPU kernels cannot run, as one clear message (0 = fine) */
static int ssm_gpu_check(const Config* c) {
    if (!ssm_state_supported(c->d_state))
        return sm_fail("d_state %d has no GPU scan kernel (supported: %s; train_cpu runs any size)", c->d_state, SSM_N_SUPPORTED);
    if (c->d_conv > CONV_MAX_W) return sm_fail("d_conv %d is larger than the GPU conv kernel's %d", c->d_conv, CONV_MAX_W);
    return 0;
}
/* ssm_layer() over a device buffer: the pointers are the buffer plus the host table's offsets */
static SsmLayerParams ssm_gpu_layer(const GpuModel* g, float* buf, int l) { return ssm_layer(g->host, buf, l); }

template <typename X>
static void ssm_forward_x(GpuModel* g, int B, int T) {
    const Config* c = &g->host->cfg;
    int L = c->n_layer, C = c->n_embd, E = c->expand * C, N = c->d_state, R = c->dt_rank, W = c->d_conv, V = c->vocab_size;
    int BT = B * T, XD = R + 2 * N, lh = is_longhorn(c);
    size_t n_ck = ssm_n_chunks(T);
    SsmGpuActs a;
    Arena ar = {(real*)g->acts, 0};
    ssm_gpu_layout(&a, &ar, c, B, T, sizeof(X) == 2);
    X *u = (X*)a.u, *gate = (X*)a.g;
    float* wte = gpu_tensor(g, g->params, "transformer.backbone.embedding.weight", 0);
    encoder_forward(a.x0, g->inputs, wte, NULL, B, T, C);
    // block l's output res_l = x_l + mix_l is written by the next norm, which adds it on the way
    // (residual_rmsnorm_forward: one pass over the residual stream instead of two)
    for (int l = 0; l < L; l++) {
        SsmLayerParams w = ssm_gpu_layer(g, g->params, l);
        size_t oC = (size_t)l * BT * C, oE = (size_t)l * BT * E;
        float* x = l == 0 ? a.x0 : a.res + oC - (size_t)BT * C; // (B,T,C) block input
        X *xz = (X*)a.xz + 2 * oE, *xc = (X*)a.xc + oE, *dtr = (X*)a.dtr + oE;
        float* xdbl = a.xdbl + (size_t)l * BT * XD;
        if (l == 0) rmsnorm_forward(u + oC, a.rstd, x, w.norm, BT, C, 1e-5);
        else residual_rmsnorm_forward(x, u + oC, a.rstd + (size_t)l * BT, l == 1 ? a.x0 : x - (size_t)BT * C, a.mix, w.norm, BT, C, 1e-5);
        linear_forward(xz, u + oC, w.in_proj, NULL, BT, C, 2 * E);
        conv1d_silu_forward(xc, xz, 2 * E, w.conv_w, w.conv_b, B, T, E, W);
        linear_forward(xdbl, xc, w.x_proj, NULL, BT, E, XD);
        gemm(CUBLAS_OP_T, CUBLAS_OP_N, E, BT, R, w.dt_w, R, xdbl, XD, 0.0f, dtr, E); // dtr = dt_low @ dt_w^T (dt_low: xdbl's first R columns)
        ssm_scan_forward(gate + oE, a.hck + (size_t)l * B * n_ck * E * N, xc, dtr, w.dt_b, xdbl, xz, w.A_log, w.D, lh, B, T, E, N, R);
        linear_forward(a.mix, gate + oE, w.out_proj, NULL, BT, E, C);
    }
    float* xL = L > 0 ? a.res + (size_t)(L - 1) * BT * C : a.x0;
    float* norm_f = gpu_tensor(g, g->params, "transformer.backbone.norm_f.weight", 0);
    if (L == 0) rmsnorm_forward((X*)a.lnf, a.lnf_rstd, xL, norm_f, BT, C, 1e-5);
    else residual_rmsnorm_forward(xL, (X*)a.lnf, a.lnf_rstd, L == 1 ? a.x0 : xL - (size_t)BT * C, a.mix, norm_f, BT, C, 1e-5);
    linear_forward(g->logits, (X*)a.lnf, wte, NULL, BT, C, V); // tied head
}
template <typename X>
static void ssm_backward_x(GpuModel* g, int B, int T) {
    const Config* c = &g->host->cfg;
    int L = c->n_layer, C = c->n_embd, E = c->expand * C, N = c->d_state, R = c->dt_rank, W = c->d_conv, V = c->vocab_size;
    int BT = B * T, XD = R + 2 * N, lh = is_longhorn(c);
    size_t n_ck = ssm_n_chunks(T);
    SsmGpuActs a;
    SsmGpuGrads d;
    Arena ar = {(real*)g->acts, 0}, dr = {(real*)g->dacts, 0};
    ssm_gpu_layout(&a, &ar, c, B, T, sizeof(X) == 2);
    ssm_gpu_grads_layout(&d, &dr, c, B, T, sizeof(X) == 2);
    X *u = (X*)a.u, *gate = (X*)a.g;
    float *wte = gpu_tensor(g, g->params, "transformer.backbone.embedding.weight", 0);
    float *dwte = gpu_tensor(g, g->grads, "transformer.backbone.embedding.weight", 0);
    float *xL = L > 0 ? a.res + (size_t)(L - 1) * BT * C : a.x0, *dout = d.dout, *dx = d.dx;
    // bf16 mode: every norm backward also writes its dx in bf16 (dout16), the operand of the next
    // out_proj backward (read before the next norm backward rewrites it)
    __nv_bfloat16* dout16 = (__nv_bfloat16*)d.dout16;
    cudaCheck(cudaMemsetAsync(dout, 0, (size_t)BT * C * sizeof(float)));
    linear_backward(d.dlnf, dwte, NULL, g->dlogits, (X*)a.lnf, wte, BT, C, V, true);
    rmsnorm_backward(dout, gpu_tensor(g, g->grads, "transformer.backbone.norm_f.weight", 0), d.dlnf, xL,
                     gpu_tensor(g, g->params, "transformer.backbone.norm_f.weight", 0), a.lnf_rstd, BT, C, NULL, dout16);
    for (int l = L - 1; l >= 0; l--) {
        SsmLayerParams w = ssm_gpu_layer(g, g->params, l), gr = ssm_gpu_layer(g, g->grads, l);
        size_t oC = (size_t)l * BT * C, oE = (size_t)l * BT * E;
        float* x = l == 0 ? a.x0 : a.res + oC - (size_t)BT * C;
        X *xz = (X*)a.xz + 2 * oE, *xc = (X*)a.xc + oE, *dtr = (X*)a.dtr + oE, *dxz = (X*)d.dxz, *ddtr = (X*)d.ddtr;
        X *dg = (X*)d.dg, *dxc = (X*)d.dxc;
        float* xdbl = a.xdbl + (size_t)l * BT * XD;
        linear_backward(dg, gr.out_proj, NULL, dout, gate + oE, w.out_proj, BT, E, C, true, dout16); // out = g @ out_proj^T
        ssm_scan_backward(dxc, ddtr, dxz, d.dxdbl, gr.A_log, gr.D, gr.dt_b, d.scan_scratch, dg, a.hck + (size_t)l * B * n_ck * E * N, xc, dtr,
                          w.dt_b, xdbl, xz, w.A_log, w.D, lh, B, T, E, N, R);
        // dtr = dt_low @ dt_w^T: dt_w^T grad, dt_low grad (written into xdbl's first R columns); the
        // bias grad came from the scan
        gemm(CUBLAS_OP_N, CUBLAS_OP_T, R, E, BT, xdbl, XD, ddtr, E, 1.0f, gr.dt_w, R);
        gemm(CUBLAS_OP_N, CUBLAS_OP_N, R, BT, E, w.dt_w, R, ddtr, E, 0.0f, d.dxdbl, XD);
        linear_backward(dxc, gr.x_proj, NULL, d.dxdbl, xc, w.x_proj, BT, E, XD);
        conv1d_silu_backward(dxz, 2 * E, gr.conv_w, gr.conv_b, d.conv_scratch, dxc, xz, w.conv_w, w.conv_b, B, T, E, W);
        linear_backward(d.du, gr.in_proj, NULL, dxz, u + oC, w.in_proj, BT, C, 2 * E, true);
        // dx = dout (the residual path) + the norm's backward
        rmsnorm_backward(dx, gr.norm, d.du, x, w.norm, a.rstd + (size_t)l * BT, BT, C, dout, l > 0 ? dout16 : NULL);
        float* t = dout; // this block's input gradient is the next (lower) block's output gradient
        dout = dx;
        dx = t;
    }
    encoder_backward(dwte, NULL, dout, g->inputs, B, T, C, c->vocab_size);
}

/* ============================================================================================
 * 6. The model on the GPU: buffers, and forward + loss / backward for any architecture
 * ============================================================================================ */
/* what the GPU path cannot run, as one clear message in sm_err (0 = fine) */
static int gpu_model_check(const Config* c) {
    if (is_ssm_name(c->model)) return ssm_gpu_check(c);
    if (strcmp(c->model, "gpt") && !is_llama(c)) return sm_fail("model '%s' has no GPU implementation yet (train_cpu runs it)", c->model);
    if (c->n_embd / c->n_head > 32 * ATT_MAX_PER_LANE)
        return sm_fail("head size %d not supported by the GPU attention kernel (max %d)", c->n_embd / c->n_head, 32 * ATT_MAX_PER_LANE);
    return 0;
}
/* device buffers for batches up to (B,T); parameters, grads and AdamW state copied from host */
static void gpu_model_init(GpuModel* g, Model* host, int B, int T) {
    g->host = host;
    size_t P = host->pt.total, BT = (size_t)B * T, V = host->cfg.vocab_size;
    float** bufs[4] = {&g->params, &g->grads, &g->adam_m, &g->adam_v};
    real* src[4] = {host->params, host->grads, host->adam_m, host->adam_v};
    for (int k = 0; k < 4; k++) {
        device_alloc(bufs[k], P * sizeof(float));
        cudaCheck(cudaMemcpy(*bufs[k], src[k], P * sizeof(float), cudaMemcpyHostToDevice));
    }
    if (is_ssm_name(host->cfg.model)) {
        SsmGpuActs a;
        SsmGpuGrads d;
        Arena ar = {NULL, 0}, dr = {NULL, 0};
        ssm_gpu_layout(&a, &ar, &host->cfg, B, T, !use_fp32);
        ssm_gpu_grads_layout(&d, &dr, &host->cfg, B, T, !use_fp32);
        g->n_acts = ar.used;
        g->n_dacts = dr.used;
    } else {
        g->n_acts = gpu_acts_size(&host->cfg, B, T, !use_fp32); // the mode must be set before init
        Config c1 = one_layer(&host->cfg);
        TransformerActs d;
        Arena dr = {NULL, 0};
        transformer_layout(&d, &dr, &c1, B, T, 1, gpu_grads_flags(!use_fp32));
        g->n_dacts = dr.used;
    }
    device_alloc(&g->acts, g->n_acts * sizeof(float));
    device_alloc(&g->dacts, g->n_dacts * sizeof(float));
    device_alloc(&g->logits, BT * V * sizeof(float));
    device_alloc(&g->dlogits, BT * V * sizeof(float));
    device_alloc(&g->losses, BT * sizeof(float));
    device_alloc(&g->inputs, BT * sizeof(int));
    device_alloc(&g->targets, BT * sizeof(int));
    device_alloc(&g->mask, BT);
    g->params16 = NULL;
    if (!use_fp32) { // the bf16 mirror of the weights, kept by AdamW from here on
        device_alloc(&g->params16, P * sizeof(__nv_bfloat16));
        to_bf16_kernel<<<ceil_div((P + 3) / 4, 256), 256>>>(g->params16, g->params, (long)P);
        cudaCheck(cudaGetLastError());
    }
    params_base = g->params, params16_base = g->params16, params_count = P;
    device_alloc(&g->step, sizeof(StepScalars));
    device_alloc(&g->sumsq_partials, SUMSQ_BLOCKS * sizeof(double));
    g->adam_chunks = adamw_chunks(&host->pt, &g->n_adam_chunks);
    g->graph = NULL;
    g->warm_key = {-1, -1, -1, -1};
    device_alloc(&g->att_scratch, BT * host->cfg.n_head * sizeof(float));
}
/* The batch and this step's scalars -> device, before any kernel of the step (and outside a
 * captured graph: these are the step's only host-to-device copies). targets NULL: forward only. */
static void upload_batch(GpuModel* g, const int* h_inputs, const int* h_targets, const unsigned char* h_mask, int BT,
                         const StepScalars* scalars) {
    cudaCheck(cudaMemcpyAsync(g->inputs, h_inputs, BT * sizeof(int), cudaMemcpyHostToDevice));
    StepScalars s = *scalars;
    if (h_targets) {
        cudaCheck(cudaMemcpyAsync(g->targets, h_targets, BT * sizeof(int), cudaMemcpyHostToDevice));
        if (h_mask) cudaCheck(cudaMemcpyAsync(g->mask, h_mask, BT, cudaMemcpyHostToDevice));
        s.scored = 0;
        for (int i = 0; i < BT; i++) s.scored += !h_mask || h_mask[i];
        s.inv_scored = s.scored ? 1.0f / s.scored : 0.0f;
    }
    g->has_mask = h_mask != NULL;
    cudaCheck(cudaMemcpyAsync(g->step, &s, sizeof(s), cudaMemcpyHostToDevice));
    set_dropout_seed(g->host->dropout_seed);
}
/* forward to the logits, then (with_loss) the fused loss: losses, dlogits and the mean loss */
static void forward_device(GpuModel* g, int B, int T, int with_loss) {
    const Config* c = &g->host->cfg;
    int BT = B * T, V = c->vocab_size;
    if (is_ssm_name(c->model)) use_fp32 ? ssm_forward_x<float>(g, B, T) : ssm_forward_x<__nv_bfloat16>(g, B, T);
    else use_fp32 ? transformer_forward_x<float>(g, B, T) : transformer_forward_x<__nv_bfloat16>(g, B, T);
    if (!with_loss) return;
    const unsigned char* mask = g->has_mask ? g->mask : NULL;
    crossentropy_fused(g->losses, g->dlogits, g->logits, g->targets, mask, &g->step->inv_scored, BT, V);
    loss_mean(g->step, g->losses, mask, BT);
}
/* backward of the last forward (its dlogits): accumulates into g->grads */
static void backward_device(GpuModel* g, int B, int T) {
    norm_defer = true; // the norms' weight gradients are added at the end, in one launch
    if (is_ssm_name(g->host->cfg.model)) use_fp32 ? ssm_backward_x<float>(g, B, T) : ssm_backward_x<__nv_bfloat16>(g, B, T);
    else use_fp32 ? transformer_backward_x<float>(g, B, T) : transformer_backward_x<__nv_bfloat16>(g, B, T);
    norm_reduce_flush();
    norm_defer = false;
}
/* the scalars the host reads after a step (this waits for the step to finish) */
static StepScalars read_scalars(const GpuModel* g) {
    StepScalars s;
    cudaCheck(cudaMemcpy(&s, g->step, sizeof(s), cudaMemcpyDeviceToHost));
    return s;
}

/* forward + fused loss; with targets also fills dlogits (scale 1/N_scored). Returns the mean loss. */
static double model_forward(GpuModel* g, const int* h_inputs, const int* h_targets, const unsigned char* h_mask, int B, int T) {
    StepScalars s = {};
    upload_batch(g, h_inputs, h_targets, h_mask, B * T, &s);
    forward_device(g, B, T, h_targets != NULL);
    return h_targets ? read_scalars(g).loss : 0;
}
/* backward of the last forward (its dlogits): accumulates into g->grads */
static void model_backward(GpuModel* g, int B, int T) { backward_device(g, B, T); }

/* the device part of a training step: (clear the gradients,) forward, loss, backward, grad norm,
 * clip and AdamW (no host synchronisation, no allocation: it can be captured as a graph). A
 * Transformer's backward writes every gradient (grad_set) instead of clearing them first. */
static void step_device(GpuModel* g, int B, int T) {
    size_t P = g->host->pt.total;
    bool set = !is_ssm_name(g->host->cfg.model);
    if (!set) cudaCheck(cudaMemsetAsync(g->grads, 0, P * sizeof(float)));
    forward_device(g, B, T, 1);
    grad_set = set;
    backward_device(g, B, T);
    grad_set = false;
    grad_sumsq(&g->step->sumsq, g->grads, (long)P, g->sumsq_partials);
    adamw_update(g->params, g->params16, g->grads, g->adam_m, g->adam_v, g->adam_chunks, g->n_adam_chunks, g->step);
}
/* One training step: the batch and the scalars are uploaded first, the loss and the norm read
 * back last. Between those two points the kernels are the same at every step, so with use_graph
 * the step is captured once as a CUDA graph (on the step after an eager one of the same shape,
 * when every grow-only buffer has its size) and replayed: one launch instead of hundreds.
 * Returns the loss; *norm = the gradient norm before clipping. */
static double train_step(GpuModel* g, const int* h_inputs, const int* h_targets, const unsigned char* h_mask, int B, int T,
                         const OptimConfig* o, double lr, int t, double* norm) {
    StepScalars s = {};
    step_scalars_set(&s, o, lr, t);
    upload_batch(g, h_inputs, h_targets, h_mask, B * T, &s);
    StepKey key = {B, T, h_mask != NULL, scratch_generation};
    if (g->graph && !same_key(g->graph_key, key)) {
        cudaCheck(cudaGraphExecDestroy(g->graph)); // another shape, or a scratch buffer moved
        g->graph = NULL;
    }
    if (g->graph) {
        cudaCheck(cudaGraphLaunch(g->graph, cudaStreamPerThread));
    } else if (g->use_graph && same_key(g->warm_key, key)) {
        cudaGraph_t graph;
        cudaCheck(cudaStreamBeginCapture(cudaStreamPerThread, cudaStreamCaptureModeThreadLocal));
        step_device(g, B, T);
        cudaCheck(cudaStreamEndCapture(cudaStreamPerThread, &graph));
        if (key.gen != scratch_generation) { fprintf(stderr, "error: a scratch buffer grew during graph capture\n"); exit(1); }
        cudaCheck(cudaGraphInstantiate(&g->graph, graph, 0));
        cudaCheck(cudaGraphDestroy(graph));
        g->graph_key = key;
        cudaCheck(cudaGraphLaunch(g->graph, cudaStreamPerThread));
    } else {
        step_device(g, B, T);
        key.gen = scratch_generation; // the eager step may have grown a scratch buffer
        g->warm_key = key;
    }
    s = read_scalars(g);
    *norm = sqrt(s.sumsq);
    return s.loss;
}

} // namespace gpu
