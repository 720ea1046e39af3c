/*
 * seqmodels.h -- sequence models in plain C, one header.
 *
 * Every architecture is a set of explicit *_forward / *_backward functions over ONE parameter
 * buffer. This file is the CPU reference (train_cpu.c, test_gradcheck.c include it) and the
 * teaching text: read it top to bottom.
 *
 *   0. utilities: errors, checked I/O, random numbers, precision switch
 *   1. config, architectures and position variants
 *   2. the parameter table (one buffer; grads, AdamW m and v share its layout) and activations
 *   3. shared ops, each forward followed by its backward:
 *        embedding, linear (matmul), LayerNorm, RMSNorm, GELU, SiLU, SwiGLU, RoPE,
 *        causal attention (learned/RoPE/NoPE/ALiBi/Hard-ALiBi), dropout, residual,
 *        softmax cross-entropy with a loss mask
 *   4. the model struct and the architecture interface (Arch: build, init, forward, backward)
 *   5. architectures: 5.1 Transformer family (gpt, llama)
 *   6. model API: build, forward + loss, backward, sampling
 *   7. optimizer: AdamW, warmup+cosine schedule, global grad-norm clipping
 *   8. JSON (tiny parser) and safetensors checkpoints (atomic write, validating read)
 *   9. data: shard format, text prep, batches
 *  10. command line shared by train_cpu and train_gpu
 *  11. the trainer (loop, evals, checkpoints, resume, sampling, eval mode) over a CPU or GPU backend
 *
 * Spec: ../shared/spec (README.md for layout and formats, attention.md for the Transformers).
 * Compile with -DSM_DOUBLE to make `real` a double (the gradient checks do).
 */
#ifndef SEQMODELS_H
#define SEQMODELS_H

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <tgmath.h> /* exp, tanh, sqrt... pick the float or double version from the argument */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <signal.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#ifdef _OPENMP
#include <omp.h>
#endif
#if defined(__x86_64__) || defined(__i386__)
#include <xmmintrin.h> /* _mm_getcsr / _mm_setcsr: sm_flush_denormals */
#endif

/* ============================================================================================
 * 0. Utilities
 * ============================================================================================ */

#ifdef SM_DOUBLE
typedef double real;
#define SM_REAL_DTYPE "F64" /* checkpoints of a double build keep full precision */
#else
typedef float real;
#define SM_REAL_DTYPE "F32"
#endif

/* Library functions that can fail on bad input (files, flags, sizes) return -1 and leave one
 * human-readable line in sm_err; the programs print it and exit(1), the tests inspect it. */
static char sm_err[512];
static int sm_fail(const char* fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(sm_err, sizeof(sm_err), fmt, ap);
    va_end(ap);
    return -1;
}
/* print "error: ..." and exit: for the programs, never inside library code that tests call */
static void sm_die(const char* fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "error: ");
    vfprintf(stderr, fmt, ap);
    fprintf(stderr, "\n");
    va_end(ap);
    exit(1);
}

/* zeroed memory aligned to 64 bytes (a cache line: calloc gives 16, and a large block comes back
 * 16 bytes past a page boundary, so every 64-byte vector access of the matmul would straddle two
 * lines; AVX-512 builds ran 25% slower so) */
static void* malloc_check_(size_t size, const char* file, int line) {
    void* p = NULL;
    if (posix_memalign(&p, 64, size ? size : 1) != 0 || !p) sm_die("out of memory allocating %zu bytes (%s:%d)", size, file, line);
    memset(p, 0, size);
    return p;
}
#define mallocCheck(size) malloc_check_(size, __FILE__, __LINE__)

/* Denormal floats (|x| < 1.2e-38) are flushed to zero, as results and as inputs, on this thread and
 * on the threads it starts afterwards (POSIX: a new thread inherits the floating-point environment;
 * OpenMP starts its workers at the first parallel region). Why: a vectorised x / (1 + exp(-x))
 * (GELU, SiLU) computes its clamped branch, x times a tiny constant, in every lane, and each
 * vector with a denormal result costs a microcode assist of ~100+ cycles: the GELU of one MLP
 * activation took 1.54 ms instead of 0.17 (Intel Xeon, AVX-512; session 20). Nothing a model
 * computes is meaningful at that scale; the double build (gradient checks) never goes near it. */
static void sm_flush_denormals(void) {
#if defined(__x86_64__) || defined(__i386__)
    _mm_setcsr(_mm_getcsr() | 0x8040); /* FTZ (bit 15) and DAZ (bit 6) */
#elif defined(__aarch64__)
    uint64_t fpcr;
    __asm__ volatile("mrs %0, fpcr" : "=r"(fpcr));
    __asm__ volatile("msr fpcr, %0" ::"r"(fpcr | ((uint64_t)1 << 24))); /* FZ */
#endif
}

static double wall_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1e3 + ts.tv_nsec * 1e-6;
}

/* Random numbers: splitmix64. A 64-bit state, fully reproducible on every machine; the state
 * is saved in checkpoints so a resumed run draws exactly the same batches. */
static uint64_t hash64(uint64_t x) {
    x += 0x9E3779B97F4A7C15ull;
    x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ull;
    x = (x ^ (x >> 27)) * 0x94D049BB133111EBull;
    return x ^ (x >> 31);
}
static uint64_t rng_u64(uint64_t* state) { *state += 0x9E3779B97F4A7C15ull; return hash64(*state - 0x9E3779B97F4A7C15ull); }
static double rng_uniform(uint64_t* state) { return (rng_u64(state) >> 11) * (1.0 / 9007199254740992.0); } /* [0,1) */
static uint64_t rng_below(uint64_t* state, uint64_t n) { return rng_u64(state) % n; } /* n << 2^64: bias negligible */
static double rng_normal(uint64_t* state) { /* Box-Muller */
    double u1 = rng_uniform(state), u2 = rng_uniform(state);
    if (u1 < 1e-300) u1 = 1e-300;
    return sqrt(-2.0 * log(u1)) * cos(2.0 * M_PI * u2);
}

/* ============================================================================================
 * 1. Config
 * ============================================================================================ */

enum { POS_LEARNED, POS_ROPE, POS_NOPE, POS_ALIBI, POS_HARD_ALIBI, POS_COUNT };
static const char* POS_NAMES[POS_COUNT] = {"learned", "rope", "nope", "alibi", "hard_alibi"};

#define SM_MAX_LAYERS 128

typedef struct {
    char model[16];       /* architecture name: "gpt", "llama", ... */
    int vocab_size;       /* V: from the data (256 for bytes) */
    int block_size;       /* longest sequence the model is built for (size of wpe) */
    int n_layer;          /* L */
    int n_head;           /* H */
    int n_embd;           /* C */
    int mlp_hidden;       /* hidden width of the MLP; 0 = the architecture's default */
    int pos;              /* POS_* */
    int num_masked_heads; /* hard_alibi: how many heads are windowed; -1 = round(2H/3) */
    int bias;             /* 1 = Linear and LayerNorm biases (GPT-2), 0 = none (nanoGPT bias=False) */
    float dropout;        /* on the embedding and on every residual branch, training only */
    float attn_dropout;   /* on the attention probabilities, training only */
    float embd_dropout;   /* on the embedding output; < 0 = the same as dropout (set by config_finalize) */
    int d_state, expand, d_conv, dt_rank; /* state-space models (ssm.md); unused by Transformers */
} Config;

/* ============================================================================================
 * 2. The parameter table and the activation arena
 *
 * An architecture describes its parameters as an ordered table of named tensors. All of them
 * live in ONE contiguous buffer of `real`; a tensor is an offset into it. Gradients and AdamW's
 * m and v are three more buffers with the same layout, so the optimizer, the grad-norm, the
 * checkpoint and the gradient check are each one loop over one array, for every architecture.
 * Names and shapes are those of the reference PyTorch state_dict (Linear weights are (out,in)).
 * ============================================================================================ */

#define SM_MAX_TENSORS 1024
#define SM_MAX_NAME 96

typedef struct {
    char name[SM_MAX_NAME];
    int ndim, shape[4];
    size_t numel, offset; /* offset into the parameter buffer, in elements */
    int decay;            /* AdamW weight decay on this tensor (matrices and embeddings only) */
} TensorInfo;

typedef struct {
    int n;
    size_t total; /* elements in the whole buffer */
    TensorInfo t[SM_MAX_TENSORS];
} ParamTable;

/* Append a tensor; the shape is given as up to 4 ints terminated by 0. Weight decay follows
 * the rule of nanoGPT and the Longhorn repository: tensors with >= 2 dims decay, others don't. */
static int table_add(ParamTable* pt, const char* name, int d0, int d1, int d2, int d3) {
    if (pt->n >= SM_MAX_TENSORS) sm_die("parameter table full (%d tensors)", SM_MAX_TENSORS);
    TensorInfo* ti = &pt->t[pt->n];
    memset(ti, 0, sizeof(*ti));
    snprintf(ti->name, SM_MAX_NAME, "%s", name);
    int dims[4] = {d0, d1, d2, d3};
    ti->numel = 1;
    for (int i = 0; i < 4 && dims[i] > 0; i++) { ti->shape[ti->ndim++] = dims[i]; ti->numel *= (size_t)dims[i]; }
    ti->offset = pt->total;
    ti->decay = ti->ndim >= 2;
    pt->total += ti->numel;
    return pt->n++;
}
/* the same, for a name built with printf syntax around a layer index */
static int table_addl(ParamTable* pt, const char* fmt, int l, int d0, int d1, int d2, int d3) {
    char name[SM_MAX_NAME];
    snprintf(name, sizeof(name), fmt, l);
    return table_add(pt, name, d0, d1, d2, d3);
}
static int table_find(const ParamTable* pt, const char* name) {
    for (int i = 0; i < pt->n; i++)
        if (strcmp(pt->t[i].name, name) == 0) return i;
    return -1;
}

/* Activations are carved from one buffer too, sized once from (config, B, T). An architecture
 * writes ONE layout function that takes pieces from an Arena; called with base == NULL it only
 * counts, so the same function sizes the buffer, lays out the activations, and lays out their
 * gradients (a second buffer of the same layout). Nothing is allocated inside a training step. */
typedef struct { real* base; size_t used; } Arena;
static real* carve(Arena* a, size_t n) {
    real* p = a->base ? a->base + a->used : NULL;
    a->used += (n + 15) & ~(size_t)15; /* keep every piece 64-byte aligned */
    return p;
}


/* loops smaller than this run on one thread: waking threads costs more than tiny loops save */
#define SM_OMP_MIN 32768
/* per-thread storage: C11's keyword, C++'s (train_gpu.cu and test_gpu.cu include this header) */
#ifdef __cplusplus
#define SM_THREAD_LOCAL thread_local
#else
#define SM_THREAD_LOCAL _Thread_local
#endif
/* the CPU training step splits its batch over at most this many threads, when their extra
 * gradient buffers take at most this many bytes (section 11) */
#define SM_MAX_REPLICAS 64
#define SM_SPLIT_MAX_BYTES (512.0 * 1024 * 1024)
/* the threads a parallel region would get here, and this thread's number in its team */
static int sm_threads(void) {
#ifdef _OPENMP
    return omp_get_max_threads();
#else
    return 1;
#endif
}
static int sm_thread(void) {
#ifdef _OPENMP
    return omp_get_thread_num();
#else
    return 0;
#endif
}

/* memset(p, 0, n reals) on all threads: the activation gradients are tens of MB, zeroed every step */
static void zero_reals(real* p, size_t n) {
    const size_t blk = 16384;
#pragma omp parallel for schedule(static) if(n > SM_OMP_MIN)
    for (size_t lo = 0; lo < n; lo += blk) memset(p + lo, 0, (n - lo < blk ? n - lo : blk) * sizeof(real));
}

/* ============================================================================================
 * 3. Shared ops. Each forward is followed by its backward. Backwards ACCUMULATE (+=) into the
 * gradients they produce, so a tensor read by two ops simply receives both contributions.
 * A few have a variant that SETS (=) the gradient instead (linear_backward_ex with LIN_SET,
 * residual_backward_set, attention_backward_ex with set = 1): the transformer's backward uses them
 * for a gradient's first contribution, so its activation gradients need no zeroing.
 * Parallel loops give each output to one thread and sum in a fixed order: results do not depend
 * on the thread count's timing, which is what makes a resumed run bit-exact.
 * ============================================================================================ */

/* ---- embedding: out[b,t,:] = wte[idx[b,t],:] (+ wpe[t,:] for learned positions) ------------ */
static void encoder_forward(real* out, const int* idx, const real* wte, const real* wpe, int B, int T, int C) {
    // out is (B,T,C), idx (B,T), wte (V,C), wpe (T_max,C) or NULL
    for (int b = 0; b < B; b++)
        for (int t = 0; t < T; t++) {
            real* out_bt = out + ((size_t)b * T + t) * C;
            const real* wte_ix = wte + (size_t)idx[b * T + t] * C;
            for (int c = 0; c < C; c++) out_bt[c] = wte_ix[c] + (wpe ? wpe[(size_t)t * C + c] : 0);
        }
}
static void encoder_backward(real* dwte, real* dwpe, const real* dout, const int* idx, int B, int T, int C) {
    // a scatter-add: rows of dwte receive the gradients of every position that looked them up
    for (int b = 0; b < B; b++)
        for (int t = 0; t < T; t++) {
            const real* dout_bt = dout + ((size_t)b * T + t) * C;
            real* dwte_ix = dwte + (size_t)idx[b * T + t] * C;
            for (int c = 0; c < C; c++) dwte_ix[c] += dout_bt[c];
            if (dwpe)
                for (int c = 0; c < C; c++) dwpe[(size_t)t * C + c] += dout_bt[c];
        }
}

/* ---- matmul: the one place where CPU speed lives -------------------------------------------
 * Cm[M,N] += A[M,K] @ Bm[K,N]. Both operands are strided views: A's element (i,k) is
 * A[i*a_row + k*a_col] and Bm's element (k,j) is Bm[k*b_row + j*b_col], so either may be a
 * transpose (linear_forward multiplies by W^T without copying W). Cm is row-major, row stride ldc.
 *
 * A packed-panel GEMM (the GotoBLAS / BLIS recipe, cut down to the sizes we meet):
 *  1. pack: Bm is copied once per call into column panels of MM_NR columns, each a contiguous
 *     (K, MM_NR) block, zero-padded past N. A is read in place when its rows are contiguous
 *     (a_col == 1); otherwise (a transposed view) it is copied into row panels (K, MM_MR) so the
 *     kernel reads one stream instead of jumping a row stride per k.
 *  2. microkernel: an MM_MR x MM_NR tile of Cm stays in 2 MM_MR vector registers (MM_MR rows x 2
 *     vectors; AVX2 has 16 registers: 6 rows, 12 accumulators, the other 4 hold two B vectors and
 *     one broadcast A value; AVX-512 has 32 registers of 16 floats: MM_AVX512_MR rows). Each k adds
 *     an outer product: 2 MM_MR fused multiply-adds for 2 vector loads.
 *  3. threads take the tiles in column-panel order, a quarter of a column at a time, whoever is
 *     free next (dynamic schedule: on a shared machine one core is often slower than the other,
 *     and a static split left the faster one waiting; 2-3% of a CPU step). Within its quarter
 *     column a thread walks K in blocks of MM_KC: the block's slice of the B panel (32 KB) stays
 *     in L1 while every tile of the quarter adds its part, stored back to Cm in between (the
 *     weight gradients have K = B*T = 768: a whole 96 KB panel streamed from L2 per tile).
 *     Every element of Cm is still summed by one thread, k = 0..K-1 in order, whichever thread it
 *     is: deterministic (and the same sums whatever the vector width or block: only how many
 *     columns one instruction does changes; fp32 partial sums go to memory and back exactly).
 * vreal is a GCC/clang vector extension of MM_VBYTES bytes: 64 where the compiler targets AVX-512
 * (-march=native on such a CPU), else 32 (8 floats, or 4 doubles under SM_DOUBLE); without AVX2
 * the compiler emits two 16-byte operations per vector, the code stays the same. The alignment
 * attribute lets it load from any address of a real. */
#if defined(__AVX512F__) && !defined(MM_VBYTES)
#define MM_VBYTES 64
#endif
#ifndef MM_VBYTES
#define MM_VBYTES 32
#endif
#ifndef MM_AVX512_MR
#define MM_AVX512_MR 8
#endif
#ifndef MM_KC
#define MM_KC 256
#endif
typedef real vreal __attribute__((vector_size(MM_VBYTES), aligned(sizeof(real))));
#define MM_VL ((int)(MM_VBYTES / sizeof(real)))      /* reals per vector */
#define MM_MR (MM_VBYTES == 64 ? MM_AVX512_MR : 6)    /* tile rows */
#define MM_NR (2 * MM_VL)                             /* tile columns: two vectors */

/* tile[MM_MR, MM_NR] (row stride ldt) += a(r,k) * bp[k, :] for k < K, a(r,k) = a[r*a_row + k*a_col];
 * bp is one packed B panel (K, MM_NR). init = 1: the tile starts from bias[0..MM_NR) in every row
 * (zeros if bias is NULL) instead of its contents, which are not read. */
static inline void mm_microkernel(real* tile, long ldt, const real* a, long a_row, long a_col, const real* bp, int K,
                                  int init, const real* bias) {
    vreal c0[MM_MR], c1[MM_MR]; // row r of the tile is (c0[r], c1[r]); the compiler keeps them in registers
    for (int r = 0; r < MM_MR; r++) {
        if (!init) {
            c0[r] = *(const vreal*)(tile + r * ldt);
            c1[r] = *(const vreal*)(tile + r * ldt + MM_VL);
        } else if (bias) {
            c0[r] = *(const vreal*)bias;
            c1[r] = *(const vreal*)(bias + MM_VL);
        } else {
            vreal zero = {0};
            c0[r] = zero;
            c1[r] = zero;
        }
    }
    for (int k = 0; k < K; k++) {
        vreal b0 = *(const vreal*)(bp + (size_t)k * MM_NR), b1 = *(const vreal*)(bp + (size_t)k * MM_NR + MM_VL);
        for (int r = 0; r < MM_MR; r++) {
            real ark = a[r * a_row + k * a_col]; // scalar * vector: broadcast
            c0[r] += ark * b0;
            c1[r] += ark * b1;
        }
    }
    for (int r = 0; r < MM_MR; r++) {
        *(vreal*)(tile + r * ldt) = c0[r];
        *(vreal*)(tile + r * ldt + MM_VL) = c1[r];
    }
}

/* B panel jt of Bm (K,N), element (k,j) at Bm[k*b_row + j*b_col]:
 * dst[k][j] = Bm[k, jt*MM_NR + j] for k < K, j < MM_NR, zero past N */
static void mm_pack_panel(real* dst, const real* Bm, long b_row, long b_col, int K, int N, int jt) {
    int j0 = jt * MM_NR, nr = N - j0 < MM_NR ? N - j0 : MM_NR;
    if (b_col == 1 && nr == MM_NR) { // rows of Bm contiguous: two vector copies per k (the common case)
        for (int k = 0; k < K; k++) {
            const real* src = Bm + k * b_row + j0;
            *(vreal*)(dst + (size_t)k * MM_NR) = *(const vreal*)src;
            *(vreal*)(dst + (size_t)k * MM_NR + MM_VL) = *(const vreal*)(src + MM_VL);
        }
        return;
    }
    for (int k = 0; k < K; k++) {
        for (int j = 0; j < nr; j++) dst[(size_t)k * MM_NR + j] = Bm[k * b_row + (j0 + j) * b_col];
        for (int j = nr; j < MM_NR; j++) dst[(size_t)k * MM_NR + j] = 0;
    }
}

/* Scratch buffers (the packed panels; the SSM's partial sums), one set per thread. Each slot
 * grows on the first steps only (the largest request sets its size), never afterwards. An op
 * takes them before its parallel region (its team shares the encountering thread's), never
 * inside: the data-parallel CPU step (section 11) runs whole ops on every thread at once. */
enum { SCRATCH_PACK_A, SCRATCH_PACK_B, SCRATCH_SSM, SCRATCH_SSM_A, SCRATCH_ATTN, SCRATCH_SLOTS };
static real* scratch_get(int slot, size_t n) {
    static SM_THREAD_LOCAL real* buf[SCRATCH_SLOTS];
    static SM_THREAD_LOCAL size_t cap[SCRATCH_SLOTS];
    if (n > cap[slot]) {
        free(buf[slot]);
        buf[slot] = (real*)mallocCheck(n * sizeof(real));
        cap[slot] = n;
    }
    return buf[slot];
}

/* the GELU (section 3, below) for the matmul's epilogue */
static inline real gelu_sig(real u);
static inline real gelu_grad(real u);
enum { MM_EPI_NONE, MM_EPI_GELU, MM_EPI_GELU_GRAD };

/* init = 0: Cm += A @ Bm (matmul_acc). init = 1: Cm = A @ Bm + bias (bias (N) or NULL for zeros),
 * each tile set by its owner just before the kernel adds to it: no separate pass over Cm.
 * An epilogue runs on each finished tile while it is still in L1 (ep has Cm's layout, ldc):
 *   MM_EPI_GELU:      ep = GELU(Cm)          (the MLP's activation, next to its input Cm)
 *   MM_EPI_GELU_GRAD: Cm = Cm * GELU'(ep)    (ep = the GELU's input; needs init = 1)
 * so the MLP needs no separate GELU pass (and no parallel region for it). */
static void matmul_epi(real* Cm, int ldc, const real* A, long a_row, long a_col, const real* Bm, long b_row, long b_col,
                       int M, int N, int K, int init, const real* bias, int epi, real* ep) {
    int mtiles = (M + MM_MR - 1) / MM_MR, ntiles = (N + MM_NR - 1) / MM_NR;
    int pack_a = a_col != 1;        // A's rows are not contiguous: pack every row panel
    int m_edge = M % MM_MR != 0;    // a last, partial row panel: packed (zero-padded) too
    real* Bp = scratch_get(SCRATCH_PACK_B, (size_t)ntiles * K * MM_NR);                // (ntiles, K, MM_NR)
    real* Ap = pack_a || m_edge ? scratch_get(SCRATCH_PACK_A, (size_t)mtiles * K * MM_MR) : NULL; // (mtiles, K, MM_MR)
    int tile_chunk = (mtiles + 3) / 4, n_quarters = (mtiles + tile_chunk - 1) / tile_chunk; // (3. above)
#pragma omp parallel if((double)M * N * K > SM_OMP_MIN)
    {
#pragma omp for schedule(static) nowait
        for (int jt = 0; jt < ntiles; jt++) mm_pack_panel(Bp + (size_t)jt * K * MM_NR, Bm, b_row, b_col, K, N, jt);
#pragma omp for schedule(static) // (its implicit barrier: every panel is packed before use)
        for (int it = 0; it < mtiles; it++) { // A panel it: Ap[it][k][r] = A[it*MM_MR + r, k], 0 past M
            int i0 = it * MM_MR, mr = M - i0 < MM_MR ? M - i0 : MM_MR;
            if (!pack_a && mr == MM_MR) continue; // read in place
            real* dst = Ap + (size_t)it * K * MM_MR;
            if (a_row == 1 && mr == MM_MR) // A^T's rows contiguous (the dW products): MM_MR reals per k
                for (int k = 0; k < K; k++)
                    for (int r = 0; r < MM_MR; r++) dst[(size_t)k * MM_MR + r] = A[i0 + r + k * a_col];
            else
                for (int k = 0; k < K; k++)
                    for (int r = 0; r < MM_MR; r++) dst[(size_t)k * MM_MR + r] = r < mr ? A[(i0 + r) * a_row + k * a_col] : 0;
        }
#pragma omp for schedule(dynamic)
        for (int chunk = 0; chunk < ntiles * n_quarters; chunk++) { // tiles it0..it1 of column jt
            int jt = chunk / n_quarters, it0 = chunk % n_quarters * tile_chunk;
            int it1 = it0 + tile_chunk < mtiles ? it0 + tile_chunk : mtiles, j0 = jt * MM_NR, nr = N - j0 < MM_NR ? N - j0 : MM_NR;
            for (int k0 = 0; k0 < K; k0 += MM_KC) { // a K block: its slice of the B panel stays in L1 over the tiles
                int kn = K - k0 < MM_KC ? K - k0 : MM_KC, first = k0 == 0, last = k0 + kn == K;
                const real* bp = Bp + ((size_t)jt * K + k0) * MM_NR;
                for (int it = it0; it < it1; it++) {
                    int i0 = it * MM_MR, mr = M - i0 < MM_MR ? M - i0 : MM_MR;
                    int packed = pack_a || mr < MM_MR;
                    long ar = packed ? 1 : a_row, ac = packed ? MM_MR : a_col;
                    const real* a = (packed ? Ap + (size_t)it * K * MM_MR : A + i0 * a_row) + k0 * ac;
                    real* c = Cm + (size_t)i0 * ldc + j0;
                    if (epi == MM_EPI_GELU_GRAD && last) // its rows of ep: written in the forward long before,
                        for (int r = 0; r < mr; r++) { // a row stride apart: cache misses; fetched while the kernel
                            const real* er = ep + (size_t)(i0 + r) * ldc + j0; // runs (the product 1.2-1.5x faster)
                            __builtin_prefetch(er, 0, 3);
                            __builtin_prefetch(er + nr - 1, 0, 3);
                        }
                    if (mr == MM_MR && nr == MM_NR) { // (a later K block adds to the tile the earlier ones left in Cm)
                        mm_microkernel(c, ldc, a, ar, ac, bp, kn, init && first, bias ? bias + j0 : NULL);
                    } else { // edge tile: work on a full-size copy, write back the part inside Cm
                        real tile[MM_MR * MM_NR];
                        for (int r = 0; r < MM_MR; r++)
                            for (int j = 0; j < MM_NR; j++)
                                tile[r * MM_NR + j] = r >= mr || j >= nr ? 0 : !(init && first) ? c[(size_t)r * ldc + j] : bias ? bias[j0 + j] : 0;
                        mm_microkernel(tile, MM_NR, a, ar, ac, bp, kn, 0, NULL);
                        for (int r = 0; r < mr; r++)
                            for (int j = 0; j < nr; j++) c[(size_t)r * ldc + j] = tile[r * MM_NR + j];
                    }
                    for (int r = 0; epi != MM_EPI_NONE && last && r < mr; r++) {
                        real* cr = c + (size_t)r * ldc;
                        real* er = ep + (size_t)(i0 + r) * ldc + j0;
                        if (epi == MM_EPI_GELU)
                            for (int j = 0; j < nr; j++) er[j] = cr[j] * gelu_sig(cr[j]);
                        else
                            for (int j = 0; j < nr; j++) cr[j] *= gelu_grad(er[j]);
                    }
                }
            }
        }
    }
}
static void matmul(real* Cm, int ldc, const real* A, long a_row, long a_col, const real* Bm, long b_row, long b_col,
                   int M, int N, int K, int init, const real* bias) {
    matmul_epi(Cm, ldc, A, a_row, a_col, Bm, b_row, b_col, M, N, K, init, bias, MM_EPI_NONE, NULL);
}

static void matmul_acc(real* Cm, int ldc, const real* A, long a_row, long a_col, const real* Bm, long b_row, long b_col,
                       int M, int N, int K) {
    matmul(Cm, ldc, A, a_row, a_col, Bm, b_row, b_col, M, N, K, 0, NULL);
}

/* ---- linear: out (N,OC) = inp (N,C) @ W^T + bias, W (OC,C) like torch.nn.Linear -------------
 * backward: dinp += dout @ W,  dW += dout^T @ inp,  dbias += sum_n dout. */
static void linear_forward(real* out, const real* inp, const real* W, const real* bias, int N, int C, int OC) {
    matmul(out, OC, inp, C, 1, W, 1, C, N, OC, C, 1, bias); // W^T's element (c,o) is W[o*C + c]
}
/* the MLP's first layer and its GELU in one pass: out = inp @ W^T + bias, act = GELU(out) */
static void linear_gelu_forward(real* out, real* act, const real* inp, const real* W, const real* bias, int N, int C, int OC) {
    matmul_epi(out, OC, inp, C, 1, W, 1, C, N, OC, C, 1, bias, MM_EPI_GELU, act);
}
/* dinp_mode: LIN_ACC dinp += dout @ W (as linear_backward); LIN_SET dinp = dout @ W (no zeroed
 * buffer needed); LIN_SET_GELU_GRAD dinp = (dout @ W) * GELU'(gelu_in): the gradient of the MLP's
 * GELU input, straight from the gradient of c_proj's output (the GELU's backward in the epilogue). */
enum { LIN_ACC, LIN_SET, LIN_SET_GELU_GRAD };
static void linear_backward_ex(real* dinp, int dinp_mode, real* gelu_in, real* dW, real* dbias, const real* dout,
                               const real* inp, const real* W, int N, int C, int OC) {
    if (dinp) // (N,C) (+)= (N,OC) @ (OC,C)
        matmul_epi(dinp, C, dout, OC, 1, W, C, 1, N, C, OC, dinp_mode != LIN_ACC, NULL,
                   dinp_mode == LIN_SET_GELU_GRAD ? MM_EPI_GELU_GRAD : MM_EPI_NONE, gelu_in);
    matmul_acc(dW, C, dout, 1, OC, inp, C, 1, OC, C, N);           // (OC,C) += (N,OC)^T @ (N,C)
    if (dbias) {
#pragma omp parallel for schedule(static) if((size_t)N * OC > SM_OMP_MIN)
        for (int o = 0; o < OC; o++) {
            real s = 0;
            for (int n = 0; n < N; n++) s += dout[(size_t)n * OC + o];
            dbias[o] += s;
        }
    }
}
static void linear_backward(real* dinp, real* dW, real* dbias, const real* dout, const real* inp, const real* W,
                            int N, int C, int OC) {
    linear_backward_ex(dinp, LIN_ACC, NULL, dW, dbias, dout, inp, W, N, C, OC);
}

/* ---- LayerNorm (eps 1e-5): xhat = (x - mean) * rstd, y = w * xhat + b ------------------------
 * backward: dw += sum dy*xhat, db += sum dy, dxhat = dy*w,
 *           dx = rstd * (dxhat - mean(dxhat) - xhat * mean(dxhat*xhat)).
 * w == NULL means no affine weight (w = 1), b == NULL no bias.
 * The row sums run in MM_VL interleaved lanes (a vector register; MM_VL is defined with the
 * matmul below), the lanes then added in order in double: a fixed order, and the loops vectorise. */
#define LN_LANES ((int)(32 / sizeof(real)))
static inline double lanes_total(const real* lane, real tail) {
    double s = tail;
    for (int l = 0; l < LN_LANES; l++) s += lane[l];
    return s;
}
/* sum of x[0..n) and sum of x[j] y[j], max of x[0..n) (n >= 1), in lanes the same way (softmaxes) */
static inline real sum_lanes(const real* x, int n) {
    real lane[LN_LANES] = {0}, tail = 0;
    int nv = n / LN_LANES * LN_LANES;
    for (int j = 0; j < nv; j += LN_LANES)
        for (int l = 0; l < LN_LANES; l++) lane[l] += x[j + l];
    for (int j = nv; j < n; j++) tail += x[j];
    return (real)lanes_total(lane, tail);
}
static inline real dot_lanes(const real* x, const real* y, int n) {
    real lane[LN_LANES] = {0}, tail = 0;
    int nv = n / LN_LANES * LN_LANES;
    for (int j = 0; j < nv; j += LN_LANES)
        for (int l = 0; l < LN_LANES; l++) lane[l] += x[j + l] * y[j + l];
    for (int j = nv; j < n; j++) tail += x[j] * y[j];
    return (real)lanes_total(lane, tail);
}
static inline real max_lanes(const real* x, int n) {
    real lane[LN_LANES], m = x[0];
    int nv = n / LN_LANES * LN_LANES;
    for (int l = 0; l < LN_LANES; l++) lane[l] = x[0];
    for (int j = 0; j < nv; j += LN_LANES)
        for (int l = 0; l < LN_LANES; l++) lane[l] = x[j + l] > lane[l] ? x[j + l] : lane[l];
    for (int j = nv; j < n; j++) m = x[j] > m ? x[j] : m;
    for (int l = 0; l < LN_LANES; l++) m = lane[l] > m ? lane[l] : m;
    return m;
}
static void layernorm_forward(real* out, real* mean, real* rstd, const real* inp, const real* w, const real* b,
                              int N, int C) {
    // inp, out (N,C); mean, rstd (N)
    int Cv = C / LN_LANES * LN_LANES; // channels summed in lanes; the rest (C % LN_LANES) one by one
#pragma omp parallel for schedule(static) if((size_t)N * C > SM_OMP_MIN)
    for (int n = 0; n < N; n++) {
        const real* x = inp + (size_t)n * C;
        real lane[LN_LANES] = {0}, tail = 0;
        for (int c = 0; c < Cv; c += LN_LANES)
            for (int l = 0; l < LN_LANES; l++) lane[l] += x[c + l];
        for (int c = Cv; c < C; c++) tail += x[c];
        real m = (real)(lanes_total(lane, tail) / C);
        for (int l = 0; l < LN_LANES; l++) lane[l] = 0;
        tail = 0;
        for (int c = 0; c < Cv; c += LN_LANES)
            for (int l = 0; l < LN_LANES; l++) lane[l] += (x[c + l] - m) * (x[c + l] - m);
        for (int c = Cv; c < C; c++) tail += (x[c] - m) * (x[c] - m);
        real s = (real)(1.0 / sqrt(lanes_total(lane, tail) / C + 1e-5));
        real* y = out + (size_t)n * C;
        for (int c = 0; c < C; c++) y[c] = (x[c] - m) * s * (w ? w[c] : 1) + (b ? b[c] : 0);
        mean[n] = m;
        rstd[n] = s;
    }
}
static void layernorm_backward(real* dinp, real* dw, real* db, const real* dout, const real* inp, const real* w,
                               const real* mean, const real* rstd, int N, int C) {
    int Cv = C / LN_LANES * LN_LANES;
#pragma omp parallel if((size_t)N * C > SM_OMP_MIN)
    {
#pragma omp for schedule(static) nowait
        for (int n = 0; n < N; n++) {
            const real* x = inp + (size_t)n * C;
            const real* dy = dout + (size_t)n * C;
            real m = mean[n], s = rstd[n];
            real l1[LN_LANES] = {0}, l2[LN_LANES] = {0}, t1 = 0, t2 = 0; // sums of dxhat and dxhat*xhat
            for (int c = 0; c < Cv; c += LN_LANES)
                for (int l = 0; l < LN_LANES; l++) {
                    real xhat = (x[c + l] - m) * s, dxhat = dy[c + l] * (w ? w[c + l] : 1);
                    l1[l] += dxhat;
                    l2[l] += dxhat * xhat;
                }
            for (int c = Cv; c < C; c++) {
                real xhat = (x[c] - m) * s, dxhat = dy[c] * (w ? w[c] : 1);
                t1 += dxhat;
                t2 += dxhat * xhat;
            }
            real mean_dxhat = (real)(lanes_total(l1, t1) / C), mean_dxhat_xhat = (real)(lanes_total(l2, t2) / C);
            real* dx = dinp + (size_t)n * C;
            for (int c = 0; c < C; c++) {
                real xhat = (x[c] - m) * s, dxhat = dy[c] * (w ? w[c] : 1);
                dx[c] += s * (dxhat - mean_dxhat - xhat * mean_dxhat_xhat);
            }
        }
        // parameter gradients: sums over rows n = 0..N-1 in order; a block of LN_LANES channels
        // has one owner, and the loop over its channels is contiguous (vectorises)
#pragma omp for schedule(static)
        for (int c0 = 0; c0 < C; c0 += LN_LANES) {
            int nc = C - c0 < LN_LANES ? C - c0 : LN_LANES;
            real sw[LN_LANES] = {0}, sb[LN_LANES] = {0};
            for (int n = 0; n < N; n++) {
                const real* dy = dout + (size_t)n * C + c0;
                const real* x = inp + (size_t)n * C + c0;
                real m = mean[n], s = rstd[n];
                if (nc == LN_LANES)
                    for (int l = 0; l < LN_LANES; l++) { sw[l] += dy[l] * ((x[l] - m) * s); sb[l] += dy[l]; }
                else
                    for (int l = 0; l < nc; l++) { sw[l] += dy[l] * ((x[l] - m) * s); sb[l] += dy[l]; }
            }
            for (int l = 0; l < nc; l++) {
                if (dw) dw[c0 + l] += sw[l];
                if (db) db[c0 + l] += sb[l];
            }
        }
    }
}

/* ---- RMSNorm: r = 1/sqrt(mean(x^2) + eps), xhat = x*r, y = w * xhat ---------------------------
 * backward: dw += sum dy*xhat, dx = r * (dy*w - xhat * mean(dy*w*xhat)). w == NULL: w = 1. */
static void rmsnorm_forward(real* out, real* rstd, const real* inp, const real* w, int N, int C, double eps) {
#pragma omp parallel for schedule(static) if((size_t)N * C > SM_OMP_MIN)
    for (int n = 0; n < N; n++) {
        const real* x = inp + (size_t)n * C;
        double ss = 0;
        for (int c = 0; c < C; c++) ss += (double)x[c] * x[c];
        real r = (real)(1.0 / sqrt(ss / C + eps));
        real* y = out + (size_t)n * C;
        for (int c = 0; c < C; c++) y[c] = x[c] * r * (w ? w[c] : 1);
        rstd[n] = r;
    }
}
static void rmsnorm_backward(real* dinp, real* dw, const real* dout, const real* inp, const real* w,
                             const real* rstd, int N, int C) {
#pragma omp parallel for schedule(static) if((size_t)N * C > SM_OMP_MIN)
    for (int n = 0; n < N; n++) {
        const real* x = inp + (size_t)n * C;
        const real* dy = dout + (size_t)n * C;
        double s = 0;
        for (int c = 0; c < C; c++) s += dy[c] * (w ? w[c] : 1) * x[c] * rstd[n];
        real mean_term = (real)(s / C);
        real* dx = dinp + (size_t)n * C;
        for (int c = 0; c < C; c++) dx[c] += rstd[n] * (dy[c] * (w ? w[c] : 1) - x[c] * rstd[n] * mean_term);
    }
    if (dw) {
#pragma omp parallel for schedule(static) if((size_t)N * C > SM_OMP_MIN)
        for (int c = 0; c < C; c++) {
            real sw = 0;
            for (int n = 0; n < N; n++) sw += dout[(size_t)n * C + c] * inp[(size_t)n * C + c] * rstd[n];
            dw[c] += sw;
        }
    }
}

/* ---- exp that the compiler can vectorise -----------------------------------------------------
 * libm's expf is a function call, so a loop around it runs one element at a time; GELU, SiLU and
 * the softmaxes spend most of their time there. exp_fast computes e^x = 2^n e^r with
 * n = round(x / ln2) and r = x - n ln2 (|r| <= ln2/2; ln2 in two parts so r is exact), e^r by its
 * Taylor series to r^7 (truncation error < 6e-9, under float's resolution; measured: relative
 * error < 8e-8, about one ulp), and 2^n written straight into the exponent bits. Adding then
 * subtracting 1.5*2^23 rounds to the nearest integer. x is clamped to [-87, 88] so 2^n stays a
 * normal float: the result is then 1.6e-38 instead of 0 below (callers never feed -inf) and
 * 1.65e38 instead of inf above; NaN stays NaN. Plain C: every step vectorises (the Makefile's
 * -fno-trapping-math lets GCC turn the clamps into min/max). The double build (gradient checks)
 * keeps libm's exp: the checks need full precision. */
static inline real exp_fast(real x) {
#ifdef SM_DOUBLE
    return exp(x);
#else
    x = x < -87.0f ? -87.0f : x;
    x = x > 88.0f ? 88.0f : x;
    float n = (x * 1.44269504f + 12582912.0f) - 12582912.0f; // round(x / ln2)
    float r = x - n * 0.693145751953125f - n * 1.42860682e-6f; // x - n ln2
    float p = 1 + r * (1 + r * (1 / 2.f + r * (1 / 6.f + r * (1 / 24.f + r * (1 / 120.f + r * (1 / 720.f + r * (1 / 5040.f)))))));
    int32_t bits = ((int32_t)n + 127) << 23; // 2^n: biased exponent n + 127, zero mantissa
    float two_n;
    memcpy(&two_n, &bits, sizeof(two_n));
    return p * two_n;
#endif
}

/* ---- GELU, tanh form (GPT-2): g(u) = 0.5 u (1 + tanh(z)), z = sqrt(2/pi) (u + 0.044715 u^3) -----
 * Computed as g(u) = u * sigmoid(2z), the same function (0.5 (1 + tanh z) = sigmoid(2z)) with one
 * exp instead of a tanh. With s = sigmoid(2z), th = tanh(z) = 2s - 1:
 * g'(u) = 0.5 (1 + th) + 0.5 u (1 - th^2) sqrt(2/pi) (1 + 3*0.044715 u^2). */
#define GELU_SCALE 0.7978845608028654 /* sqrt(2/pi) */
static inline real gelu_sig(real u) { /* sigmoid(2z) */
    return 1 / (1 + exp_fast(-2 * (real)GELU_SCALE * (u + (real)0.044715 * u * u * u)));
}
static inline real gelu_grad(real u) { /* g'(u) */
    real s = gelu_sig(u), th = 2 * s - 1;
    return s + (real)0.5 * u * (1 - th * th) * (real)GELU_SCALE * (1 + (real)(3 * 0.044715) * u * u);
}
static void gelu_forward(real* out, const real* inp, size_t n) {
#pragma omp parallel for schedule(static) if(n > SM_OMP_MIN)
    for (size_t i = 0; i < n; i++) out[i] = inp[i] * gelu_sig(inp[i]);
}
static void gelu_backward(real* dinp, const real* inp, const real* dout, size_t n) {
#pragma omp parallel for schedule(static) if(n > SM_OMP_MIN)
    for (size_t i = 0; i < n; i++) dinp[i] += gelu_grad(inp[i]) * dout[i];
}

/* ---- SiLU and SwiGLU: silu(u) = u * sigmoid(u), silu'(u) = s + u s (1 - s) --------------------
 * swiglu: out = silu(gate) * up  (LLaMA MLP; the Longhorn repo gates fc_2 and multiplies fc_1). */
static inline real sigmoidr(real u) { return 1 / (1 + exp_fast(-u)); }
static void silu_forward(real* out, const real* inp, size_t n) {
#pragma omp parallel for schedule(static) if(n > SM_OMP_MIN)
    for (size_t i = 0; i < n; i++) out[i] = inp[i] * sigmoidr(inp[i]);
}
static void silu_backward(real* dinp, const real* inp, const real* dout, size_t n) {
#pragma omp parallel for schedule(static) if(n > SM_OMP_MIN)
    for (size_t i = 0; i < n; i++) {
        real s = sigmoidr(inp[i]);
        dinp[i] += dout[i] * (s + inp[i] * s * (1 - s));
    }
}
static void swiglu_forward(real* out, const real* gate, const real* up, size_t n) {
#pragma omp parallel for schedule(static) if(n > SM_OMP_MIN)
    for (size_t i = 0; i < n; i++) out[i] = gate[i] * sigmoidr(gate[i]) * up[i];
}
static void swiglu_backward(real* dgate, real* dup, const real* dout, const real* gate, const real* up, size_t n) {
#pragma omp parallel for schedule(static) if(n > SM_OMP_MIN)
    for (size_t i = 0; i < n; i++) {
        real s = sigmoidr(gate[i]), silu = gate[i] * s;
        dgate[i] += dout[i] * up[i] * (s + gate[i] * s * (1 - s));
        dup[i] += dout[i] * silu;
    }
}

/* ---- RoPE, rotate-half layout (LLaMA / Longhorn repo), in place on q and k of qkv (B,T,3C) ----
 * For each head vector x (size hs): x1 = x[0:hs/2], x2 = x[hs/2:hs], freq_i = 10000^(-2i/hs),
 * angle = t*freq_i: out1 = x1 cos - x2 sin, out2 = x2 cos + x1 sin.
 * The backward is the same rotation by -angle (a rotation's inverse is its transpose). */
static void rope_rotate(real* qkv, int B, int T, int C, int H, int sign) {
    int hs = C / H, half = hs / 2;
#pragma omp parallel for collapse(2) schedule(static) if((size_t)B * T * C > SM_OMP_MIN)
    for (int b = 0; b < B; b++)
        for (int t = 0; t < T; t++)
            for (int i = 0; i < half; i++) {
                double angle = t * pow(10000.0, -2.0 * i / hs);
                real cs = (real)cos(angle), sn = (real)(sign * sin(angle));
                real* row = qkv + ((size_t)b * T + t) * 3 * C;
                for (int part = 0; part < 2; part++) // q then k
                    for (int h = 0; h < H; h++) {
                        real* x = row + part * C + h * hs;
                        real x1 = x[i], x2 = x[i + half];
                        x[i] = x1 * cs - x2 * sn;
                        x[i + half] = x2 * cs + x1 * sn;
                    }
            }
}
static void rope_forward(real* qkv, int B, int T, int C, int H) { rope_rotate(qkv, B, T, C, H, +1); }
static void rope_backward(real* dqkv, int B, int T, int C, int H) { rope_rotate(dqkv, B, T, C, H, -1); }

/* keep element i of a dropout mask with seed `seed`? (probability 1 - p; a hash, never stored) */
static inline int dropout_keep(uint64_t seed, size_t i, float p) {
    return (hash64(seed ^ (i * 0xD1B54A32D192ED03ull)) >> 40) * (1.0 / 16777216.0) >= p;
}

/* ---- causal self-attention with an additive position bias ---------------------------------
 * S = q k^T / sqrt(hs) + bias(i,j) with j <= i, P = softmax(S), y = P v.   (attention.md §1, §3)
 *   ALiBi:      bias = m_h (j - i), slopes m_h = 2^(-8(h+1)/H) for H a power of two.
 *   Hard-ALiBi: the first n_masked heads see only keys i-h <= j <= i; the others are NoPE.
 * Attention dropout (p_drop > 0, training): y = (P * M / (1 - p_drop)) v with the hash mask
 * M[b,h,i,j] = dropout_keep(seed, ((b H + h) T + i) T + j); att keeps P without the mask.
 * backward: dV = P^T dY, dP = dY V^T, dS = P * (dP - rowsum(dP * P)), dQ = dS K / sqrt(hs),
 *           dK = dS^T Q / sqrt(hs). */
static double alibi_slope(int h, int H) {
    int P = 1;
    while (P * 2 <= H) P *= 2; // nearest power of two <= H
    if (h < P) return pow(2.0, -8.0 * (h + 1) / P);
    return pow(2.0, -8.0 * (2 * (h - P) + 1) / (2.0 * P)); // every other slope of 2P (Press et al.)
}
static int hard_alibi_heads(const Config* c) {
    return c->num_masked_heads >= 0 ? c->num_masked_heads : (2 * c->n_head + 1) / 3;
}
/* the additive bias of query i, key j (j <= i) in head h; -INFINITY = masked */
static inline real attn_bias(int pos, int n_masked, double slope, int h, int i, int j) {
    if (pos == POS_ALIBI) return (real)(slope * (j - i));
    if (pos == POS_HARD_ALIBI && h < n_masked && j < i - h) return -INFINITY;
    return 0;
}

/* Attention runs per (b, h) as small matmuls on the matmul's microkernel (section above), in a
 * per-thread workspace: operands are copied into buffers padded to whole tiles (rows to a multiple
 * of MM_MR, packed panels to a multiple of MM_NR, zeros in the padding), so every tile is a full
 * one. Causality skips the tiles above the diagonal and shortens the k-loops: query row i only
 * needs keys j <= i. Each element of each product sums its k in order: deterministic. */
static int round_up(int n, int m) { return (n + m - 1) / m * m; }
/* tile (it, jt) of Cm (row stride ldc) += A[rows of tile it, k0:k1) @ Bp[k0:k1, panel jt];
 * A's element (i,k) at A[i*a_row + k*a_col] (a_row = 1: A is a transposed row-major buffer),
 * Bp packed panels of K rows each */
static inline void mm_tile_at(real* Cm, int ldc, const real* A, long a_row, long a_col, const real* Bp, int K, int it,
                              int jt, int k0, int k1) {
    if (k1 > k0)
        mm_microkernel(Cm + (size_t)it * MM_MR * ldc + jt * MM_NR, ldc, A + it * MM_MR * a_row + k0 * a_col, a_row, a_col,
                       Bp + ((size_t)jt * K + k0) * MM_NR, k1 - k0, 0, NULL);
}
/* Cm (rows x ldc, zeroed first) = A (row stride K) @ Bp (panels of K rows) on the causal tiles
 * only: those of mt row tiles x nt panels that hold some column j <= row i; the rest stays zero */
static void mm_causal_tiles(real* Cm, int ldc, int rows, const real* A, const real* Bp, int K, int mt, int nt) {
    memset(Cm, 0, sizeof(real) * (size_t)rows * ldc);
    for (int it = 0; it < mt; it++)
        for (int jt = 0; jt * MM_NR <= it * MM_MR + MM_MR - 1 && jt < nt; jt++) mm_tile_at(Cm, ldc, A, K, 1, Bp, K, it, jt, 0, K);
}
/* reals of workspace per thread: forward and backward (Tm, Tn, Hn: T and hs rounded up to tiles) */
static size_t attn_ws_size(int T, int hs) {
    size_t Tm = round_up(T, MM_MR), Tn = round_up(T, MM_NR), Hn = round_up(hs, MM_NR);
    size_t fwd = Tm * hs + Tn * hs + Hn * T + Tm * Tn + Tm * T + Tm * Hn;
    size_t Td = round_up(Tm, MM_NR), bwd = Tm * hs + Tn * hs + 3 * Hn * T + 2 * Td * Td + 3 * Tm * Hn;
    return (fwd > bwd ? fwd : bwd) + 64;
}

static void attention_forward(real* out, real* att, const real* qkv, int B, int T, int C, int H, int pos,
                              int n_masked, float p_drop, uint64_t seed) {
    // qkv (B,T,3C) -> out (B,T,C); att (B,H,T,T) keeps P (row i: entries 0..i, zeros after)
    int hs = C / H, Tm = round_up(T, MM_MR), Tn = round_up(T, MM_NR), Hn = round_up(hs, MM_NR);
    int mt = Tm / MM_MR, nt = Tn / MM_NR, ht = Hn / MM_NR;
    real scale = 1 / sqrt((real)hs);
    size_t ws_n = attn_ws_size(T, hs);
    real* ws_all = scratch_get(SCRATCH_ATTN, ws_n * sm_threads());
    // (b, h) pairs to whichever thread is free (as the matmul's tiles; each pair's sums are its own)
#pragma omp parallel for collapse(2) schedule(dynamic) if((size_t)B * T * T * C > SM_OMP_MIN)
    for (int b = 0; b < B; b++)
        for (int h = 0; h < H; h++) {
            double slope = pos == POS_ALIBI ? alibi_slope(h, H) : 0;
            real* ws = ws_all + ws_n * sm_thread();
            real* qs = ws;            // (Tm,hs) q / sqrt(hs), zero rows past T
            real* kp = qs + Tm * hs;  // K^T as packed panels (nt, hs, MM_NR)
            real* vp = kp + Tn * hs;  // V as packed panels (ht, T, MM_NR)
            real* S = vp + Hn * T;    // (Tm,Tn) scores
            real* pw = S + Tm * Tn;   // (Tm,T) P times the dropout mask, zero rows past T
            real* y = pw + Tm * T;    // (Tm,Hn) P V
            const real* qkv_b = qkv + (size_t)b * T * 3 * C;
            for (int i = 0; i < Tm; i++)
                for (int d = 0; d < hs; d++) qs[i * hs + d] = i < T ? qkv_b[(size_t)i * 3 * C + h * hs + d] * scale : 0;
            for (int jt = 0; jt < nt; jt++) mm_pack_panel(kp + (size_t)jt * hs * MM_NR, qkv_b + C + h * hs, 1, 3 * C, hs, T, jt);
            for (int dt = 0; dt < ht; dt++) mm_pack_panel(vp + (size_t)dt * T * MM_NR, qkv_b + 2 * C + h * hs, 3 * C, 1, T, hs, dt);
            mm_causal_tiles(S, Tn, Tm, qs, kp, hs, mt, nt); // S = (q / sqrt(hs)) K^T
            for (int i = 0; i < Tm; i++) {
                real* w = pw + (size_t)i * T;
                if (i >= T) { for (int j = 0; j < T; j++) w[j] = 0; continue; }
                real* p = att + (((size_t)b * H + h) * T + i) * T;
                // keys j < j0 are masked (bias -inf, P = 0): Hard-ALiBi's windowed heads see i-h..i
                int j0 = pos == POS_HARD_ALIBI && h < n_masked && i - h > 0 ? i - h : 0;
                for (int j = 0; j < T; j++) p[j] = 0;
                for (int j = j0; j <= i; j++) p[j] = S[(size_t)i * Tn + j];
                if (pos == POS_ALIBI)
                    for (int j = j0; j <= i; j++) p[j] += (real)(slope * (j - i));
                real maxval = max_lanes(p + j0, i - j0 + 1); // softmax over the window j0..i
                for (int j = j0; j <= i; j++) p[j] = exp_fast(p[j] - maxval);
                real sum = sum_lanes(p + j0, i - j0 + 1);
                for (int j = j0; j <= i; j++) p[j] /= sum;
                // the row of P * M, M the dropout mask (all ones without dropout)
                size_t row = (((size_t)b * H + h) * T + i) * T;
                if (p_drop > 0)
                    for (int j = 0; j < T; j++) w[j] = dropout_keep(seed, row + j, p_drop) ? p[j] / (1 - (real)p_drop) : 0;
                else
                    for (int j = 0; j < T; j++) w[j] = p[j];
            }
            // y = (P * M) V: row tile it needs keys up to its last row
            memset(y, 0, sizeof(real) * Tm * Hn);
            for (int it = 0; it < mt; it++) {
                int k1 = it * MM_MR + MM_MR < T ? it * MM_MR + MM_MR : T;
                for (int dt = 0; dt < ht; dt++) mm_tile_at(y, Hn, pw, T, 1, vp, T, it, dt, 0, k1);
            }
            for (int i = 0; i < T; i++)
                for (int d = 0; d < hs; d++) out[((size_t)b * T + i) * C + h * hs + d] = y[(size_t)i * Hn + d];
        }
}
/* set = 0 accumulates into dqkv (dqkv += ...); set = 1 writes it (dqkv = ...) */
static void attention_backward_ex(real* dqkv, const real* dout, const real* qkv, const real* att, int B, int T, int C,
                                  int H, float p_drop, uint64_t seed, int set) {
    // the bias is a constant of the scores, so it does not appear here: P already includes it
    // (masked keys have P = 0 and contribute nothing). With the (P*M) buffer pm:
    // dP = dY V^T (then * M), dS = P (dP - rowsum(dP P)) / sqrt(hs), dQ = dS K, dK = dS^T Q, dV = pm^T dY
    // dS^T and pm^T are read in place as transposed operands (the microkernel takes strides).
    int hs = C / H, Tm = round_up(T, MM_MR), Tn = round_up(T, MM_NR), Hn = round_up(hs, MM_NR);
    int Td = round_up(Tm, MM_NR); // row stride of dS and pm: >= Tm and Tn, so their transposes are padded too
    int mt = Tm / MM_MR, nt = Tn / MM_NR, ht = Hn / MM_NR;
    real scale = 1 / sqrt((real)hs);
    size_t ws_n = attn_ws_size(T, hs);
    real* ws_all = scratch_get(SCRATCH_ATTN, ws_n * sm_threads());
    // (b, h) pairs to whichever thread is free (as the matmul's tiles; each pair's sums are its own)
#pragma omp parallel for collapse(2) schedule(dynamic) if((size_t)B * T * T * C > SM_OMP_MIN)
    for (int b = 0; b < B; b++)
        for (int h = 0; h < H; h++) {
            real* ws = ws_all + ws_n * sm_thread();
            real* dy = ws;              // (Tm,hs) dY, zero rows past T
            real* vtp = dy + Tm * hs;   // V^T as packed panels (nt, hs, MM_NR)
            real* dyp = vtp + Tn * hs;  // dY as packed panels (ht, T, MM_NR)
            real* kp = dyp + Hn * T;    // K as packed panels (ht, T, MM_NR)
            real* qp = kp + Hn * T;     // Q as packed panels (ht, T, MM_NR)
            real* dS = qp + Hn * T;     // (Td,Td) dP, then dS in place; zero for j > i and past T
            real* pm = dS + Td * Td;    // (Td,Td) P * M; zero for j > i and past T
            real* dq = pm + Td * Td;    // (Tm,Hn) each
            real* dk = dq + Tm * Hn;
            real* dv = dk + Tm * Hn;
            const real* qkv_b = qkv + (size_t)b * T * 3 * C;
            const real* dout_b = dout + (size_t)b * T * C + h * hs;
            const real* att_bh = att + ((size_t)b * H + h) * T * T;
            for (int i = 0; i < Tm; i++)
                for (int d = 0; d < hs; d++) dy[i * hs + d] = i < T ? dout_b[(size_t)i * C + d] : 0;
            for (int jt = 0; jt < nt; jt++) mm_pack_panel(vtp + (size_t)jt * hs * MM_NR, qkv_b + 2 * C + h * hs, 1, 3 * C, hs, T, jt);
            for (int dt = 0; dt < ht; dt++) {
                mm_pack_panel(dyp + (size_t)dt * T * MM_NR, dout_b, C, 1, T, hs, dt);
                mm_pack_panel(kp + (size_t)dt * T * MM_NR, qkv_b + C + h * hs, 3 * C, 1, T, hs, dt);
                mm_pack_panel(qp + (size_t)dt * T * MM_NR, qkv_b + h * hs, 3 * C, 1, T, hs, dt);
            }
            mm_causal_tiles(dS, Td, Td, dy, vtp, hs, mt, nt); // dP = dY V^T
            for (int i = 0; i < Td; i++) {
                real* ds = dS + (size_t)i * Td;
                real* pmi = pm + (size_t)i * Td;
                int n = i < T ? i + 1 : 0; // keys 0..i of query i; rows past T stay zero
                const real* p = att_bh + (size_t)i * T;
                if (p_drop > 0) { // through the dropout mask: dP *= M, and dV uses P * M
                    size_t row = (((size_t)b * H + h) * T + i) * T;
                    for (int j = 0; j < n; j++) {
                        real m = dropout_keep(seed, row + j, p_drop) ? 1 / (1 - (real)p_drop) : 0;
                        ds[j] *= m;
                        pmi[j] = p[j] * m;
                    }
                } else {
                    for (int j = 0; j < n; j++) pmi[j] = p[j];
                }
                real rowsum = n ? dot_lanes(ds, p, n) : 0;
                for (int j = 0; j < n; j++) ds[j] = p[j] * (ds[j] - rowsum) * scale;
                for (int j = n; j < Td; j++) ds[j] = pmi[j] = 0;
            }
            // dQ = dS K (keys up to the tile's last query); dK = dS^T Q and dV = pm^T dY (queries from the tile's first key)
            memset(dq, 0, sizeof(real) * 3 * Tm * Hn);
            for (int it = 0; it < mt; it++) {
                int k1 = it * MM_MR + MM_MR < T ? it * MM_MR + MM_MR : T, k0 = it * MM_MR < T ? it * MM_MR : T;
                for (int dt = 0; dt < ht; dt++) {
                    mm_tile_at(dq, Hn, dS, Td, 1, kp, T, it, dt, 0, k1);
                    mm_tile_at(dk, Hn, dS, 1, Td, qp, T, it, dt, k0, T);
                    mm_tile_at(dv, Hn, pm, 1, Td, dyp, T, it, dt, k0, T);
                }
            }
            for (int i = 0; i < T; i++) {
                real* g = dqkv + ((size_t)b * T + i) * 3 * C + h * hs;
                for (int d = 0; d < hs; d++) {
                    g[d] = (set ? 0 : g[d]) + dq[(size_t)i * Hn + d];
                    g[C + d] = (set ? 0 : g[C + d]) + dk[(size_t)i * Hn + d];
                    g[2 * C + d] = (set ? 0 : g[2 * C + d]) + dv[(size_t)i * Hn + d];
                }
            }
        }
}
static void attention_backward(real* dqkv, const real* dout, const real* qkv, const real* att, int B, int T, int C,
                               int H, float p_drop, uint64_t seed) {
    attention_backward_ex(dqkv, dout, qkv, att, B, T, C, H, p_drop, seed, 0);
}

/* ---- dropout (inverted), in place: keep with probability 1-p and scale by 1/(1-p) -------------
 * The mask is a hash of (seed, element index) (dropout_keep, above attention), so it is never
 * stored: the backward recomputes it, and a resumed run (same seed, same step) draws the same
 * masks. */
static void dropout_forward(real* x, size_t n, float p, uint64_t seed) {
    if (p <= 0) return;
    real scale = 1 / (1 - (real)p);
#pragma omp parallel for schedule(static) if(n > SM_OMP_MIN)
    for (size_t i = 0; i < n; i++) x[i] = dropout_keep(seed, i, p) ? x[i] * scale : 0;
}
static void dropout_backward(real* dx, size_t n, float p, uint64_t seed) { dropout_forward(dx, n, p, seed); }

/* ---- residual: out = a + b; backward da += dout, db += dout --------------------------------- */
static void residual_forward(real* out, const real* a, const real* b, size_t n) {
#pragma omp parallel for schedule(static) if(n > SM_OMP_MIN)
    for (size_t i = 0; i < n; i++) out[i] = a[i] + b[i];
}
static void residual_backward(real* da, real* db, const real* dout, size_t n) {
#pragma omp parallel for schedule(static) if(n > SM_OMP_MIN)
    for (size_t i = 0; i < n; i++) { da[i] += dout[i]; db[i] += dout[i]; }
}
/* the same, SETTING da = db = dout: for gradients that have no other contribution yet */
static void residual_backward_set(real* da, real* db, const real* dout, size_t n) {
#pragma omp parallel for schedule(static) if(n > SM_OMP_MIN)
    for (size_t i = 0; i < n; i++) { da[i] = dout[i]; db[i] = dout[i]; }
}

/* ---- softmax cross-entropy with a loss mask ---------------------------------------------------
 * probs = softmax(logits), loss_i = -log probs_i[target_i] for each of the N positions.
 * backward: dlogits_i = (probs_i - onehot(target_i)) * scale_i, with scale_i = mask_i / N_scored. */
static void crossentropy_forward(real* losses, real* probs, const real* logits, const int* targets, int N, int V) {
#pragma omp parallel for schedule(static) if((size_t)N * V > SM_OMP_MIN)
    for (int n = 0; n < N; n++) {
        const real* z = logits + (size_t)n * V;
        real* p = probs + (size_t)n * V;
        real maxval = max_lanes(z, V);
        for (int i = 0; i < V; i++) p[i] = exp_fast(z[i] - maxval); // vectorised
        double sum = sum_lanes(p, V);
        for (int i = 0; i < V; i++) p[i] = (real)(p[i] / sum);
        losses[n] = (real)(-(z[targets[n]] - maxval - log(sum))); // log-sum-exp form: no log(0)
    }
}
static void crossentropy_backward(real* dlogits, const real* probs, const int* targets, const uint8_t* mask,
                                  double scale, int N, int V) {
#pragma omp parallel for schedule(static) if((size_t)N * V > SM_OMP_MIN)
    for (int n = 0; n < N; n++) {
        real s = (real)((mask && !mask[n]) ? 0 : scale);
        const real* p = probs + (size_t)n * V;
        real* dz = dlogits + (size_t)n * V;
        for (int i = 0; i < V; i++) dz[i] += (p[i] - (i == targets[n])) * s;
    }
}

/* ---- causal depthwise conv1d (Mamba, Longhorn: ssm.md §2) -----------------------------------
 * out[b,t,e] = bias[e] + sum_{w<W} weight[e,w] x[b, t-(W-1)+w, e]        (x before t = 0 is 0)
 * backward: dx[b, t-(W-1)+w, e] += weight[e,w] dout[b,t,e]; dweight[e,w] += dout x; dbias += dout */
static void conv1d_forward(real* out, const real* x, const real* weight, const real* bias, int B, int T, int E, int W) {
    // x, out (B,T,E); weight (E,1,W); bias (E)
#pragma omp parallel for collapse(2) schedule(static) if((size_t)B * T * E * W > SM_OMP_MIN)
    for (int b = 0; b < B; b++)
        for (int t = 0; t < T; t++)
            for (int e = 0; e < E; e++) {
                real s = bias ? bias[e] : 0;
                for (int w = 0; w < W; w++) {
                    int tt = t - (W - 1) + w;
                    if (tt >= 0) s += weight[e * W + w] * x[((size_t)b * T + tt) * E + e];
                }
                out[((size_t)b * T + t) * E + e] = s;
            }
}
static void conv1d_backward(real* dx, real* dweight, real* dbias, const real* dout, const real* x, const real* weight, int B,
                            int T, int E, int W) {
#pragma omp parallel for schedule(static) if((size_t)B * T * E * W > SM_OMP_MIN)
    for (int b = 0; b < B; b++) // each batch row owns its dx
        for (int t = 0; t < T; t++)
            for (int e = 0; e < E; e++) {
                real g = dout[((size_t)b * T + t) * E + e];
                for (int w = 0; w < W; w++) {
                    int tt = t - (W - 1) + w;
                    if (tt >= 0) dx[((size_t)b * T + tt) * E + e] += weight[e * W + w] * g;
                }
            }
#pragma omp parallel for schedule(static) if((size_t)B * T * E * W > SM_OMP_MIN)
    for (int e = 0; e < E; e++) // each channel owns its weights
        for (int b = 0; b < B; b++)
            for (int t = 0; t < T; t++) {
                real g = dout[((size_t)b * T + t) * E + e];
                if (dbias) dbias[e] += g;
                for (int w = 0; w < W; w++) {
                    int tt = t - (W - 1) + w;
                    if (tt >= 0) dweight[e * W + w] += g * x[((size_t)b * T + tt) * E + e];
                }
            }
}

/* ============================================================================================
 * 4. The model: one parameter buffer, one activation buffer, and an architecture that knows
 * how to fill the parameter table, lay out its activations, and run forward and backward.
 * ============================================================================================ */

typedef struct Model Model;

typedef struct {
    const char* name;
    const char* about;
    void (*defaults)(Config* c);                         /* fill the architecture's defaults */
    int (*check)(const Config* c);                        /* -1 + sm_err when sizes are impossible */
    void (*build)(ParamTable* pt, const Config* c);       /* the parameter table */
    void (*init)(Model* m, uint64_t* rng);                /* initial values, as the reference inits */
    size_t (*acts_size)(const Config* c, int B, int T);   /* elements of the activation buffer */
    void (*forward)(Model* m, const int* idx, int B, int T);  /* idx (B,T) -> m->logits (B,T,V) */
    void (*backward)(Model* m, const int* idx, int B, int T); /* m->dlogits -> m->grads (+=) */
    /* optional recurrent decoding (SSMs): the state's size, and one token -> logits (V) in O(1) */
    size_t (*state_size)(const Config* c);
    void (*step)(Model* m, real* state, int token, real* logits);
} Arch;

struct Model {
    Config cfg;
    const Arch* arch;
    ParamTable pt;
    real *params, *grads, *adam_m, *adam_v; /* four buffers of pt.total elements, one layout */
    int maxB, maxT;                         /* the activation buffers are sized for these */
    real *acts, *dacts;                     /* activations and their gradients, one layout */
    size_t n_acts;
    real *logits, *dlogits, *probs;         /* (B,T,V) */
    real* losses;                           /* (B,T) per-position loss */
    int training;                           /* dropout on/off */
    uint64_t dropout_seed;                  /* set per step: masks are a hash of it */
};

/* views of named tensors: buf is m->params or m->grads; NULL when the tensor is absent */
static real* tensor_ptr(const Model* m, real* buf, const char* name) {
    int i = table_find(&m->pt, name);
    return i < 0 ? NULL : buf + m->pt.t[i].offset;
}
static real* layer_ptr(const Model* m, real* buf, const char* fmt, int l) {
    char name[SM_MAX_NAME];
    snprintf(name, sizeof(name), fmt, l);
    return tensor_ptr(m, buf, name);
}
/* the dropout seed of one site (0 = embedding, 1 + 2l / 2 + 2l = layer l's two branches) */
static uint64_t dropout_site(const Model* m, int site) { return hash64(m->dropout_seed * 1000003ull + site); }
/* the seed of layer l's attention-probability mask */
static int attn_site(int l) { return 1000000 + l; }
static uint64_t attn_dropout_site(const Model* m, int l) { return dropout_site(m, attn_site(l)); }
static float active_dropout(const Model* m) { return m->training ? m->cfg.dropout : 0.0f; }
static float active_attn_dropout(const Model* m) { return m->training ? m->cfg.attn_dropout : 0.0f; }
static float active_embd_dropout(const Model* m) { return m->training ? m->cfg.embd_dropout : 0.0f; }

/* ============================================================================================
 * 5. Architectures
 * ============================================================================================ */

/* --------------------------------------------------------------------------------------------
 * 5.1 Transformer family: `gpt` (GPT-2 block, nanoGPT) and `llama` (Longhorn repo's LLaMA)
 *
 *   x = wte[idx] (+ wpe[t] if pos == learned);  x = dropout(x)                      (B,T,C)
 *   for each layer l:
 *     a   = Norm(x; ln_1)                     gpt: LayerNorm(w,b)  llama: RMSNorm(w), eps 1e-5
 *     qkv = a @ c_attn.W^T (+ b)              (B,T,3C), RoPE on q,k if pos == rope
 *     y   = causal softmax(q k^T / sqrt(hs) + position bias) v                     (B,T,C)
 *     x   = x + dropout(y @ attn.c_proj.W^T (+ b))
 *     m   = Norm(x; ln_2)
 *     gpt:   x = x + dropout(c_proj(GELU_tanh(c_fc(m))))                 hidden 4C
 *     llama: x = x + dropout(c_proj(SiLU(fc_2(m)) * fc_1(m)))            hidden 256*ceil(8C/3/256)
 *   logits = Norm(x; ln_f) @ wte^T                                       (tied head)
 *
 * Parameters (nanoGPT / Longhorn state_dict names; "b" = only with bias=1, gpt only):
 *   transformer.wte.weight (V,C)            transformer.wpe.weight (block_size,C)  [learned]
 *   transformer.h.{l}.ln_1.weight (C)  b    transformer.h.{l}.attn.c_attn.weight (3C,C)  b
 *   transformer.h.{l}.attn.c_proj.weight (C,C)  b                transformer.h.{l}.ln_2.weight  b
 *   gpt:   transformer.h.{l}.mlp.c_fc.weight (4C,C)  b   transformer.h.{l}.mlp.c_proj.weight (C,4C) b
 *   llama: transformer.h.{l}.mlp.fc_1.weight (Hd,C)  transformer.h.{l}.mlp.fc_2.weight (Hd,C)
 *          transformer.h.{l}.mlp.c_proj.weight (C,Hd)
 *   transformer.ln_f.weight (C)  b          (lm_head.weight is wte: stored once)
 * Attention-probability dropout of the references is not implemented (residual and embedding
 * dropout are).
 * -------------------------------------------------------------------------------------------- */

static int is_llama(const Config* c) { return strcmp(c->model, "llama") == 0; }

static void transformer_defaults(Config* c) {
    if (c->pos < 0) c->pos = is_llama(c) ? POS_ROPE : POS_LEARNED;
    if (c->mlp_hidden <= 0)
        c->mlp_hidden = is_llama(c) ? 256 * (((8 * c->n_embd / 3) + 255) / 256) : 4 * c->n_embd;
    if (is_llama(c)) c->bias = 0; // the Longhorn LLaMA has no biases anywhere
}
static int transformer_check(const Config* c) {
    if (c->n_embd % c->n_head) return sm_fail("n_embd (%d) must be a multiple of n_head (%d)", c->n_embd, c->n_head);
    if (c->pos == POS_ROPE && (c->n_embd / c->n_head) % 2)
        return sm_fail("rope needs an even head size, got %d", c->n_embd / c->n_head);
    if (c->pos == POS_HARD_ALIBI && hard_alibi_heads(c) > c->n_head)
        return sm_fail("num_masked_heads (%d) exceeds n_head (%d)", hard_alibi_heads(c), c->n_head);
    return 0;
}

static void transformer_build(ParamTable* pt, const Config* c) {
    int V = c->vocab_size, C = c->n_embd, Hd = c->mlp_hidden, bias = c->bias;
    table_add(pt, "transformer.wte.weight", V, C, 0, 0);
    if (c->pos == POS_LEARNED) table_add(pt, "transformer.wpe.weight", c->block_size, C, 0, 0);
    for (int l = 0; l < c->n_layer; l++) {
        table_addl(pt, "transformer.h.%d.ln_1.weight", l, C, 0, 0, 0);
        if (bias) table_addl(pt, "transformer.h.%d.ln_1.bias", l, C, 0, 0, 0);
        table_addl(pt, "transformer.h.%d.attn.c_attn.weight", l, 3 * C, C, 0, 0);
        if (bias) table_addl(pt, "transformer.h.%d.attn.c_attn.bias", l, 3 * C, 0, 0, 0);
        table_addl(pt, "transformer.h.%d.attn.c_proj.weight", l, C, C, 0, 0);
        if (bias) table_addl(pt, "transformer.h.%d.attn.c_proj.bias", l, C, 0, 0, 0);
        table_addl(pt, "transformer.h.%d.ln_2.weight", l, C, 0, 0, 0);
        if (bias) table_addl(pt, "transformer.h.%d.ln_2.bias", l, C, 0, 0, 0);
        if (is_llama(c)) {
            table_addl(pt, "transformer.h.%d.mlp.fc_1.weight", l, Hd, C, 0, 0);
            table_addl(pt, "transformer.h.%d.mlp.fc_2.weight", l, Hd, C, 0, 0);
        } else {
            table_addl(pt, "transformer.h.%d.mlp.c_fc.weight", l, Hd, C, 0, 0);
            if (bias) table_addl(pt, "transformer.h.%d.mlp.c_fc.bias", l, Hd, 0, 0, 0);
        }
        table_addl(pt, "transformer.h.%d.mlp.c_proj.weight", l, C, Hd, 0, 0);
        if (bias) table_addl(pt, "transformer.h.%d.mlp.c_proj.bias", l, C, 0, 0, 0);
    }
    table_add(pt, "transformer.ln_f.weight", C, 0, 0, 0);
    if (bias) table_add(pt, "transformer.ln_f.bias", C, 0, 0, 0);
}

/* nanoGPT init: Linear/Embedding N(0,0.02), c_proj weights N(0,0.02/sqrt(2L)), norms 1, biases 0 */
static int ends_with(const char* s, const char* suffix) {
    size_t n = strlen(s), k = strlen(suffix);
    return n >= k && strcmp(s + n - k, suffix) == 0;
}
static void transformer_init(Model* m, uint64_t* rng) {
    for (int i = 0; i < m->pt.n; i++) {
        TensorInfo* ti = &m->pt.t[i];
        real* p = m->params + ti->offset;
        double std = ends_with(ti->name, "c_proj.weight") ? 0.02 / sqrt(2.0 * m->cfg.n_layer) : 0.02;
        for (size_t j = 0; j < ti->numel; j++)
            p[j] = ti->ndim >= 2 ? (real)(std * rng_normal(rng)) : ends_with(ti->name, ".bias") ? 0 : 1;
    }
}

/* the layer's parameters (or, with buf = m->grads, their gradients) */
typedef struct {
    real *ln1w, *ln1b, *qkvw, *qkvb, *attprojw, *attprojb, *ln2w, *ln2b;
    real *fcw, *fcb, *fc2w, *mlpprojw, *mlpprojb; /* fcw = c_fc (gpt) or fc_1 (llama); fc2w = fc_2 */
} TransformerLayerParams;
static TransformerLayerParams transformer_layer(const Model* m, real* buf, int l) {
    TransformerLayerParams p;
    p.ln1w = layer_ptr(m, buf, "transformer.h.%d.ln_1.weight", l);
    p.ln1b = layer_ptr(m, buf, "transformer.h.%d.ln_1.bias", l);
    p.qkvw = layer_ptr(m, buf, "transformer.h.%d.attn.c_attn.weight", l);
    p.qkvb = layer_ptr(m, buf, "transformer.h.%d.attn.c_attn.bias", l);
    p.attprojw = layer_ptr(m, buf, "transformer.h.%d.attn.c_proj.weight", l);
    p.attprojb = layer_ptr(m, buf, "transformer.h.%d.attn.c_proj.bias", l);
    p.ln2w = layer_ptr(m, buf, "transformer.h.%d.ln_2.weight", l);
    p.ln2b = layer_ptr(m, buf, "transformer.h.%d.ln_2.bias", l);
    p.fcw = is_llama(&m->cfg) ? layer_ptr(m, buf, "transformer.h.%d.mlp.fc_1.weight", l)
                              : layer_ptr(m, buf, "transformer.h.%d.mlp.c_fc.weight", l);
    p.fcb = layer_ptr(m, buf, "transformer.h.%d.mlp.c_fc.bias", l);
    p.fc2w = layer_ptr(m, buf, "transformer.h.%d.mlp.fc_2.weight", l);
    p.mlpprojw = layer_ptr(m, buf, "transformer.h.%d.mlp.c_proj.weight", l);
    p.mlpprojb = layer_ptr(m, buf, "transformer.h.%d.mlp.c_proj.bias", l);
    return p;
}

/* activations: every per-layer tensor is (L, ...) and layer l is the l-th slice */
typedef struct {
    real* encoded;                   // (B,T,C) embedding (+ positions), after dropout
    real *ln1, *ln1_mean, *ln1_rstd; // (L,B,T,C), (L,B,T), (L,B,T)
    real* qkv;                       // (L,B,T,3C) q and k after RoPE
    real* att;                       // (L,B,H,T,T) attention probabilities (GPU: (L,B,H,T) log-sum-exp)
    real* atty;                      // (L,B,T,C) attention output, before c_proj
    real* attproj;                   // (L,B,T,C) c_proj output after dropout
    real* res1;                      // (L,B,T,C) x + attention branch
    real *ln2, *ln2_mean, *ln2_rstd; // (L,B,T,C), (L,B,T), (L,B,T)
    real* fch;                       // (L,B,T,Hd) c_fc (gpt) or fc_1 (llama) output
    real* fch2;                      // (L,B,T,Hd) fc_2 output (llama only)
    real* fch_act;                   // (L,B,T,Hd) GELU(fch) or SiLU(fch2) * fch
    real* mlpproj;                   // (L,B,T,C) MLP output after dropout
    real* res2;                      // (L,B,T,C) block output
    real *lnf, *lnf_mean, *lnf_rstd; // (B,T,C), (B,T), (B,T)
} TransformerActs;
/* att_row: numbers kept per (b, h, query) by attention (CPU: the T probabilities; GPU: 1, the
 * log-sum-exp). flags (the GPU's): LAYOUT_X_HALF (bf16 mode): ln1, qkv, atty, ln2, fch, fch2 and
 * fch_act, which only feed matmuls, attention and the MLP activation, are stored as bf16 and take
 * half the room; LAYOUT_ONE_BRANCH: attproj and mlpproj (a branch's output before it joins the
 * residual stream, never read by the backward) hold one layer, reused by every layer;
 * LAYOUT_ONE_ACT: fch_act holds one layer (the backward recomputes a layer's activation from fch,
 * fch2 when it needs it: an elementwise pass instead of keeping L layers of (B,T,Hd));
 * LAYOUT_ONE_NORM: ln1 and ln2 hold one layer (recomputed from the residual stream and the kept
 * mean and rstd);
 * LAYOUT_GRADS: the GPU's gradient buffer of one layer. It has no attproj, mlpproj or lnf (their
 * gradients go to ln1's, which is free while they live); with LAYOUT_X_HALF, only qkv and gpt's
 * fch are bf16 (attention's and the GELU epilogue's backward write them so) and gpt has no fch_act
 * (c_proj's backward writes fch's gradient directly). */
enum { LAYOUT_X_HALF = 1, LAYOUT_ONE_BRANCH = 2, LAYOUT_ONE_ACT = 4, LAYOUT_GRADS = 8, LAYOUT_ONE_NORM = 16 };
static void transformer_layout(TransformerActs* a, Arena* ar, const Config* c, int B, int T, int att_row, int flags) {
    size_t L = c->n_layer, BT = (size_t)B * T, C = c->n_embd, Hd = c->mlp_hidden, xd = flags & LAYOUT_X_HALF ? 2 : 1;
    size_t Lb = flags & LAYOUT_ONE_BRANCH ? 1 : L, La = flags & LAYOUT_ONE_ACT ? 1 : L; // layers of branch outputs, of fch_act
    size_t xd_qkv = xd, xd_fch = xd, xd_in = xd, Lf = 1, Ln = flags & LAYOUT_ONE_NORM ? 1 : L; // (lnf), (ln1, ln2)
    if (flags & LAYOUT_GRADS) {
        xd_in = 1, Lb = 0, Lf = 0;
        if (is_llama(c)) xd_fch = 1;
        else if (xd == 2) La = 0;
    }
    a->encoded = carve(ar, BT * C);
    a->ln1 = carve(ar, (Ln * BT * C + xd_in - 1) / xd_in);
    a->ln1_mean = carve(ar, L * BT);
    a->ln1_rstd = carve(ar, L * BT);
    a->qkv = carve(ar, (L * BT * 3 * C + xd_qkv - 1) / xd_qkv);
    a->att = carve(ar, L * B * c->n_head * (size_t)T * att_row);
    a->atty = carve(ar, (L * BT * C + xd_in - 1) / xd_in);
    a->attproj = carve(ar, Lb * BT * C);
    a->res1 = carve(ar, L * BT * C);
    a->ln2 = carve(ar, (Ln * BT * C + xd_in - 1) / xd_in);
    a->ln2_mean = carve(ar, L * BT);
    a->ln2_rstd = carve(ar, L * BT);
    a->fch = carve(ar, (L * BT * Hd + xd_fch - 1) / xd_fch);
    a->fch2 = carve(ar, is_llama(c) ? (L * BT * Hd + xd_fch - 1) / xd_fch : 0);
    a->fch_act = carve(ar, (La * BT * Hd + xd_in - 1) / xd_in);
    a->mlpproj = carve(ar, Lb * BT * C);
    a->res2 = carve(ar, L * BT * C);
    a->lnf = carve(ar, Lf * BT * C);
    a->lnf_mean = carve(ar, BT);
    a->lnf_rstd = carve(ar, BT);
}
static size_t transformer_acts_size(const Config* c, int B, int T) {
    TransformerActs a;
    Arena ar = {NULL, 0};
    transformer_layout(&a, &ar, c, B, T, T, 0);
    return ar.used;
}

/* the one norm of the block: LayerNorm for gpt, RMSNorm for llama */
static void tnorm_forward(const Config* c, real* out, real* mean, real* rstd, const real* x, const real* w,
                          const real* b, int N) {
    if (is_llama(c)) rmsnorm_forward(out, rstd, x, w, N, c->n_embd, 1e-5);
    else layernorm_forward(out, mean, rstd, x, w, b, N, c->n_embd);
}
static void tnorm_backward(const Config* c, real* dx, real* dw, real* db, const real* dout, const real* x,
                           const real* w, const real* mean, const real* rstd, int N) {
    if (is_llama(c)) rmsnorm_backward(dx, dw, dout, x, w, rstd, N, c->n_embd);
    else layernorm_backward(dx, dw, db, dout, x, w, mean, rstd, N, c->n_embd);
}

static void transformer_forward(Model* m, const int* idx, int B, int T) {
    const Config* c = &m->cfg;
    int L = c->n_layer, C = c->n_embd, H = c->n_head, Hd = c->mlp_hidden, V = c->vocab_size, BT = B * T;
    float p = active_dropout(m);
    TransformerActs a;
    Arena ar = {m->acts, 0};
    transformer_layout(&a, &ar, c, B, T, T, 0);

    real* wte = tensor_ptr(m, m->params, "transformer.wte.weight");
    encoder_forward(a.encoded, idx, wte, tensor_ptr(m, m->params, "transformer.wpe.weight"), B, T, C);
    dropout_forward(a.encoded, (size_t)BT * C, active_embd_dropout(m), dropout_site(m, 0));
    for (int l = 0; l < L; l++) {
        TransformerLayerParams w = transformer_layer(m, m->params, l);
        real* x = l == 0 ? a.encoded : a.res2 + (size_t)(l - 1) * BT * C; // (B,T,C) layer input
        real *ln1 = a.ln1 + (size_t)l * BT * C, *qkv = a.qkv + (size_t)l * BT * 3 * C;
        real *att = a.att + (size_t)l * B * H * T * T, *atty = a.atty + (size_t)l * BT * C;
        real *attproj = a.attproj + (size_t)l * BT * C, *res1 = a.res1 + (size_t)l * BT * C;
        real *ln2 = a.ln2 + (size_t)l * BT * C, *fch = a.fch + (size_t)l * BT * Hd;
        real *fch_act = a.fch_act + (size_t)l * BT * Hd, *mlpproj = a.mlpproj + (size_t)l * BT * C;
        real* res2 = a.res2 + (size_t)l * BT * C;
        // attention branch
        tnorm_forward(c, ln1, a.ln1_mean + l * BT, a.ln1_rstd + l * BT, x, w.ln1w, w.ln1b, BT);
        linear_forward(qkv, ln1, w.qkvw, w.qkvb, BT, C, 3 * C);
        if (c->pos == POS_ROPE) rope_forward(qkv, B, T, C, H);
        attention_forward(atty, att, qkv, B, T, C, H, c->pos, hard_alibi_heads(c), active_attn_dropout(m), attn_dropout_site(m, l));
        linear_forward(attproj, atty, w.attprojw, w.attprojb, BT, C, C);
        dropout_forward(attproj, (size_t)BT * C, p, dropout_site(m, 1 + 2 * l));
        residual_forward(res1, x, attproj, (size_t)BT * C);
        // MLP branch
        tnorm_forward(c, ln2, a.ln2_mean + l * BT, a.ln2_rstd + l * BT, res1, w.ln2w, w.ln2b, BT);
        if (is_llama(c)) {
            real* fch2 = a.fch2 + (size_t)l * BT * Hd;
            linear_forward(fch, ln2, w.fcw, w.fcb, BT, C, Hd);
            linear_forward(fch2, ln2, w.fc2w, NULL, BT, C, Hd);
            swiglu_forward(fch_act, fch2, fch, (size_t)BT * Hd); // SiLU on fc_2, times fc_1
        } else {
            linear_gelu_forward(fch, fch_act, ln2, w.fcw, w.fcb, BT, C, Hd); // fch_act = GELU(fch)
        }
        linear_forward(mlpproj, fch_act, w.mlpprojw, w.mlpprojb, BT, Hd, C);
        dropout_forward(mlpproj, (size_t)BT * C, p, dropout_site(m, 2 + 2 * l));
        residual_forward(res2, res1, mlpproj, (size_t)BT * C);
    }
    real* xL = L > 0 ? a.res2 + (size_t)(L - 1) * BT * C : a.encoded;
    tnorm_forward(c, a.lnf, a.lnf_mean, a.lnf_rstd, xL, tensor_ptr(m, m->params, "transformer.ln_f.weight"),
                  tensor_ptr(m, m->params, "transformer.ln_f.bias"), BT);
    linear_forward(m->logits, a.lnf, wte, NULL, BT, C, V); // tied head: logits = lnf @ wte^T
}

static void transformer_backward(Model* m, const int* idx, int B, int T) {
    const Config* c = &m->cfg;
    int L = c->n_layer, C = c->n_embd, H = c->n_head, Hd = c->mlp_hidden, V = c->vocab_size, BT = B * T;
    float p = active_dropout(m);
    TransformerActs a, d; // activations and their gradients: same layout in two buffers
    Arena ar = {m->acts, 0}, dr = {m->dacts, 0};
    transformer_layout(&a, &ar, c, B, T, T, 0);
    transformer_layout(&d, &dr, c, B, T, T, 0);

    real *wte = tensor_ptr(m, m->params, "transformer.wte.weight"), *dwte = tensor_ptr(m, m->grads, "transformer.wte.weight");
    real* xL = L > 0 ? a.res2 + (size_t)(L - 1) * BT * C : a.encoded;
    real* dxL = L > 0 ? d.res2 + (size_t)(L - 1) * BT * C : d.encoded;
    // Every activation gradient is SET by its first contribution (LIN_SET, residual_backward_set,
    // attention_backward_ex(..., 1)), later ones add to it: no buffer needs zeroing but dxL.
    linear_backward_ex(d.lnf, LIN_SET, NULL, dwte, NULL, m->dlogits, a.lnf, wte, BT, C, V);
    zero_reals(dxL, (size_t)BT * C);
    tnorm_backward(c, dxL, tensor_ptr(m, m->grads, "transformer.ln_f.weight"), tensor_ptr(m, m->grads, "transformer.ln_f.bias"),
                   d.lnf, xL, tensor_ptr(m, m->params, "transformer.ln_f.weight"), a.lnf_mean, a.lnf_rstd, BT);
    for (int l = L - 1; l >= 0; l--) {
        TransformerLayerParams w = transformer_layer(m, m->params, l), g = transformer_layer(m, m->grads, l);
        size_t oC = (size_t)l * BT * C, oH = (size_t)l * BT * Hd, o3 = (size_t)l * BT * 3 * C;
        real* x = l == 0 ? a.encoded : a.res2 + (size_t)(l - 1) * BT * C;
        real* dx = l == 0 ? d.encoded : d.res2 + (size_t)(l - 1) * BT * C;
        // MLP branch, in reverse
        residual_backward_set(d.res1 + oC, d.mlpproj + oC, d.res2 + oC, (size_t)BT * C);
        dropout_backward(d.mlpproj + oC, (size_t)BT * C, p, dropout_site(m, 2 + 2 * l));
        if (is_llama(c)) {
            linear_backward_ex(d.fch_act + oH, LIN_SET, NULL, g.mlpprojw, g.mlpprojb, d.mlpproj + oC, a.fch_act + oH,
                               w.mlpprojw, BT, Hd, C);
            zero_reals(d.fch + oH, (size_t)BT * Hd);
            zero_reals(d.fch2 + oH, (size_t)BT * Hd);
            swiglu_backward(d.fch2 + oH, d.fch + oH, d.fch_act + oH, a.fch2 + oH, a.fch + oH, (size_t)BT * Hd);
            linear_backward_ex(d.ln2 + oC, LIN_SET, NULL, g.fc2w, NULL, d.fch2 + oH, a.ln2 + oC, w.fc2w, BT, C, Hd);
            linear_backward(d.ln2 + oC, g.fcw, g.fcb, d.fch + oH, a.ln2 + oC, w.fcw, BT, C, Hd);
        } else { // c_proj's backward gives d(fch) directly: GELU's backward in its epilogue
            linear_backward_ex(d.fch + oH, LIN_SET_GELU_GRAD, a.fch + oH, g.mlpprojw, g.mlpprojb, d.mlpproj + oC,
                               a.fch_act + oH, w.mlpprojw, BT, Hd, C);
            linear_backward_ex(d.ln2 + oC, LIN_SET, NULL, g.fcw, g.fcb, d.fch + oH, a.ln2 + oC, w.fcw, BT, C, Hd);
        }
        tnorm_backward(c, d.res1 + oC, g.ln2w, g.ln2b, d.ln2 + oC, a.res1 + oC, w.ln2w, a.ln2_mean + l * BT,
                       a.ln2_rstd + l * BT, BT);
        // attention branch, in reverse
        residual_backward_set(dx, d.attproj + oC, d.res1 + oC, (size_t)BT * C);
        dropout_backward(d.attproj + oC, (size_t)BT * C, p, dropout_site(m, 1 + 2 * l));
        linear_backward_ex(d.atty + oC, LIN_SET, NULL, g.attprojw, g.attprojb, d.attproj + oC, a.atty + oC, w.attprojw, BT, C, C);
        attention_backward_ex(d.qkv + o3, d.atty + oC, a.qkv + o3, a.att + (size_t)l * B * H * T * T, B, T, C, H,
                              active_attn_dropout(m), attn_dropout_site(m, l), 1);
        if (c->pos == POS_ROPE) rope_backward(d.qkv + o3, B, T, C, H);
        linear_backward_ex(d.ln1 + oC, LIN_SET, NULL, g.qkvw, g.qkvb, d.qkv + o3, a.ln1 + oC, w.qkvw, BT, C, 3 * C);
        tnorm_backward(c, dx, g.ln1w, g.ln1b, d.ln1 + oC, x, w.ln1w, a.ln1_mean + l * BT, a.ln1_rstd + l * BT, BT);
    }
    dropout_backward(d.encoded, (size_t)BT * C, active_embd_dropout(m), dropout_site(m, 0));
    encoder_backward(dwte, tensor_ptr(m, m->grads, "transformer.wpe.weight"), d.encoded, idx, B, T, C);
}

static const Arch ARCH_GPT = {"gpt", "GPT-2 block (LayerNorm, GELU MLP, learned positions, tied head)",
                              transformer_defaults, transformer_check, transformer_build, transformer_init,
                              transformer_acts_size, transformer_forward, transformer_backward, NULL, NULL};
static const Arch ARCH_LLAMA = {"llama", "LLaMA block of the Longhorn repo (RMSNorm, RoPE, SwiGLU, no biases)",
                                transformer_defaults, transformer_check, transformer_build, transformer_init,
                                transformer_acts_size, transformer_forward, transformer_backward, NULL, NULL};

/* --------------------------------------------------------------------------------------------
 * 5.2 State-space models: `mamba` (Gu & Dao) and `longhorn` (Liu et al.), in the wrapper of the
 * Longhorn repository / mamba_ssm's MambaLMHeadModel (ssm.md §1-3). E = expand C, N = d_state,
 * R = dt_rank, W = d_conv.
 *
 *   x = embedding[idx]                                   (B,T,C)  no positions, no dropout
 *   for each block l:  x = x + mixer(RMSNorm(x; norm))   (the "add then norm" of the reference)
 *   logits = RMSNorm(x; norm_f) @ embedding^T            (tied)
 * mixer(u):
 *   [xs, z] = u @ in_proj^T                             (B,T,E) each
 *   xc      = SiLU(conv1d(xs))                          causal, depthwise, width W
 *   [dt_low, B_t, C_t] = xc @ x_proj^T                  (R, N, N)   longhorn: [dt_low, k, q]
 *   mamba:    dt = softplus(dt_low @ dt_proj^T + b)     a = exp(dt A), A = -exp(A_log);  b = dt B_t xc
 *   longhorn: beta = sigmoid(dt_low @ dt_head^T + b)    dt = beta / (1 + beta |k|^2)
 *                                                      a = 1 - dt k^2;                 b = dt xc k
 *   h[t,e,n] = a h[t-1,e,n] + b      y[t,e] = sum_n h[t,e,n] C_t[n] + D[e] xc[t,e]   (q for longhorn)
 *   out = (y * SiLU(z)) @ out_proj^T
 * The two differ only in how a and b are formed (and differentiated): one scan serves both.
 * Backward of the scan runs t = T-1 .. 0 carrying dh: dh[t-1] = a[t] dh[t]; da = dh h[t-1];
 * db = dh (ssm.md §2). Parameters (per block, under transformer.backbone.layers.{l}.):
 *   norm.weight (C); mixer.in_proj.weight (2E,C), conv1d.weight (E,1,W), conv1d.bias (E),
 *   x_proj.weight (R+2N,E), mamba: dt_proj.weight (E,R), dt_proj.bias (E), A_log (E,N);
 *   longhorn: dt_head.weight (E,R), dt_head.bias (E); out_proj.weight (C,E), D (E)
 * plus transformer.backbone.embedding.weight (V,C) and transformer.backbone.norm_f.weight (C).
 * -------------------------------------------------------------------------------------------- */
static int is_longhorn(const Config* c) { return strcmp(c->model, "longhorn") == 0; }
static int is_ssm_name(const char* model) { return !strcmp(model, "mamba") || !strcmp(model, "longhorn"); }
static void ssm_defaults(Config* c) {
    if (c->d_state <= 0) c->d_state = 16;
    if (c->expand <= 0) c->expand = 2;
    if (c->d_conv <= 0) c->d_conv = 4;
    if (c->dt_rank <= 0) c->dt_rank = (c->n_embd + 15) / 16;
    c->pos = POS_NOPE; // no position embedding: the recurrence knows the order
    c->bias = 0;
    c->mlp_hidden = 1; // no MLP (unused)
}
static int ssm_check(const Config* c) {
    if (c->d_state > 256) return sm_fail("d_state %d is larger than 256", c->d_state);
    if (c->d_conv > 64) return sm_fail("d_conv %d is larger than 64", c->d_conv);
    if (c->expand > 16) return sm_fail("expand %d is larger than 16", c->expand);
    return 0;
}
#define SSM_L "transformer.backbone.layers.%d."
static void ssm_build(ParamTable* pt, const Config* c) {
    int V = c->vocab_size, C = c->n_embd, E = c->expand * C, N = c->d_state, R = c->dt_rank, W = c->d_conv;
    table_add(pt, "transformer.backbone.embedding.weight", V, C, 0, 0);
    for (int l = 0; l < c->n_layer; l++) {
        table_addl(pt, SSM_L "norm.weight", l, C, 0, 0, 0);
        table_addl(pt, SSM_L "mixer.in_proj.weight", l, 2 * E, C, 0, 0);
        table_addl(pt, SSM_L "mixer.conv1d.weight", l, E, 1, W, 0);
        table_addl(pt, SSM_L "mixer.conv1d.bias", l, E, 0, 0, 0);
        table_addl(pt, SSM_L "mixer.x_proj.weight", l, R + 2 * N, E, 0, 0);
        if (is_longhorn(c)) {
            table_addl(pt, SSM_L "mixer.dt_head.weight", l, E, R, 0, 0);
            table_addl(pt, SSM_L "mixer.dt_head.bias", l, E, 0, 0, 0);
        } else {
            table_addl(pt, SSM_L "mixer.dt_proj.weight", l, E, R, 0, 0);
            table_addl(pt, SSM_L "mixer.dt_proj.bias", l, E, 0, 0, 0);
            int i = table_addl(pt, SSM_L "mixer.A_log", l, E, N, 0, 0);
            pt->t[i].decay = 0; // 2-D but marked _no_weight_decay in mamba_ssm
        }
        table_addl(pt, SSM_L "mixer.out_proj.weight", l, C, E, 0, 0);
        table_addl(pt, SSM_L "mixer.D", l, E, 0, 0, 0);
    }
    table_add(pt, "transformer.backbone.norm_f.weight", C, 0, 0, 0);
}
/* mamba_ssm's init: PyTorch's default U(+-1/sqrt(fan_in)) for Linear and Conv1d, out_proj scaled
 * by 1/sqrt(n_layer), dt_proj.weight U(+-R^-0.5), dt_proj.bias = softplus^-1(dt) with dt log-uniform
 * in [1e-3, 1e-1], A_log = log(1..N), D = 1, norms 1, embedding N(0, 0.02); Longhorn's dt_head.bias 0 */
static void ssm_init(Model* m, uint64_t* rng) {
    const Config* c = &m->cfg;
    for (int i = 0; i < m->pt.n; i++) {
        TensorInfo* ti = &m->pt.t[i];
        real* p = m->params + ti->offset;
        int fan_in = ti->ndim >= 2 ? ti->shape[ti->ndim - 1] * (ti->ndim == 3 ? ti->shape[1] : 1) : 1;
        double bound = 1 / sqrt((double)fan_in);
        for (size_t j = 0; j < ti->numel; j++) {
            double u = 2 * rng_uniform(rng) - 1, v;
            if (ends_with(ti->name, "embedding.weight")) v = 0.02 * rng_normal(rng);
            else if (ends_with(ti->name, "norm.weight") || ends_with(ti->name, "norm_f.weight") || ends_with(ti->name, ".D")) v = 1;
            else if (ends_with(ti->name, "A_log")) v = log((double)(j % ti->shape[1] + 1));
            else if (ends_with(ti->name, "dt_head.bias")) v = 0;
            else if (ends_with(ti->name, "dt_proj.bias")) {
                double dt = exp(log(1e-3) + rng_uniform(rng) * (log(1e-1) - log(1e-3)));
                dt = dt < 1e-4 ? 1e-4 : dt;
                v = dt + log(-expm1(-dt)); // softplus^-1(dt)
            } else if (ends_with(ti->name, "conv1d.bias")) v = u / sqrt((double)c->d_conv);
            else if (ends_with(ti->name, "out_proj.weight")) v = u * bound / sqrt((double)c->n_layer);
            else v = u * bound; // in_proj, conv1d.weight (fan_in W), x_proj, dt_proj / dt_head weights
            p[j] = (real)v;
        }
    }
}

/* activations of all blocks (each (L, ...) but x0 and the final norm) */
typedef struct {
    real *x0, *u, *rstd, *xz, *xs, *z, *xconv, *xc, *xdbl, *dtlow, *dtr, *dt, *ksq, *h, *y, *g, *mix, *res;
    real *lnf, *lnf_rstd;
} SsmActs;
static void ssm_layout(SsmActs* a, Arena* ar, const Config* c, int B, int T) {
    size_t L = c->n_layer, BT = (size_t)B * T, C = c->n_embd, E = (size_t)c->expand * C, N = c->d_state, R = c->dt_rank;
    a->x0 = carve(ar, BT * C);
    a->u = carve(ar, L * BT * C);
    a->rstd = carve(ar, L * BT);
    a->xz = carve(ar, L * BT * 2 * E);
    a->xs = carve(ar, L * BT * E);
    a->z = carve(ar, L * BT * E);
    a->xconv = carve(ar, L * BT * E);
    a->xc = carve(ar, L * BT * E);
    a->xdbl = carve(ar, L * BT * (R + 2 * N));
    a->dtlow = carve(ar, L * BT * R);
    a->dtr = carve(ar, L * BT * E);
    a->dt = carve(ar, L * BT * E);
    a->ksq = carve(ar, L * BT);
    a->h = carve(ar, L * BT * E * N); // every state: the reference backward; the GPU recomputes them
    a->y = carve(ar, L * BT * E);
    a->g = carve(ar, L * BT * E);
    a->mix = carve(ar, L * BT * C);
    a->res = carve(ar, L * BT * C);
    a->lnf = carve(ar, BT * C);
    a->lnf_rstd = carve(ar, BT);
}
static size_t ssm_acts_size(const Config* c, int B, int T) {
    SsmActs a;
    Arena ar = {NULL, 0};
    ssm_layout(&a, &ar, c, B, T);
    return ar.used;
}
typedef struct {
    real *norm, *in_proj, *conv_w, *conv_b, *x_proj, *dt_w, *dt_b, *A_log, *out_proj, *D;
} SsmLayerParams;
static SsmLayerParams ssm_layer(const Model* m, real* buf, int l) {
    SsmLayerParams p;
    int lh = is_longhorn(&m->cfg);
    p.norm = layer_ptr(m, buf, SSM_L "norm.weight", l);
    p.in_proj = layer_ptr(m, buf, SSM_L "mixer.in_proj.weight", l);
    p.conv_w = layer_ptr(m, buf, SSM_L "mixer.conv1d.weight", l);
    p.conv_b = layer_ptr(m, buf, SSM_L "mixer.conv1d.bias", l);
    p.x_proj = layer_ptr(m, buf, SSM_L "mixer.x_proj.weight", l);
    p.dt_w = layer_ptr(m, buf, lh ? SSM_L "mixer.dt_head.weight" : SSM_L "mixer.dt_proj.weight", l);
    p.dt_b = layer_ptr(m, buf, lh ? SSM_L "mixer.dt_head.bias" : SSM_L "mixer.dt_proj.bias", l);
    p.A_log = lh ? NULL : layer_ptr(m, buf, SSM_L "mixer.A_log", l);
    p.out_proj = layer_ptr(m, buf, SSM_L "mixer.out_proj.weight", l);
    p.D = layer_ptr(m, buf, SSM_L "mixer.D", l);
    return p;
}
static inline real softplusr(real v) { return v > 20 ? v : log1p(exp(v)); }

/* the scan's step coefficients at (t, e, n): h = a h_prev + b (the one place the models differ) */
static inline void ssm_coef(int longhorn, real dt, real A, real Bk, real x, real* a, real* b) {
    if (longhorn) { *a = 1 - dt * Bk * Bk; *b = dt * x * Bk; }  // Bk = k[t,n]
    else { *a = exp(dt * A); *b = dt * Bk * x; }                 // Bk = B_t[n]; A = -exp(A_log)
}
/* mamba's A = -exp(A_log) (E,N) in a scratch buffer, once per call rather than once per step;
 * NULL for longhorn */
static real* ssm_A(const real* A_log, int E, int N) {
    if (!A_log) return NULL;
    real* A = scratch_get(SCRATCH_SSM_A, (size_t)E * N);
    for (size_t j = 0; j < (size_t)E * N; j++) A[j] = -exp(A_log[j]);
    return A;
}

/* the step size dt (BT,E) from v, the dt projection's output (bias included):
 *   mamba: dt = softplus(v);  longhorn: beta = sigmoid(v), dt = beta / (1 + beta |k|^2)
 * ksq (BT) keeps |k|^2 (k = the N columns after the first R of xdbl) for the backward */
static void ssm_dt_forward(real* dt, real* ksq, const real* v, const real* xdbl, int longhorn, int BT, int E, int N, int R) {
    int XD = R + 2 * N;
#pragma omp parallel for schedule(static) if((size_t)BT * E > SM_OMP_MIN)
    for (int i = 0; i < BT; i++) {
        const real* k = xdbl + (size_t)i * XD + R;
        real s = 0;
        for (int n = 0; n < N; n++) s += k[n] * k[n];
        ksq[i] = s;
        for (int e = 0; e < E; e++) {
            real vi = v[(size_t)i * E + e], beta = sigmoidr(vi);
            dt[(size_t)i * E + e] = longhorn ? beta / (1 + beta * s) : softplusr(vi);
        }
    }
}
/* ddt -> dv (+=) and, for longhorn, the path through |k|^2 into xdbl's k columns (+= 2 k d|k|^2) */
static void ssm_dt_backward(real* dv, real* dxdbl, const real* ddt, const real* v, const real* ksq, const real* xdbl, int longhorn,
                            int BT, int E, int N, int R) {
    int XD = R + 2 * N;
#pragma omp parallel for schedule(static) if((size_t)BT * E > SM_OMP_MIN)
    for (int i = 0; i < BT; i++) {
        real dks = 0;
        for (int e = 0; e < E; e++) {
            real beta = sigmoidr(v[(size_t)i * E + e]), gd = ddt[(size_t)i * E + e];
            if (longhorn) { // dt = beta / (1 + beta s)
                real den = 1 + beta * ksq[i];
                dv[(size_t)i * E + e] += gd / (den * den) * beta * (1 - beta);
                dks += -gd * beta * beta / (den * den);
            } else { // dt = softplus(v): softplus' = sigmoid
                dv[(size_t)i * E + e] += gd * beta;
            }
        }
        if (longhorn)
            for (int n = 0; n < N; n++) dxdbl[(size_t)i * XD + R + n] += 2 * xdbl[(size_t)i * XD + R + n] * dks;
    }
}

/* one block's scan: h, y from xc, dt and xdbl (B,T,...) */
static void ssm_scan_forward(real* h, real* y, const real* xc, const real* dt, const real* xdbl, const real* A_log, const real* D,
                             int longhorn, int B, int T, int E, int N, int R) {
    int XD = R + 2 * N;
    real* A = ssm_A(A_log, E, N);
#pragma omp parallel for collapse(2) schedule(static) if((size_t)B * T * E * N > SM_OMP_MIN)
    for (int b = 0; b < B; b++)
        for (int e = 0; e < E; e++) { // one independent recurrence per (b, e), over t
            for (int t = 0; t < T; t++) {
                size_t i = (size_t)b * T + t;
                const real *Bk = xdbl + i * XD + R, *Cq = Bk + N;
                real *hp = t > 0 ? h + ((i - 1) * E + e) * N : NULL, *ht = h + (i * E + e) * N, acc = 0;
                for (int n = 0; n < N; n++) {
                    real a, bb;
                    ssm_coef(longhorn, dt[i * E + e], A ? A[e * N + n] : 0, Bk[n], xc[i * E + e], &a, &bb);
                    ht[n] = (hp ? a * hp[n] : 0) + bb;
                    acc += ht[n] * Cq[n];
                }
                y[i * E + e] = acc + D[e] * xc[i * E + e];
            }
        }
}
/* The same scan in chunks of K steps, the form the GPU kernel uses: every chunk first scans from
 * h = 0 while it accumulates the product P of its a's, then the chunk-start states are carried
 * across chunks (h_start[k+1] = P_k h_start[k] + h_local_end[k]) and each step adds
 * (prod of a up to t) * h_start. Equal to ssm_scan_forward up to rounding (test_gradcheck checks
 * it); the chunks are independent, so a GPU runs them in parallel. y only (no stored states). */
static void ssm_scan_chunked_forward(real* y, const real* xc, const real* dt, const real* xdbl, const real* A_log, const real* D,
                                     int longhorn, int B, int T, int E, int N, int R, int K) {
    int XD = R + 2 * N, n_chunks = (T + K - 1) / K;
    real* buf = (real*)mallocCheck((size_t)n_chunks * N * 3 * sizeof(real)); // per chunk: local end h, P, start h
    real* A = ssm_A(A_log, E, N);
    for (int b = 0; b < B; b++)
        for (int e = 0; e < E; e++) {
            real *hend = buf, *P = buf + (size_t)n_chunks * N, *hstart = P + (size_t)n_chunks * N;
            for (int k = 0; k < n_chunks; k++) // 1. each chunk alone, from h = 0
                for (int n = 0; n < N; n++) {
                    real h = 0, p = 1;
                    for (int t = k * K; t < T && t < (k + 1) * K; t++) {
                        size_t i = (size_t)b * T + t;
                        real a, bb;
                        ssm_coef(longhorn, dt[i * E + e], A ? A[e * N + n] : 0, xdbl[i * XD + R + n], xc[i * E + e], &a, &bb);
                        h = a * h + bb;
                        p *= a;
                    }
                    hend[k * N + n] = h;
                    P[k * N + n] = p;
                }
            for (int n = 0; n < N; n++) { // 2. carry the chunk-start states
                hstart[n] = 0;
                for (int k = 1; k < n_chunks; k++) hstart[k * N + n] = P[(k - 1) * N + n] * hstart[(k - 1) * N + n] + hend[(k - 1) * N + n];
            }
            for (int k = 0; k < n_chunks; k++) { // 3. outputs: local scan plus the carried start state
                real h[256], p[256];
                for (int n = 0; n < N; n++) { h[n] = 0; p[n] = 1; }
                for (int t = k * K; t < T && t < (k + 1) * K; t++) {
                    size_t i = (size_t)b * T + t;
                    real acc = 0;
                    for (int n = 0; n < N; n++) {
                        real a, bb;
                        ssm_coef(longhorn, dt[i * E + e], A ? A[e * N + n] : 0, xdbl[i * XD + R + n], xc[i * E + e], &a, &bb);
                        h[n] = a * h[n] + bb;
                        p[n] *= a;
                        acc += (h[n] + p[n] * hstart[k * N + n]) * xdbl[i * XD + R + N + n];
                    }
                    y[i * E + e] = acc + D[e] * xc[i * E + e];
                }
            }
        }
    free(buf);
}

/* backward of the scan: dy -> dxc, ddt, dxdbl (the B/k and C/q columns), dA_log, dD (+=).
 * Parallel over the batch rows, which own their dxc, ddt and dxdbl; the per-channel sums (dA_log,
 * dD) go to one partial row per batch row, added up in a fixed order at the end. */
static void ssm_scan_backward(real* dxc, real* ddt, real* dxdbl, real* dA_log, real* dD, const real* dy, const real* h,
                              const real* xc, const real* dt, const real* xdbl, const real* A_log, const real* D, int longhorn,
                              int B, int T, int E, int N, int R) {
    int XD = R + 2 * N;
    size_t PW = (size_t)E * N + E; // a partial row: dA_log (E,N), dD (E)
    real* partial = scratch_get(SCRATCH_SSM, (size_t)B * PW);
    memset(partial, 0, (size_t)B * PW * sizeof(real));
    real* A = ssm_A(A_log, E, N);
#pragma omp parallel for schedule(static) if((size_t)B * T * E * N > SM_OMP_MIN)
    for (int b = 0; b < B; b++) {
        real dh[256], *pA = partial + (size_t)b * PW, *pD = pA + (size_t)E * N;
        for (int e = 0; e < E; e++) {
            for (int n = 0; n < N; n++) dh[n] = 0;
            for (int t = T - 1; t >= 0; t--) {
                size_t i = (size_t)b * T + t;
                const real *Bk = xdbl + i * XD + R, *Cq = Bk + N;
                const real *ht = h + (i * E + e) * N, *hp = t > 0 ? h + ((i - 1) * E + e) * N : NULL;
                real *dBk = dxdbl + i * XD + R, *dCq = dBk + N;
                real g = dy[i * E + e], x = xc[i * E + e], d = dt[i * E + e], dd = 0;
                pD[e] += g * x;
                dxc[i * E + e] += g * D[e];
                for (int n = 0; n < N; n++) {
                    dCq[n] += g * ht[n];
                    dh[n] += g * Cq[n]; // dh is now dL/dh[t]
                    real a, bb, hprev = hp ? hp[n] : 0, da = dh[n] * hprev;
                    ssm_coef(longhorn, d, A ? A[e * N + n] : 0, Bk[n], x, &a, &bb);
                    if (longhorn) { // a = 1 - d k^2, b = d x k
                        dd += -da * Bk[n] * Bk[n] + dh[n] * x * Bk[n];
                        dBk[n] += -da * 2 * d * Bk[n] + dh[n] * d * x;
                        dxc[i * E + e] += dh[n] * d * Bk[n];
                    } else { // a = exp(d A), A = -exp(A_log); b = d B x
                        real An = A[e * N + n];
                        dd += da * a * An + dh[n] * Bk[n] * x;
                        pA[e * N + n] += da * a * d * An; // dA/dA_log = A
                        dBk[n] += dh[n] * d * x;
                        dxc[i * E + e] += dh[n] * d * Bk[n];
                    }
                    dh[n] *= a; // on to dL/dh[t-1]
                }
                ddt[i * E + e] += dd;
            }
        }
    }
    for (int b = 0; b < B; b++) {
        const real *pA = partial + (size_t)b * PW, *pD = pA + (size_t)E * N;
        if (dA_log) for (size_t j = 0; j < (size_t)E * N; j++) dA_log[j] += pA[j];
        for (int e = 0; e < E; e++) dD[e] += pD[e];
    }
}

static void ssm_forward(Model* m, const int* idx, int B, int T) {
    const Config* c = &m->cfg;
    int L = c->n_layer, C = c->n_embd, E = c->expand * C, N = c->d_state, R = c->dt_rank, W = c->d_conv, V = c->vocab_size;
    int BT = B * T, XD = R + 2 * N, lh = is_longhorn(c);
    SsmActs a;
    Arena ar = {m->acts, 0};
    ssm_layout(&a, &ar, c, B, T);
    real* wte = tensor_ptr(m, m->params, "transformer.backbone.embedding.weight");
    encoder_forward(a.x0, idx, wte, NULL, B, T, C);
    for (int l = 0; l < L; l++) {
        SsmLayerParams w = ssm_layer(m, m->params, l);
        size_t oC = (size_t)l * BT * C, oE = (size_t)l * BT * E;
        real* x = l == 0 ? a.x0 : a.res + oC - (size_t)BT * C; // (B,T,C) block input
        real *u = a.u + oC, *xz = a.xz + 2 * oE, *xs = a.xs + oE, *z = a.z + oE, *xconv = a.xconv + oE, *xc = a.xc + oE;
        real *xdbl = a.xdbl + (size_t)l * BT * XD, *dtlow = a.dtlow + (size_t)l * BT * R, *dtr = a.dtr + oE, *dt = a.dt + oE;
        real *ksq = a.ksq + (size_t)l * BT, *h = a.h + oE * N, *y = a.y + oE, *g = a.g + oE;
        rmsnorm_forward(u, a.rstd + (size_t)l * BT, x, w.norm, BT, C, 1e-5);
        linear_forward(xz, u, w.in_proj, NULL, BT, C, 2 * E);
        for (int i = 0; i < BT; i++) { // split [xs, z]
            memcpy(xs + (size_t)i * E, xz + (size_t)i * 2 * E, E * sizeof(real));
            memcpy(z + (size_t)i * E, xz + (size_t)i * 2 * E + E, E * sizeof(real));
        }
        conv1d_forward(xconv, xs, w.conv_w, w.conv_b, B, T, E, W);
        silu_forward(xc, xconv, (size_t)BT * E);
        linear_forward(xdbl, xc, w.x_proj, NULL, BT, E, XD);
        for (int i = 0; i < BT; i++) memcpy(dtlow + (size_t)i * R, xdbl + (size_t)i * XD, R * sizeof(real));
        linear_forward(dtr, dtlow, w.dt_w, w.dt_b, BT, R, E);
        ssm_dt_forward(dt, ksq, dtr, xdbl, lh, BT, E, N, R);
        ssm_scan_forward(h, y, xc, dt, xdbl, w.A_log, w.D, lh, B, T, E, N, R);
        for (size_t i = 0; i < (size_t)BT * E; i++) g[i] = y[i] * z[i] * sigmoidr(z[i]); // y * SiLU(z)
        linear_forward(a.mix + oC, g, w.out_proj, NULL, BT, E, C);
        residual_forward(a.res + oC, x, a.mix + oC, (size_t)BT * C);
    }
    real* xL = L > 0 ? a.res + (size_t)(L - 1) * BT * C : a.x0;
    rmsnorm_forward(a.lnf, a.lnf_rstd, xL, tensor_ptr(m, m->params, "transformer.backbone.norm_f.weight"), BT, C, 1e-5);
    linear_forward(m->logits, a.lnf, wte, NULL, BT, C, V); // tied head
}

static void ssm_backward(Model* m, const int* idx, int B, int T) {
    const Config* c = &m->cfg;
    int L = c->n_layer, C = c->n_embd, E = c->expand * C, N = c->d_state, R = c->dt_rank, W = c->d_conv, V = c->vocab_size;
    int BT = B * T, XD = R + 2 * N, lh = is_longhorn(c);
    SsmActs a, d;
    Arena ar = {m->acts, 0}, dr = {m->dacts, 0};
    ssm_layout(&a, &ar, c, B, T);
    ssm_layout(&d, &dr, c, B, T);
    zero_reals(m->dacts, m->n_acts); // every op below accumulates into the activation gradients
    real *wte = tensor_ptr(m, m->params, "transformer.backbone.embedding.weight");
    real *dwte = tensor_ptr(m, m->grads, "transformer.backbone.embedding.weight");
    real *xL = L > 0 ? a.res + (size_t)(L - 1) * BT * C : a.x0, *dxL = L > 0 ? d.res + (size_t)(L - 1) * BT * C : d.x0;
    linear_backward(d.lnf, dwte, NULL, m->dlogits, a.lnf, wte, BT, C, V);
    rmsnorm_backward(dxL, tensor_ptr(m, m->grads, "transformer.backbone.norm_f.weight"), d.lnf, xL,
                     tensor_ptr(m, m->params, "transformer.backbone.norm_f.weight"), a.lnf_rstd, BT, C);
    for (int l = L - 1; l >= 0; l--) {
        SsmLayerParams w = ssm_layer(m, m->params, l), gr = ssm_layer(m, m->grads, l);
        size_t oC = (size_t)l * BT * C, oE = (size_t)l * BT * E;
        real *x = l == 0 ? a.x0 : a.res + oC - (size_t)BT * C, *dx = l == 0 ? d.x0 : d.res + oC - (size_t)BT * C;
        real *xs = a.xs + oE, *z = a.z + oE, *xconv = a.xconv + oE, *xc = a.xc + oE, *xdbl = a.xdbl + (size_t)l * BT * XD;
        real *dtlow = a.dtlow + (size_t)l * BT * R, *dtr = a.dtr + oE, *dt = a.dt + oE, *ksq = a.ksq + (size_t)l * BT;
        real *y = a.y + oE, *g = a.g + oE;
        real *dxz = d.xz + 2 * oE, *dxs = d.xs + oE, *dz = d.z + oE, *dxconv = d.xconv + oE, *dxc = d.xc + oE;
        real *dxdbl = d.xdbl + (size_t)l * BT * XD, *ddtlow = d.dtlow + (size_t)l * BT * R, *ddtr = d.dtr + oE, *ddt = d.dt + oE;
        real *dy = d.y + oE, *dg = d.g + oE;
        residual_backward(dx, d.mix + oC, d.res + oC, (size_t)BT * C);
        linear_backward(dg, gr.out_proj, NULL, d.mix + oC, g, w.out_proj, BT, E, C);
        for (size_t i = 0; i < (size_t)BT * E; i++) { // g = y * SiLU(z)
            real s = sigmoidr(z[i]);
            dy[i] += dg[i] * z[i] * s;
            dz[i] += dg[i] * y[i] * (s + z[i] * s * (1 - s));
        }
        ssm_scan_backward(dxc, ddt, dxdbl, gr.A_log, gr.D, dy, a.h + oE * N, xc, dt, xdbl, w.A_log, w.D, lh, B, T, E, N, R);
        ssm_dt_backward(ddtr, dxdbl, ddt, dtr, ksq, xdbl, lh, BT, E, N, R); // into dt_low (and, for longhorn, |k|^2)
        linear_backward(ddtlow, gr.dt_w, gr.dt_b, ddtr, dtlow, w.dt_w, BT, R, E);
        for (int i = 0; i < BT; i++)
            for (int r = 0; r < R; r++) dxdbl[(size_t)i * XD + r] += ddtlow[(size_t)i * R + r];
        linear_backward(dxc, gr.x_proj, NULL, dxdbl, xc, w.x_proj, BT, E, XD);
        silu_backward(dxconv, xconv, dxc, (size_t)BT * E);
        conv1d_backward(dxs, gr.conv_w, gr.conv_b, dxconv, xs, w.conv_w, B, T, E, W);
        for (int i = 0; i < BT; i++) { // join [dxs, dz]
            memcpy(dxz + (size_t)i * 2 * E, dxs + (size_t)i * E, E * sizeof(real));
            memcpy(dxz + (size_t)i * 2 * E + E, dz + (size_t)i * E, E * sizeof(real));
        }
        linear_backward(d.u + oC, gr.in_proj, NULL, dxz, a.u + oC, w.in_proj, BT, C, 2 * E);
        rmsnorm_backward(dx, gr.norm, d.u + oC, x, w.norm, a.rstd + (size_t)l * BT, BT, C);
    }
    encoder_backward(dwte, NULL, d.x0, idx, B, T, C);
}

/* Recurrent decoding, one token at a time (ssm.md §2, "sampling uses the recurrent form"): per
 * block a conv state (the last W-1 conv inputs, (W-1,E)) and the SSM state h (E,N), then scratch
 * for one token's activations. The same ops as ssm_forward with B = T = 1; test_gradcheck checks
 * that stepping through a sequence gives the logits of the full forward. state: zeros to start. */
static size_t ssm_state_size(const Config* c) {
    size_t C = c->n_embd, E = (size_t)c->expand * C, N = c->d_state, W = c->d_conv, XD = c->dt_rank + 2 * N;
    return (size_t)c->n_layer * ((W - 1) * E + E * N) + 3 * C + 2 * E + 6 * E + XD + 1;
}
static void ssm_step(Model* m, real* state, int token, real* logits) {
    const Config* c = &m->cfg;
    int L = c->n_layer, C = c->n_embd, E = c->expand * C, N = c->d_state, R = c->dt_rank, W = c->d_conv, XD = R + 2 * N;
    int lh = is_longhorn(c);
    real* wte = tensor_ptr(m, m->params, "transformer.backbone.embedding.weight");
    real *scratch = state + (size_t)L * ((W - 1) * E + (size_t)E * N), rstd;
    real *x = scratch, *u = x + C, *out = u + C, *xz = out + C, *xconv = xz + 2 * E, *xc = xconv + E;
    real *dtr = xc + E, *dt = dtr + E, *y = dt + E, *g = y + E, *xdbl = g + E;
    memcpy(x, wte + (size_t)token * C, C * sizeof(real));
    for (int l = 0; l < L; l++) {
        SsmLayerParams w = ssm_layer(m, m->params, l);
        real *conv_state = state + (size_t)l * ((W - 1) * E + (size_t)E * N), *h = conv_state + (size_t)(W - 1) * E;
        rmsnorm_forward(u, &rstd, x, w.norm, 1, C, 1e-5);
        linear_forward(xz, u, w.in_proj, NULL, 1, C, 2 * E);
        for (int e = 0; e < E; e++) { // conv over [the W-1 previous inputs, this one]; then shift
            real sum = w.conv_b[e] + w.conv_w[e * W + W - 1] * xz[e];
            for (int k = 0; k < W - 1; k++) sum += w.conv_w[e * W + k] * conv_state[k * E + e];
            for (int k = 0; k + 1 < W - 1; k++) conv_state[k * E + e] = conv_state[(k + 1) * E + e];
            if (W > 1) conv_state[(W - 2) * E + e] = xz[e];
            xconv[e] = sum;
        }
        silu_forward(xc, xconv, E);
        linear_forward(xdbl, xc, w.x_proj, NULL, 1, E, XD);
        linear_forward(dtr, xdbl, w.dt_w, w.dt_b, 1, R, E); // dt_low = the first R columns
        real ksq;
        ssm_dt_forward(dt, &ksq, dtr, xdbl, lh, 1, E, N, R);
        for (int e = 0; e < E; e++) {
            real acc = 0;
            for (int n = 0; n < N; n++) {
                real a, b;
                ssm_coef(lh, dt[e], w.A_log ? -exp(w.A_log[e * N + n]) : 0, xdbl[R + n], xc[e], &a, &b);
                h[e * N + n] = a * h[e * N + n] + b;
                acc += h[e * N + n] * xdbl[R + N + n];
            }
            y[e] = acc + w.D[e] * xc[e];
            real zz = xz[E + e];
            g[e] = y[e] * zz * sigmoidr(zz);
        }
        linear_forward(out, g, w.out_proj, NULL, 1, E, C);
        for (int i = 0; i < C; i++) x[i] += out[i];
    }
    rmsnorm_forward(u, &rstd, x, tensor_ptr(m, m->params, "transformer.backbone.norm_f.weight"), 1, C, 1e-5);
    linear_forward(logits, u, wte, NULL, 1, C, c->vocab_size);
}

static const Arch ARCH_MAMBA = {"mamba", "Mamba blocks (selective scan, no MLP) in the Longhorn repo's wrapper (RMSNorm, tied head)",
                                ssm_defaults, ssm_check, ssm_build, ssm_init, ssm_acts_size, ssm_forward, ssm_backward,
                                ssm_state_size, ssm_step};
static const Arch ARCH_LONGHORN = {"longhorn", "Longhorn blocks (Mamba with the online-regression state update)",
                                   ssm_defaults, ssm_check, ssm_build, ssm_init, ssm_acts_size, ssm_forward, ssm_backward,
                                   ssm_state_size, ssm_step};

/* every architecture the project has, in the order `-h` lists them */
static const Arch* ARCHS[] = {&ARCH_GPT, &ARCH_LLAMA, &ARCH_MAMBA, &ARCH_LONGHORN};
#define N_ARCHS ((int)(sizeof(ARCHS) / sizeof(ARCHS[0])))
static const Arch* arch_find(const char* name) {
    for (int i = 0; i < N_ARCHS; i++)
        if (strcmp(ARCHS[i]->name, name) == 0) return ARCHS[i];
    return NULL;
}

/* ============================================================================================
 * 6. Model API: build, forward + loss, backward, sampling
 * ============================================================================================ */

/* Fill defaults, validate the sizes and build the parameter table. -1 + sm_err on a bad config. */
static int config_finalize(Config* c) {
    const Arch* a = arch_find(c->model);
    if (!a) return sm_fail("unknown model '%s' (try -h for the list)", c->model);
    a->defaults(c);
    if (c->vocab_size < 2 || c->vocab_size > 65536) return sm_fail("vocab_size must be in [2, 65536], got %d", c->vocab_size);
    if (c->block_size < 1) return sm_fail("block_size (sequence length) must be >= 1, got %d", c->block_size);
    if (c->n_layer < 1 || c->n_layer > SM_MAX_LAYERS) return sm_fail("n_layer must be in [1, %d], got %d", SM_MAX_LAYERS, c->n_layer);
    if (c->n_embd < 1) return sm_fail("n_embd must be >= 1, got %d", c->n_embd);
    if (c->n_head < 1) return sm_fail("n_head must be >= 1, got %d", c->n_head);
    if (c->mlp_hidden < 1) return sm_fail("mlp_hidden must be >= 1, got %d", c->mlp_hidden);
    if (c->pos < 0 || c->pos >= POS_COUNT) return sm_fail("bad position variant %d", c->pos);
    if (!(c->dropout >= 0 && c->dropout < 1)) return sm_fail("dropout must be in [0, 1), got %g", c->dropout);
    if (!(c->attn_dropout >= 0 && c->attn_dropout < 1)) return sm_fail("attn_dropout must be in [0, 1), got %g", c->attn_dropout);
    if (c->embd_dropout < 0) c->embd_dropout = c->dropout;
    if (!(c->embd_dropout < 1)) return sm_fail("embd_dropout must be in [0, 1), got %g", c->embd_dropout);
    return a->check(c);
}

/* Allocate a model for batches up to (maxB, maxT); parameters initialised from `seed`. */
static int model_build(Model* m, const Config* cfg, int maxB, int maxT, uint64_t seed) {
    memset(m, 0, sizeof(*m));
    m->cfg = *cfg;
    if (config_finalize(&m->cfg)) return -1;
    if (maxB < 1 || maxT < 1) return sm_fail("batch size and sequence length must be >= 1 (got %d, %d)", maxB, maxT);
    if (maxT > m->cfg.block_size) return sm_fail("sequence length %d exceeds block_size %d", maxT, m->cfg.block_size);
    m->arch = arch_find(m->cfg.model);
    m->arch->build(&m->pt, &m->cfg);
    size_t P = m->pt.total;
    m->params = (real*)mallocCheck(P * sizeof(real));
    m->grads = (real*)mallocCheck(P * sizeof(real));
    m->adam_m = (real*)mallocCheck(P * sizeof(real));
    m->adam_v = (real*)mallocCheck(P * sizeof(real));
    m->maxB = maxB;
    m->maxT = maxT;
    m->n_acts = m->arch->acts_size(&m->cfg, maxB, maxT);
    m->acts = (real*)mallocCheck(m->n_acts * sizeof(real));
    m->dacts = (real*)mallocCheck(m->n_acts * sizeof(real));
    size_t BTV = (size_t)maxB * maxT * m->cfg.vocab_size;
    m->logits = (real*)mallocCheck(BTV * sizeof(real));
    m->dlogits = (real*)mallocCheck(BTV * sizeof(real));
    m->probs = (real*)mallocCheck(BTV * sizeof(real));
    m->losses = (real*)mallocCheck((size_t)maxB * maxT * sizeof(real));
    uint64_t rng = seed;
    m->arch->init(m, &rng);
    return 0;
}
static void model_free(Model* m) {
    free(m->params); free(m->grads); free(m->adam_m); free(m->adam_v);
    free(m->acts); free(m->dacts); free(m->logits); free(m->dlogits); free(m->probs); free(m->losses);
    memset(m, 0, sizeof(*m));
}

/* Forward pass. With targets, returns the mean loss over scored positions (mask NULL = all);
 * without, only m->logits is filled. inputs/targets (B,T), mask (B,T) of 0/1. */
static double model_forward(Model* m, const int* inputs, const int* targets, const uint8_t* mask, int B, int T) {
    if (B > m->maxB || T > m->maxT) sm_die("batch (%d,%d) larger than the model was built for (%d,%d)", B, T, m->maxB, m->maxT);
    m->arch->forward(m, inputs, B, T);
    if (!targets) return 0;
    int N = B * T, V = m->cfg.vocab_size;
    crossentropy_forward(m->losses, m->probs, m->logits, targets, N, V);
    double sum = 0;
    long scored = 0;
    for (int i = 0; i < N; i++)
        if (!mask || mask[i]) { sum += m->losses[i]; scored++; }
    return scored ? sum / scored : 0;
}
static long count_scored(const uint8_t* mask, int N) {
    long scored = 0;
    for (int i = 0; i < N; i++) scored += !mask || mask[i];
    return scored;
}
/* Backward pass of the last model_forward (with targets): ACCUMULATES into m->grads. The loss
 * gradient is scaled by `scale` per scored position: 1 / (scored positions of the batch) for
 * the mean loss; model_backward passes that, a part of a split batch passes the whole batch's. */
static void model_backward_scaled(Model* m, const int* inputs, const int* targets, const uint8_t* mask, int B, int T,
                                  double scale) {
    int N = B * T, V = m->cfg.vocab_size;
    zero_reals(m->dlogits, (size_t)N * V); // (the activation gradients m->dacts: each arch's backward)
    crossentropy_backward(m->dlogits, m->probs, targets, mask, scale, N, V);
    m->arch->backward(m, inputs, B, T);
}
static void model_backward(Model* m, const int* inputs, const int* targets, const uint8_t* mask, int B, int T) {
    long scored = count_scored(mask, B * T);
    model_backward_scaled(m, inputs, targets, mask, B, T, scored ? 1.0 / scored : 0);
}
static void model_zero_grad(Model* m) { zero_reals(m->grads, m->pt.total); }

/* Training FLOPs per token (forward + backward), the estimate nanoGPT and PaLM use for MFU:
 * 6 N for the matmuls (N = parameters without the position table, which is a lookup) plus, for
 * attention, 12 L C T for the scores Q K^T and the sum P V. */
static double model_flops_per_token(const Model* m, int T) {
    const Config* c = &m->cfg;
    int wpe = table_find(&m->pt, "transformer.wpe.weight");
    double N = (double)m->pt.total - (wpe >= 0 ? (double)m->pt.t[wpe].numel : 0);
    int attention = !strcmp(c->model, "gpt") || is_llama(c);
    return 6 * N + (attention ? 12.0 * c->n_layer * c->n_embd * T : 0);
}

/* Sample one token from logits (V): temperature 0 = argmax; top_k > 0 keeps the k largest. */
static int sample_logits(const real* logits, int V, double temperature, int top_k, uint64_t* rng) {
    int best = 0;
    for (int i = 1; i < V; i++) if (logits[i] > logits[best]) best = i;
    if (temperature <= 0) return best;
    double kth = -INFINITY; // the k-th largest logit: smaller ones are dropped
    if (top_k > 0 && top_k < V) {
        real* sorted = (real*)mallocCheck(V * sizeof(real));
        memcpy(sorted, logits, V * sizeof(real));
        for (int i = 0; i < top_k; i++) { // partial selection sort: k is small
            int mx = i;
            for (int j = i + 1; j < V; j++) if (sorted[j] > sorted[mx]) mx = j;
            real t = sorted[i]; sorted[i] = sorted[mx]; sorted[mx] = t;
        }
        kth = sorted[top_k - 1];
        free(sorted);
    }
    double sum = 0;
    for (int i = 0; i < V; i++) if (logits[i] >= kth) sum += exp((logits[i] - logits[best]) / temperature);
    double r = rng_uniform(rng) * sum, acc = 0;
    for (int i = 0; i < V; i++) {
        if (logits[i] < kth) continue;
        acc += exp((logits[i] - logits[best]) / temperature);
        if (acc > r) return i;
    }
    return best;
}
/* ============================================================================================
 * 7. Optimizer: AdamW (decoupled weight decay, torch.optim.AdamW semantics), schedule, clipping
 * ============================================================================================ */

typedef struct {
    double lr, min_lr;         /* peak and final learning rate */
    int warmup, decay_steps;   /* linear warmup steps; the decay ends at decay_steps */
    double beta1, beta2, eps, weight_decay, grad_clip;
    int linear_decay;          /* 0: cosine decay (nanoGPT), 1: linear decay (seq_icl's linear_warmup) */
} OptimConfig;

/* nanoGPT's get_lr: linear warmup, cosine decay to min_lr at decay_steps, then flat */
static double lr_at(const OptimConfig* o, int step) {
    if (step < o->warmup) return o->lr * (step + 1) / (o->warmup + 1);
    if (step >= o->decay_steps) return o->min_lr;
    double ratio = (double)(step - o->warmup) / (o->decay_steps - o->warmup);
    if (o->linear_decay) return o->lr + ratio * (o->min_lr - o->lr);
    return o->min_lr + 0.5 * (1.0 + cos(M_PI * ratio)) * (o->lr - o->min_lr);
}

/* global L2 norm of the gradient buffer, in double. The buffer is cut into 64 fixed parts, each
 * summed in 8 interleaved lanes (so the loop vectorises), lanes then parts added in order: a
 * fixed order whatever the thread count. */
static double grad_norm(const real* g, size_t n) {
    enum { PARTS = 64, LANES = 8 };
    double part[PARTS];
#pragma omp parallel for schedule(static) if(n > SM_OMP_MIN)
    for (int p = 0; p < PARTS; p++) {
        size_t i = n * p / PARTS, hi = n * (p + 1) / PARTS;
        double lane[LANES] = {0}, s = 0;
        for (; i + LANES <= hi; i += LANES)
            for (int l = 0; l < LANES; l++) lane[l] += (double)g[i + l] * g[i + l];
        for (; i < hi; i++) s += (double)g[i] * g[i];
        for (int l = 0; l < LANES; l++) s += lane[l];
        part[p] = s;
    }
    double s = 0;
    for (int p = 0; p < PARTS; p++) s += part[p];
    return sqrt(s);
}
/* clip_grad_norm_: scale all gradients by clip / (norm + 1e-6) when the norm exceeds clip */
static void grad_clip(real* g, size_t n, double norm, double clip) {
    if (clip <= 0 || norm <= clip) return;
    real s = (real)(clip / (norm + 1e-6));
#pragma omp parallel for schedule(static) if(n > SM_OMP_MIN)
    for (size_t i = 0; i < n; i++) g[i] *= s;
}

/* one AdamW step, t = 1, 2, ...:  p *= 1 - lr*wd (decaying tensors only);
 * m = b1 m + (1-b1) g;  v = b2 v + (1-b2) g^2;  p -= lr/(1-b1^t) * m / (sqrt(v/(1-b2^t)) + eps) */
static void adamw_step(Model* m, const OptimConfig* o, double lr, int t) {
    double bc1 = 1 - pow(o->beta1, t), bc2 = 1 - pow(o->beta2, t);
    // the loop runs in `real` (vectorises: 8 floats per instruction; the Makefile's -fno-math-errno
    // lets sqrt vectorise): step = lr / bc1, v / bc2 as v * (1 / bc2)
    real step = (real)(lr / bc1), inv_bc2 = (real)(1 / bc2), eps = (real)o->eps;
    // one parallel region for all tensors (each tensor's loop is split, no barrier between them)
#pragma omp parallel if(m->pt.total > SM_OMP_MIN)
    for (int ti = 0; ti < m->pt.n; ti++) {
        const TensorInfo* info = &m->pt.t[ti];
        real decay = info->decay ? (real)(1 - lr * o->weight_decay) : 1;
        real *p = m->params + info->offset, *g = m->grads + info->offset;
        real *mm = m->adam_m + info->offset, *vv = m->adam_v + info->offset;
#pragma omp for schedule(static) nowait
        for (size_t i = 0; i < info->numel; i++) {
            mm[i] = (real)o->beta1 * mm[i] + (real)(1 - o->beta1) * g[i];
            vv[i] = (real)o->beta2 * vv[i] + (real)(1 - o->beta2) * g[i] * g[i];
            p[i] = p[i] * decay - step * mm[i] / (sqrt(vv[i] * inv_bc2) + eps);
        }
    }
}

/* ============================================================================================
 * 8. JSON and safetensors
 *
 * safetensors: u64 little-endian N, then N bytes of JSON header, then raw little-endian data.
 *   {"__metadata__": {"format": "seqmodels", "config": "<config JSON as a string>", ...},
 *    "<tensor name>": {"dtype": "F32", "shape": [d0, d1], "data_offsets": [begin, end]}, ...}
 * Offsets are relative to the end of the header. Writers go through a temp file, fsync and
 * rename, so a crash leaves either the old file or the new one. Readers check everything.
 * ============================================================================================ */

/* ---- a small strict JSON parser: a flat array of tokens in document order ---- */
enum { JSON_OBJ, JSON_ARR, JSON_STR, JSON_NUM, JSON_LIT };
typedef struct {
    int type, start, end; /* text span; for strings, inside the quotes */
    int n;                /* objects: number of key/value pairs; arrays: number of elements */
    int next;             /* index of the first token after this value's subtree */
} JsonTok;
typedef struct {
    const char* s;
    int len, pos, ntok, cap, depth;
    JsonTok* tok;
} Json;

static void json_ws(Json* j) { while (j->pos < j->len && strchr(" \t\r\n", j->s[j->pos]) && j->s[j->pos]) j->pos++; }
static int json_newtok(Json* j, int type) {
    if (j->ntok == j->cap) {
        j->cap = j->cap ? 2 * j->cap : 64;
        JsonTok* t = (JsonTok*)realloc(j->tok, j->cap * sizeof(JsonTok));
        if (!t) return sm_fail("out of memory parsing JSON");
        j->tok = t;
    }
    memset(&j->tok[j->ntok], 0, sizeof(JsonTok));
    j->tok[j->ntok].type = type;
    j->tok[j->ntok].start = j->pos;
    return j->ntok++;
}
static int json_string(Json* j) { /* at the opening quote */
    int t = json_newtok(j, JSON_STR);
    if (t < 0) return -1;
    j->pos++;
    j->tok[t].start = j->pos;
    while (j->pos < j->len && j->s[j->pos] != '"') {
        unsigned char ch = (unsigned char)j->s[j->pos];
        if (ch < 0x20) return sm_fail("JSON: control character in string at byte %d", j->pos);
        if (ch == '\\') {
            j->pos++;
            if (j->pos >= j->len || !strchr("\"\\/bfnrtu", j->s[j->pos]) || !j->s[j->pos])
                return sm_fail("JSON: bad escape at byte %d", j->pos);
            if (j->s[j->pos] == 'u')
                for (int k = 0; k < 4; k++)
                    if (++j->pos >= j->len || !isxdigit((unsigned char)j->s[j->pos]))
                        return sm_fail("JSON: bad \\u escape at byte %d", j->pos);
        }
        j->pos++;
    }
    if (j->pos >= j->len) return sm_fail("JSON: unterminated string");
    j->tok[t].end = j->pos++;
    j->tok[t].next = j->ntok;
    return t;
}
static int json_value(Json* j) {
    json_ws(j);
    if (j->pos >= j->len) return sm_fail("JSON: unexpected end of text");
    if (++j->depth > 32) return sm_fail("JSON: nesting too deep");
    char ch = j->s[j->pos];
    int t;
    if (ch == '{' || ch == '[') {
        t = json_newtok(j, ch == '{' ? JSON_OBJ : JSON_ARR);
        if (t < 0) return -1;
        char close = ch == '{' ? '}' : ']';
        j->pos++;
        json_ws(j);
        if (j->pos < j->len && j->s[j->pos] == close) j->pos++;
        else
            for (;;) {
                if (ch == '{') {
                    json_ws(j);
                    if (j->pos >= j->len || j->s[j->pos] != '"') return sm_fail("JSON: expected a key at byte %d", j->pos);
                    if (json_string(j) < 0) return -1;
                    json_ws(j);
                    if (j->pos >= j->len || j->s[j->pos] != ':') return sm_fail("JSON: expected ':' at byte %d", j->pos);
                    j->pos++;
                }
                if (json_value(j) < 0) return -1;
                j->tok[t].n++;
                json_ws(j);
                if (j->pos < j->len && j->s[j->pos] == ',') { j->pos++; continue; }
                if (j->pos < j->len && j->s[j->pos] == close) { j->pos++; break; }
                return sm_fail("JSON: expected ',' or '%c' at byte %d", close, j->pos);
            }
    } else if (ch == '"') {
        t = json_string(j);
        if (t < 0) return -1;
    } else if (ch == '-' || isdigit((unsigned char)ch)) {
        t = json_newtok(j, JSON_NUM);
        if (t < 0) return -1;
        if (j->s[j->pos] == '-') j->pos++;
        int digits = 0;
        while (j->pos < j->len && (isdigit((unsigned char)j->s[j->pos]) || strchr(".eE+-", j->s[j->pos])) && j->s[j->pos]) {
            digits += isdigit((unsigned char)j->s[j->pos]) != 0;
            j->pos++;
        }
        char buf[64];
        int n = j->pos - j->tok[t].start;
        if (!digits || n >= 64) return sm_fail("JSON: bad number at byte %d", j->tok[t].start);
        memcpy(buf, j->s + j->tok[t].start, n);
        buf[n] = 0;
        char* endp;
        strtod(buf, &endp);
        if (*endp) return sm_fail("JSON: bad number '%s'", buf);
    } else {
        t = json_newtok(j, JSON_LIT);
        if (t < 0) return -1;
        const char* lits[3] = {"true", "false", "null"};
        int ok = 0;
        for (int k = 0; k < 3 && !ok; k++) {
            int n = (int)strlen(lits[k]);
            if (j->len - j->pos >= n && memcmp(j->s + j->pos, lits[k], n) == 0) { j->pos += n; ok = 1; }
        }
        if (!ok) return sm_fail("JSON: unexpected character '%c' at byte %d", ch, j->pos);
    }
    j->tok[t].end = j->tok[t].type == JSON_STR ? j->tok[t].end : j->pos;
    j->tok[t].next = j->ntok;
    j->depth--;
    return t;
}
static int json_parse(Json* j, const char* s, int len) {
    memset(j, 0, sizeof(*j));
    j->s = s;
    j->len = len;
    if (json_value(j) < 0) return -1;
    json_ws(j);
    if (j->pos != len) return sm_fail("JSON: trailing characters at byte %d", j->pos);
    return 0;
}
static void json_free(Json* j) { free(j->tok); j->tok = NULL; }
/* value token of `key` in object token obj, or -1 (keys compared as raw text) */
static int json_get(const Json* j, int obj, const char* key) {
    if (obj < 0 || j->tok[obj].type != JSON_OBJ) return -1;
    int k = obj + 1, n = (int)strlen(key);
    for (int i = 0; i < j->tok[obj].n; i++) {
        const JsonTok* kt = &j->tok[k];
        if (kt->end - kt->start == n && memcmp(j->s + kt->start, key, n) == 0) return k + 1;
        k = j->tok[k + 1].next;
    }
    return -1;
}
/* unescaped string value (ASCII \u escapes only); -1 if not a string or too long */
static int json_str(const Json* j, int t, char* out, size_t cap) {
    if (t < 0 || j->tok[t].type != JSON_STR) return -1;
    size_t o = 0;
    for (int i = j->tok[t].start; i < j->tok[t].end; i++) {
        char ch = j->s[i];
        if (ch == '\\') {
            ch = j->s[++i];
            const char* from = "\"\\/bfnrt";
            const char* to = "\"\\/\b\f\n\r\t";
            if (ch == 'u') {
                char hex[5] = {j->s[i + 1], j->s[i + 2], j->s[i + 3], j->s[i + 4], 0};
                long u = strtol(hex, NULL, 16);
                if (u > 127) return -1;
                ch = (char)u;
                i += 4;
            } else ch = to[strchr(from, ch) - from];
        }
        if (o + 1 >= cap) return -1;
        out[o++] = ch;
    }
    out[o] = 0;
    return 0;
}
static int json_num(const Json* j, int t, double* out) {
    if (t < 0 || j->tok[t].type != JSON_NUM) return -1;
    char buf[64];
    int n = j->tok[t].end - j->tok[t].start;
    memcpy(buf, j->s + j->tok[t].start, n);
    buf[n] = 0;
    *out = strtod(buf, NULL);
    return 0;
}
/* append s to buf as a JSON string literal (quotes and escapes) */
static void json_put_str(char* buf, size_t cap, const char* s) {
    size_t o = strlen(buf);
    if (o + 1 < cap) buf[o++] = '"';
    for (; *s && o + 7 < cap; s++) {
        if (*s == '"' || *s == '\\') { buf[o++] = '\\'; buf[o++] = *s; }
        else if ((unsigned char)*s < 0x20) o += snprintf(buf + o, cap - o, "\\u%04x", *s);
        else buf[o++] = *s;
    }
    if (o + 1 < cap) buf[o++] = '"';
    buf[o] = 0;
}

/* ---- atomic file writes: write path.tmp.PID, fsync, rename over path, fsync the folder ---- */
static FILE* atomic_begin(const char* path, char* tmp, size_t cap) {
    snprintf(tmp, cap, "%s.tmp.%d", path, (int)getpid());
    FILE* f = fopen(tmp, "wb");
    if (!f) sm_fail("cannot write %s: %s", tmp, strerror(errno));
    return f;
}
static int atomic_end(FILE* f, int ok, const char* tmp, const char* path) {
    ok = ok && fflush(f) == 0 && fsync(fileno(f)) == 0;
    ok = (fclose(f) == 0) && ok;
    if (!ok || rename(tmp, path) != 0) {
        int err = errno;
        unlink(tmp);
        return sm_fail("failed writing %s: %s", path, strerror(err));
    }
    char dir[4200]; // make the rename itself durable
    snprintf(dir, sizeof(dir), "%s", path);
    char* slash = strrchr(dir, '/');
    if (slash) *slash = 0; else strcpy(dir, ".");
    int dfd = open(dir, O_RDONLY);
    if (dfd >= 0) { fsync(dfd); close(dfd); }
    return 0;
}

/* ---- safetensors writer ---- */
typedef struct {
    char name[SM_MAX_NAME + 16];
    const char* dtype; /* "F32", "F64", "I32", "U8" */
    int ndim;
    long shape[4];
    const void* data;
} StEntry;

static size_t dtype_size(const char* dt) {
    if (!strcmp(dt, "F64") || !strcmp(dt, "I64") || !strcmp(dt, "U64")) return 8;
    if (!strcmp(dt, "F32") || !strcmp(dt, "I32") || !strcmp(dt, "U32")) return 4;
    if (!strcmp(dt, "F16") || !strcmp(dt, "BF16") || !strcmp(dt, "I16") || !strcmp(dt, "U16")) return 2;
    if (!strcmp(dt, "I8") || !strcmp(dt, "U8") || !strcmp(dt, "BOOL")) return 1;
    return 0;
}
static size_t st_entry_bytes(const StEntry* e) {
    size_t n = dtype_size(e->dtype);
    for (int i = 0; i < e->ndim; i++) n *= (size_t)e->shape[i];
    return n;
}

/* Write `n` tensors and a metadata object (a JSON object's text, e.g. {"format":"seqmodels"})
 * atomically: path.tmp, fsync, rename, fsync the directory. */
static int safetensors_write(const char* path, const StEntry* e, int n, const char* metadata) {
    size_t cap = 4096 + strlen(metadata) + (size_t)n * (SM_MAX_NAME + 160);
    char* hdr = (char*)mallocCheck(cap);
    size_t off = 0, len = (size_t)snprintf(hdr, cap, "{\"__metadata__\":%s", metadata);
    for (int i = 0; i < n; i++) {
        size_t nb = st_entry_bytes(&e[i]);
        len += snprintf(hdr + len, cap - len, ",\"%s\":{\"dtype\":\"%s\",\"shape\":[", e[i].name, e[i].dtype);
        for (int d = 0; d < e[i].ndim; d++) len += snprintf(hdr + len, cap - len, "%s%ld", d ? "," : "", e[i].shape[d]);
        len += snprintf(hdr + len, cap - len, "],\"data_offsets\":[%zu,%zu]}", off, off + nb);
        off += nb;
    }
    len += snprintf(hdr + len, cap - len, "}");
    while (len % 8) hdr[len++] = ' '; // pad so the data starts 8-byte aligned
    char tmp[4200];
    FILE* f = atomic_begin(path, tmp, sizeof(tmp));
    if (!f) { free(hdr); return -1; }
    uint64_t hlen = len; // little-endian hosts only (x86, ARM)
    int ok = fwrite(&hlen, 8, 1, f) == 1 && fwrite(hdr, 1, len, f) == len;
    for (int i = 0; i < n && ok; i++) {
        size_t nb = st_entry_bytes(&e[i]);
        ok = nb == 0 || fwrite(e[i].data, 1, nb, f) == nb;
    }
    free(hdr);
    return atomic_end(f, ok, tmp, path);
}

/* ---- safetensors reader: the whole file in memory, every header field checked ---- */
typedef struct {
    char name[SM_MAX_NAME + 16], dtype[8];
    int ndim;
    long shape[8];
    size_t begin, end; /* absolute byte range in the file */
} StTensor;
typedef struct {
    uint8_t* buf;
    size_t size;
    Json json;
    int meta; /* token of __metadata__, or -1 */
    int n;
    StTensor* t;
} SafeTensors;

static void safetensors_close(SafeTensors* st) {
    free(st->buf); free(st->t); json_free(&st->json);
    memset(st, 0, sizeof(*st));
}
static int st_cmp_begin(const void* a, const void* b) {
    size_t x = ((const StTensor*)a)->begin, y = ((const StTensor*)b)->begin;
    return x < y ? -1 : x > y;
}
static int safetensors_open(SafeTensors* st, const char* path) {
    memset(st, 0, sizeof(*st));
    FILE* f = fopen(path, "rb");
    if (!f) return sm_fail("cannot open %s: %s", path, strerror(errno));
    fseek(f, 0, SEEK_END);
    long size = ftell(f);
    fseek(f, 0, SEEK_SET);
    if (size < 8) { fclose(f); return sm_fail("%s: not a safetensors file (only %ld bytes)", path, size); }
    st->size = (size_t)size;
    st->buf = (uint8_t*)mallocCheck(st->size + 1);
    size_t got = fread(st->buf, 1, st->size, f);
    fclose(f);
    if (got != st->size) { safetensors_close(st); return sm_fail("%s: read error", path); }
    uint64_t hlen;
    memcpy(&hlen, st->buf, 8);
    if (hlen < 2 || hlen > 100000000 || hlen > st->size - 8) {
        size_t file_size = st->size;
        safetensors_close(st);
        return sm_fail("%s: safetensors header length %llu does not fit the file (%zu bytes): truncated or corrupt", path,
                       (unsigned long long)hlen, file_size);
    }
    if (json_parse(&st->json, (const char*)st->buf + 8, (int)hlen) < 0 || st->json.tok[0].type != JSON_OBJ) {
        char msg[512];
        snprintf(msg, sizeof(msg), "%s", sm_err);
        safetensors_close(st);
        return sm_fail("%s: corrupt safetensors header (%s)", path, msg);
    }
    const Json* j = &st->json;
    size_t data0 = 8 + hlen, data_bytes = st->size - data0;
    st->t = (StTensor*)mallocCheck((j->tok[0].n + 1) * sizeof(StTensor));
    st->meta = -1;
    int k = 1;
    for (int i = 0; i < j->tok[0].n; i++, k = j->tok[k + 1].next) {
        char name[SM_MAX_NAME + 16];
        if (json_str(j, k, name, sizeof(name)) < 0) { safetensors_close(st); return sm_fail("%s: tensor name too long", path); }
        int v = k + 1;
        if (!strcmp(name, "__metadata__")) {
            st->meta = v;
            if (j->tok[v].type != JSON_OBJ) { safetensors_close(st); return sm_fail("%s: __metadata__ is not an object", path); }
            continue;
        }
        StTensor* t = &st->t[st->n];
        memset(t, 0, sizeof(*t));
        strcpy(t->name, name);
        int dt = json_get(j, v, "dtype"), sh = json_get(j, v, "shape"), of = json_get(j, v, "data_offsets");
        if (json_str(j, dt, t->dtype, sizeof(t->dtype)) < 0 || !dtype_size(t->dtype)) {
            safetensors_close(st);
            return sm_fail("%s: tensor '%s' has a missing or unknown dtype", path, name);
        }
        if (sh < 0 || j->tok[sh].type != JSON_ARR || j->tok[sh].n > 8 || of < 0 || j->tok[of].type != JSON_ARR || j->tok[of].n != 2) {
            safetensors_close(st);
            return sm_fail("%s: tensor '%s' needs a shape (<= 8 dims) and two data_offsets", path, name);
        }
        size_t numel = 1;
        t->ndim = j->tok[sh].n;
        for (int d = 0; d < t->ndim; d++) {
            double x;
            if (json_num(j, sh + 1 + d, &x) < 0 || x < 0 || x > 1e12 || x != floor(x)) {
                safetensors_close(st);
                return sm_fail("%s: tensor '%s' has a bad shape", path, name);
            }
            t->shape[d] = (long)x;
            numel *= (size_t)x;
        }
        double b, e;
        if (json_num(j, of + 1, &b) < 0 || json_num(j, of + 2, &e) < 0 || b < 0 || e < b || e > (double)data_bytes ||
            b != floor(b) || e != floor(e)) {
            safetensors_close(st);
            return sm_fail("%s: tensor '%s' data_offsets outside the file", path, name);
        }
        if ((size_t)(e - b) != numel * dtype_size(t->dtype)) {
            safetensors_close(st);
            return sm_fail("%s: tensor '%s': shape x dtype size != byte range", path, name);
        }
        t->begin = data0 + (size_t)b;
        t->end = data0 + (size_t)e;
        st->n++;
    }
    StTensor* sorted = (StTensor*)mallocCheck((st->n + 1) * sizeof(StTensor));
    memcpy(sorted, st->t, st->n * sizeof(StTensor));
    qsort(sorted, st->n, sizeof(StTensor), st_cmp_begin);
    for (int i = 1; i < st->n; i++)
        if (sorted[i].begin < sorted[i - 1].end) {
            char a[SM_MAX_NAME + 16], b2[SM_MAX_NAME + 16];
            strcpy(a, sorted[i - 1].name);
            strcpy(b2, sorted[i].name);
            free(sorted);
            safetensors_close(st);
            return sm_fail("%s: tensors '%s' and '%s' overlap", path, a, b2);
        }
    free(sorted);
    return 0;
}
static const StTensor* st_find(const SafeTensors* st, const char* name) {
    for (int i = 0; i < st->n; i++) if (!strcmp(st->t[i].name, name)) return &st->t[i];
    return NULL;
}
/* metadata string value; -1 if absent */
static int st_meta(const SafeTensors* st, const char* key, char* out, size_t cap) {
    return json_str(&st->json, json_get(&st->json, st->meta, key), out, cap);
}
/* copy tensor `name` into out (converting F32/F64 to real), checking it has exactly `shape` */
static int st_read_real(const SafeTensors* st, const char* name, real* out, const int* shape, int ndim, const char* path) {
    const StTensor* t = st_find(st, name);
    if (!t) return sm_fail("%s: tensor '%s' missing", path, name);
    int same = t->ndim == ndim;
    for (int d = 0; same && d < ndim; d++) same = t->shape[d] == shape[d];
    if (!same) {
        char want[64] = "", got[64] = "";
        for (int d = 0; d < ndim; d++) snprintf(want + strlen(want), 64 - strlen(want), "%s%d", d ? "," : "", shape[d]);
        for (int d = 0; d < t->ndim; d++) snprintf(got + strlen(got), 64 - strlen(got), "%s%ld", d ? "," : "", t->shape[d]);
        return sm_fail("%s: tensor '%s' has shape (%s), expected (%s)", path, name, got, want);
    }
    size_t n = (t->end - t->begin) / dtype_size(t->dtype);
    const uint8_t* src = st->buf + t->begin;
    if (!strcmp(t->dtype, "F32")) for (size_t i = 0; i < n; i++) { float x; memcpy(&x, src + 4 * i, 4); out[i] = x; }
    else if (!strcmp(t->dtype, "F64")) for (size_t i = 0; i < n; i++) { double x; memcpy(&x, src + 8 * i, 8); out[i] = (real)x; }
    else return sm_fail("%s: tensor '%s' has dtype %s, expected F32", path, name, t->dtype);
    return 0;
}

/* ---- model checkpoints ----
 * Model tensors under their table names (F32; F64 in a -DSM_DOUBLE build). With training state,
 * also optim.m.<name> / optim.v.<name> and metadata "step" (completed steps) and "data_rng". */
typedef struct {
    int step;          /* optimizer steps completed */
    uint64_t data_rng; /* the batch sampler's random state */
} TrainState;

static void config_to_json(const Config* c, char* buf, size_t cap) {
    snprintf(buf, cap,
             "{\"model\":\"%s\",\"vocab_size\":%d,\"block_size\":%d,\"n_layer\":%d,\"n_head\":%d,\"n_embd\":%d,"
             "\"mlp_hidden\":%d,\"pos\":\"%s\",\"num_masked_heads\":%d,\"bias\":%d,\"dropout\":%.9g,\"attn_dropout\":%.9g,"
             "\"embd_dropout\":%.9g,"
             "\"d_state\":%d,\"expand\":%d,\"d_conv\":%d,\"dt_rank\":%d}",
             c->model, c->vocab_size, c->block_size, c->n_layer, c->n_head, c->n_embd, c->mlp_hidden,
             POS_NAMES[c->pos], c->num_masked_heads, c->bias, c->dropout, c->attn_dropout, c->embd_dropout, c->d_state, c->expand, c->d_conv,
             c->dt_rank);
}
static int pos_from_name(const char* s) {
    for (int i = 0; i < POS_COUNT; i++) if (!strcmp(s, POS_NAMES[i])) return i;
    return -1;
}
static int config_from_json(Config* c, const char* text) {
    Json j;
    memset(c, 0, sizeof(*c));
    if (json_parse(&j, text, (int)strlen(text)) < 0) return -1;
    char pos[32];
    int bad = json_str(&j, json_get(&j, 0, "model"), c->model, sizeof(c->model)) < 0 ||
              json_str(&j, json_get(&j, 0, "pos"), pos, sizeof(pos)) < 0 || (c->pos = pos_from_name(pos)) < 0;
    const char* keys[] = {"vocab_size", "block_size", "n_layer", "n_head", "n_embd", "mlp_hidden", "num_masked_heads",
                          "bias", "d_state", "expand", "d_conv", "dt_rank", "dropout"};
    int* fields[] = {&c->vocab_size, &c->block_size, &c->n_layer, &c->n_head, &c->n_embd, &c->mlp_hidden,
                     &c->num_masked_heads, &c->bias, &c->d_state, &c->expand, &c->d_conv, &c->dt_rank, NULL};
    for (int i = 0; i < 13 && !bad; i++) {
        double x;
        if (json_num(&j, json_get(&j, 0, keys[i]), &x) < 0) { bad = 1; break; }
        if (fields[i]) *fields[i] = (int)x; else c->dropout = (float)x;
    }
    double ad, ed; // added later than the rest: absent in older checkpoints, which had none / the same as dropout
    if (!bad && json_num(&j, json_get(&j, 0, "attn_dropout"), &ad) == 0) c->attn_dropout = (float)ad;
    c->embd_dropout = !bad && json_num(&j, json_get(&j, 0, "embd_dropout"), &ed) == 0 ? (float)ed : c->dropout;
    json_free(&j);
    return bad ? sm_fail("config is missing a field or has a bad value") : 0;
}

static int checkpoint_save(const char* path, const Model* m, const TrainState* ts) {
    int nt = m->pt.n, n = 0;
    StEntry* e = (StEntry*)mallocCheck((size_t)3 * nt * sizeof(StEntry));
    for (int k = 0; k < (ts ? 3 : 1); k++) {
        const char* prefix = k == 0 ? "" : k == 1 ? "optim.m." : "optim.v.";
        real* buf = k == 0 ? m->params : k == 1 ? m->adam_m : m->adam_v;
        for (int i = 0; i < nt; i++, n++) {
            const TensorInfo* ti = &m->pt.t[i];
            snprintf(e[n].name, sizeof(e[n].name), "%s%s", prefix, ti->name);
            e[n].dtype = SM_REAL_DTYPE;
            e[n].ndim = ti->ndim;
            for (int d = 0; d < ti->ndim; d++) e[n].shape[d] = ti->shape[d];
            e[n].data = buf + ti->offset;
        }
    }
    char cfg[1024], meta[2048] = "{\"format\":\"seqmodels\",\"config\":";
    config_to_json(&m->cfg, cfg, sizeof(cfg));
    json_put_str(meta, sizeof(meta), cfg);
    if (ts)
        snprintf(meta + strlen(meta), sizeof(meta) - strlen(meta), ",\"step\":\"%d\",\"data_rng\":\"%llu\"", ts->step,
                 (unsigned long long)ts->data_rng);
    strcat(meta, "}");
    int rc = safetensors_write(path, e, n, meta);
    free(e);
    return rc;
}

/* open a checkpoint and read its config (then build a model from it and call checkpoint_load) */
static int checkpoint_open(SafeTensors* st, const char* path, Config* c) {
    if (safetensors_open(st, path)) return -1;
    char fmt[32], cfg[2048];
    if (st_meta(st, "format", fmt, sizeof(fmt)) < 0 || strcmp(fmt, "seqmodels")) {
        safetensors_close(st);
        return sm_fail("%s: not a seqmodels checkpoint (no \"format\": \"seqmodels\" in __metadata__)", path);
    }
    if (st_meta(st, "config", cfg, sizeof(cfg)) < 0 || config_from_json(c, cfg) < 0) {
        safetensors_close(st);
        return sm_fail("%s: missing or bad \"config\" in __metadata__", path);
    }
    return 0;
}
/* copy weights (and, with ts, AdamW state and the training position) into a built model */
static int checkpoint_load(const SafeTensors* st, const char* path, Model* m, TrainState* ts) {
    for (int k = 0; k < (ts ? 3 : 1); k++) {
        const char* prefix = k == 0 ? "" : k == 1 ? "optim.m." : "optim.v.";
        real* buf = k == 0 ? m->params : k == 1 ? m->adam_m : m->adam_v;
        for (int i = 0; i < m->pt.n; i++) {
            const TensorInfo* ti = &m->pt.t[i];
            char name[SM_MAX_NAME + 16];
            snprintf(name, sizeof(name), "%s%s", prefix, ti->name);
            if (k > 0 && !st_find(st, name)) return sm_fail("%s: no optimizer state (%s): cannot resume from it", path, name);
            if (st_read_real(st, name, buf + ti->offset, ti->shape, ti->ndim, path)) return -1;
        }
    }
    if (ts) {
        char s[64];
        char* end;
        if (st_meta(st, "step", s, sizeof(s)) < 0) return sm_fail("%s: no training step in metadata", path);
        long step = strtol(s, &end, 10);
        if (*end || step < 0) return sm_fail("%s: bad step '%s'", path, s);
        if (st_meta(st, "data_rng", s, sizeof(s)) < 0) return sm_fail("%s: no data_rng in metadata", path);
        ts->step = (int)step;
        ts->data_rng = strtoull(s, &end, 10);
        if (*end) return sm_fail("%s: bad data_rng '%s'", path, s);
    }
    for (size_t i = 0; i < m->pt.total; i++)
        if (!isfinite(m->params[i])) return sm_fail("%s: parameters contain NaN or Inf", path);
    return 0;
}

/* ============================================================================================
 * 9. Data: shards, Shakespeare prep, batches
 *
 * Shard file (little-endian), 64-byte header then tokens then (optionally) a loss mask:
 *   0  char[8] magic "SEQSHARD"      8  u32 version (1)       12 u32 header bytes (64)
 *   16 u64 n_tokens                  24 u32 bytes per token (1 or 2)
 *   28 u32 vocab_size                32 u32 flags (bit 0: a loss mask follows)   36..63 zero
 *   64: n_tokens tokens (u8 or u16), then n_tokens mask bytes (0/1) if flags & 1.
 * mask[i] = 1 means the prediction made AT position i (of token i+1) is scored.
 * ============================================================================================ */

#define SHARD_MAGIC "SEQSHARD"
#define SHARD_HEADER 64
typedef struct {
    uint8_t* buf; /* the whole file */
    size_t n;     /* tokens */
    int bpt, vocab_size;
    const uint8_t* tokens; /* n * bpt bytes */
    const uint8_t* mask;   /* n bytes or NULL */
} Shard;

static inline int shard_token(const Shard* s, size_t i) {
    return s->bpt == 1 ? s->tokens[i] : (int)(s->tokens[2 * i] | (s->tokens[2 * i + 1] << 8));
}
static void shard_close(Shard* s) { free(s->buf); memset(s, 0, sizeof(*s)); }

static int shard_write(const char* path, const int* tokens, size_t n, int vocab_size, const uint8_t* mask) {
    int bpt = vocab_size <= 256 ? 1 : 2;
    uint8_t hdr[SHARD_HEADER] = {0};
    uint32_t u32[6] = {1, SHARD_HEADER, 0, 0, 0, 0};
    uint64_t n64 = n;
    memcpy(hdr, SHARD_MAGIC, 8);
    memcpy(hdr + 8, u32, 8);
    memcpy(hdr + 16, &n64, 8);
    u32[0] = bpt; u32[1] = vocab_size; u32[2] = mask ? 1 : 0;
    memcpy(hdr + 24, u32, 12);
    char tmp[4200];
    FILE* f = atomic_begin(path, tmp, sizeof(tmp));
    if (!f) return -1;
    int ok = fwrite(hdr, 1, SHARD_HEADER, f) == SHARD_HEADER;
    for (size_t i = 0; i < n && ok; i++) {
        uint8_t b[2] = {(uint8_t)(tokens[i] & 255), (uint8_t)(tokens[i] >> 8)};
        ok = fwrite(b, 1, bpt, f) == (size_t)bpt;
    }
    if (mask && ok) ok = fwrite(mask, 1, n, f) == n;
    return atomic_end(f, ok, tmp, path);
}

static int shard_open(Shard* s, const char* path) {
    memset(s, 0, sizeof(*s));
    FILE* f = fopen(path, "rb");
    if (!f) return sm_fail("cannot open data shard %s: %s", path, strerror(errno));
    fseek(f, 0, SEEK_END);
    long size = ftell(f);
    fseek(f, 0, SEEK_SET);
    if (size < SHARD_HEADER) { fclose(f); return sm_fail("%s: truncated shard (%ld bytes, header needs %d)", path, size, SHARD_HEADER); }
    s->buf = (uint8_t*)mallocCheck((size_t)size);
    size_t got = fread(s->buf, 1, (size_t)size, f);
    fclose(f);
    if (got != (size_t)size) { shard_close(s); return sm_fail("%s: read error", path); }
    uint32_t version, hbytes, bpt, vocab, flags;
    uint64_t n;
    memcpy(&version, s->buf + 8, 4); memcpy(&hbytes, s->buf + 12, 4); memcpy(&n, s->buf + 16, 8);
    memcpy(&bpt, s->buf + 24, 4); memcpy(&vocab, s->buf + 28, 4); memcpy(&flags, s->buf + 32, 4);
    const char* why = NULL;
    if (memcmp(s->buf, SHARD_MAGIC, 8)) why = "bad magic (not a seqmodels shard)";
    else if (version != 1) why = "unsupported version";
    else if (hbytes != SHARD_HEADER) why = "bad header size";
    else if (bpt != 1 && bpt != 2) why = "bytes per token must be 1 or 2";
    else if (vocab < 2 || vocab > (bpt == 1 ? 256u : 65536u)) why = "vocab size does not fit the token width";
    else if (flags & ~1u) why = "unknown flags";
    else if (n < 2 || n > ((uint64_t)1 << 40)) why = "token count out of range";
    else if ((uint64_t)size != SHARD_HEADER + n * (bpt + (flags & 1)))
        return shard_close(s), sm_fail("%s: size %ld does not match its header (%llu tokens x %u bytes%s): truncated or corrupt",
                                        path, size, (unsigned long long)n, bpt, (flags & 1) ? " + mask" : "");
    if (why) { shard_close(s); return sm_fail("%s: %s", path, why); }
    s->n = n; s->bpt = bpt; s->vocab_size = vocab;
    s->tokens = s->buf + SHARD_HEADER;
    s->mask = (flags & 1) ? s->tokens + n * bpt : NULL;
    for (size_t i = 0; i < n; i++)
        if (shard_token(s, i) >= (int)vocab) { shard_close(s); return sm_fail("%s: token %zu out of vocab", path, i); }
    for (size_t i = 0; s->mask && i < n; i++)
        if (s->mask[i] > 1) { shard_close(s); return sm_fail("%s: mask byte %zu is not 0/1", path, i); }
    return 0;
}

/* byte-level text prep: the first 90% of the bytes -> train shard, the rest -> val (nanoGPT) */
static int prep_text(const char* txt_path, const char* train_path, const char* val_path) {
    FILE* f = fopen(txt_path, "rb");
    if (!f) return sm_fail("cannot open text %s: %s", txt_path, strerror(errno));
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    if (n < 20) { fclose(f); return sm_fail("%s: too little text (%ld bytes)", txt_path, n); }
    uint8_t* bytes = (uint8_t*)mallocCheck(n);
    int* tok = (int*)mallocCheck(n * sizeof(int));
    size_t got = fread(bytes, 1, n, f);
    fclose(f);
    if (got != (size_t)n) { free(bytes); free(tok); return sm_fail("%s: read error", txt_path); }
    for (long i = 0; i < n; i++) tok[i] = bytes[i];
    size_t n_train = (size_t)(n * 0.9);
    int rc = shard_write(train_path, tok, n_train, 256, NULL);
    if (!rc) rc = shard_write(val_path, tok + n_train, n - n_train, 256, NULL);
    free(bytes);
    free(tok);
    return rc;
}

/* Resolve -d: "shakespeare" (prepared from data/tinyshakespeare.txt on first use), a .txt file
 * (prepared into <name>_train.bin / <name>_val.bin beside it), or a prefix of existing shards. */
static int data_resolve(const char* data, char* train, char* val, size_t cap, int verbose) {
    char prefix[4096], txt[4096] = "";
    if (!strcmp(data, "shakespeare")) {
        snprintf(prefix, sizeof(prefix), "data/shakespeare");
        snprintf(txt, sizeof(txt), "data/tinyshakespeare.txt");
    } else if (ends_with(data, ".txt")) {
        snprintf(prefix, sizeof(prefix), "%.*s", (int)(strlen(data) - 4), data);
        snprintf(txt, sizeof(txt), "%s", data);
    } else {
        snprintf(prefix, sizeof(prefix), "%s", data);
    }
    snprintf(train, cap, "%s_train.bin", prefix);
    snprintf(val, cap, "%s_val.bin", prefix);
    if (txt[0] && (access(train, R_OK) || access(val, R_OK))) {
        if (access(txt, R_OK))
            return sm_fail("data '%s': cannot read %s (run from the repository root, or pass -d PATH)", data, txt);
        if (verbose) printf("preparing %s -> %s, %s (bytes, 90/10 split)\n", txt, train, val);
        return prep_text(txt, train, val);
    }
    if (access(train, R_OK))
        return sm_fail("data '%s': no shard %s (and not shakespeare, a .txt file or a task: ar, induction, mqar, dfa, copy, "
                       "prefix_ngram, suffix_ngram)", data, train);
    return 0;
}

/* (inputs, targets, mask) of the window of T+1 tokens starting at `start` */
static void shard_window(const Shard* s, size_t start, int T, int* inputs, int* targets, uint8_t* mask) {
    for (int t = 0; t < T; t++) {
        inputs[t] = shard_token(s, start + t);
        targets[t] = shard_token(s, start + t + 1);
        if (mask) mask[t] = s->mask ? s->mask[start + t] : 1;
    }
}
/* a training batch: B windows at random starts (nanoGPT's sampler) */
static void shard_random_batch(const Shard* s, uint64_t* rng, int B, int T, int* inputs, int* targets, uint8_t* mask) {
    for (int b = 0; b < B; b++)
        shard_window(s, rng_below(rng, s->n - T), T, inputs + b * T, targets + b * T, mask ? mask + b * T : NULL);
}
/* the windows of a deterministic evaluation: n_windows starts spread evenly over the shard, or
 * (n_windows == 0) every non-overlapping window. Returns how many there are. */
static size_t eval_window_count(const Shard* s, int T, size_t n_windows) {
    size_t all = (s->n - 1) / T;
    return n_windows == 0 || n_windows > all ? all : n_windows;
}
static size_t eval_window_start(const Shard* s, int T, size_t n_windows, size_t i) {
    size_t all = (s->n - 1) / T;
    if (n_windows == 0 || n_windows >= all) return i * T;
    return n_windows == 1 ? 0 : i * ((s->n - T - 1) / (n_windows - 1));
}

/* ============================================================================================
 * 9b. Synthetic tasks (data/tasks.h: AR, induction head, MQAR, DFA languages, copy, n-gram
 * lookup) as a data source: fixed train and test sets of padded rows, or fresh packed rows
 * (copy/lookup), each with a loss mask and a metric mask over the target positions.
 * ============================================================================================ */
#include "data/tasks.h"

/* where a trainer's batches come from: a pair of shards, or a task */
typedef struct {
    int is_task;
    Shard train, val;             /* text */
    TaskConfig tc;                /* task */
    TaskSet train_set, test_set;
    int answer_loss;              /* training rows use the metric mask as their loss mask */
    int vocab_size;
} DataSource;

static int task_is_packed(const TaskConfig* tc) { return tc->task >= TASK_COPY; }

/* (inputs, targets, mask) of T positions of one example row: tokens and its loss mask */
static void task_row_io(const int* tok, const uint8_t* lm, int T, int* inputs, int* targets, uint8_t* mask) {
    for (int t = 0; t < T; t++) {
        inputs[t] = tok[t];
        targets[t] = tok[t + 1];
        mask[t] = lm[t];
    }
}
/* rows [r0, r0 + n) of a set as one batch, as long as its longest row; returns that T */
static int taskset_batch(const TaskSet* s, int r0, int n, int* inputs, int* targets, uint8_t* mask) {
    int T = 1;
    for (int b = 0; b < n; b++) T = s->len[r0 + b] - 1 > T ? s->len[r0 + b] - 1 : T;
    for (int b = 0; b < n; b++) {
        size_t row = (size_t)(r0 + b) * s->max_len; // shorter rows run on into their padding, masked out
        task_row_io(s->tokens + row, s->loss_mask + row, T, inputs + b * T, targets + b * T, mask + b * T);
    }
    return T;
}
/* one training row of T inputs from a fixed set row or a fresh packed row */
static void task_row(const DataSource* ds, uint64_t* rng, int T, int* inputs, int* targets, uint8_t* mask, int* scratch,
                     uint8_t* scratch_mask) {
    const int* tok;
    const uint8_t* lm;
    if (task_is_packed(&ds->tc)) { // copy / lookups: random examples packed into T + 1 tokens
        task_packed_row(&ds->tc, rng, scratch, scratch_mask, T + 1);
        tok = scratch;
        lm = scratch_mask;
    } else { // a uniformly drawn row of the fixed training set (rows are max_len = T + 1 long)
        const TaskSet* s = &ds->train_set;
        size_t r = rng_below(rng, (uint64_t)s->n);
        tok = s->tokens + r * s->max_len;
        lm = (ds->answer_loss ? s->metric_mask : s->loss_mask) + r * s->max_len;
    }
    task_row_io(tok, lm, T, inputs, targets, mask);
}
static void data_batch(const DataSource* ds, uint64_t* rng, int B, int T, int* inputs, int* targets, uint8_t* mask, int* scratch,
                       uint8_t* scratch_mask) {
    if (!ds->is_task) { shard_random_batch(&ds->train, rng, B, T, inputs, targets, mask); return; }
    for (int b = 0; b < B; b++) task_row(ds, rng, T, inputs + b * T, targets + b * T, mask + b * T, scratch, scratch_mask);
}
/* --prep: a task's sets as shards. Examples are concatenated; the mask is the loss mask, and 0
 * at each example's last token so that no scored prediction crosses into the next example.
 * Copy/lookup train on fresh packed rows: their train shard holds n_train (default 10000) of them. */
static int task_write_shards(const DataSource* ds, const char* prefix) {
    char path[4200];
    for (int split = 0; split < 2; split++) {
        const TaskSet* s = split == 0 ? &ds->train_set : &ds->test_set;
        int packed = split == 0 && task_is_packed(&ds->tc), rows = packed ? (s->n > 0 ? s->n : 10000) : s->n;
        int row_len = packed ? ds->tc.context_len : s->max_len;
        int* tok = (int*)mallocCheck((size_t)rows * row_len * sizeof(int));
        uint8_t* mask = (uint8_t*)mallocCheck((size_t)rows * row_len);
        uint64_t rng = hash64(ds->tc.seed ^ 0x5EED5);
        size_t n = 0;
        for (int r = 0; r < rows; r++) {
            if (packed) {
                task_packed_row(&ds->tc, &rng, tok + n, mask + n, row_len);
                mask[n + row_len - 1] = 0;
                n += row_len;
                continue;
            }
            int len = s->len[r];
            memcpy(tok + n, s->tokens + (size_t)r * s->max_len, len * sizeof(int));
            memcpy(mask + n, s->loss_mask + (size_t)r * s->max_len, len - 1);
            mask[n + len - 1] = 0;
            n += len;
        }
        snprintf(path, sizeof(path), "%s_%s.bin", prefix, split == 0 ? "train" : "val");
        int rc = shard_write(path, tok, n, ds->vocab_size, mask);
        free(tok);
        free(mask);
        if (rc) return -1;
        printf("wrote %s: %zu tokens in %d examples%s\n", path, n, rows, packed ? " (packed rows)" : "");
    }
    return 0;
}
static void data_close(DataSource* ds) {
    if (ds->is_task) {
        taskset_free(&ds->train_set);
        taskset_free(&ds->test_set);
    } else {
        shard_close(&ds->train);
        shard_close(&ds->val);
    }
}

/* ============================================================================================
 * 10. Command line shared by train_cpu and train_gpu
 * ============================================================================================ */

typedef struct {
    Config model;         /* architecture and sizes (vocab and block size come from data / -t) */
    char data[4096];      /* -d */
    int batch, seq_len, steps, stop_at;
    double time_limit; /* seconds of training, then stop as with stop_at (0 = none) */
    OptimConfig optim;
    long long seed;
    int eval_every, eval_batches;
    char out[4096], resume[4096], log[4096];
    int save_every;
    int save_best; /* with -o: write the checkpoint only when the periodic val loss improves */
    int sample_len, top_k;
    double temperature;
    char prompt[1024];
    char eval_ckpt[4096], debug_out[4096];
    int threads;
    int fp32; /* train_gpu: fp32 matmuls and attention instead of bf16 tensor cores */
    int cuda_graph; /* train_gpu: replay each training step as one CUDA graph (0: launch kernels one by one) */
    int recompute;  /* train_gpu (transformers): what the backward recomputes instead of keeping (0-2) */
    int n_layer_set; /* -L was given (else SSMs double the default depth) */
    /* synthetic tasks (-d TASK; data/tasks.h): -1 = the task's default */
    int task_vocab, task_len, num_pairs, n_train, n_test, min_len, max_len, min_eval_len, max_eval_len, n_gram;
    long long data_seed;
    int answer_loss; /* task: train on the metric's positions only (AR/IH: the answer), not the task's loss mask */
    char plot[4096]; /* PNG plots PREFIX_*.png at the end of training */
    char prep[4096]; /* with a task: write PREFIX_train.bin / PREFIX_val.bin and exit */
} Args;

/* Defaults both trainers share: nanoGPT's Shakespeare-char recipe (lr 1e-3 cosine to 1e-4 after
 * 100 warmup steps, AdamW b2 0.99, wd 0.1, clip 1, eval every 250). Each trainer then sets the
 * model and batch sizes that fit its machine. */
static Args args_defaults(void) {
    Args a;
    memset(&a, 0, sizeof(a));
    strcpy(a.model.model, "gpt");
    strcpy(a.data, "shakespeare");
    a.model.pos = -1;
    a.model.num_masked_heads = -1;
    a.model.embd_dropout = -1;
    a.stop_at = -1;
    a.task_vocab = a.task_len = a.num_pairs = a.n_train = a.n_test = -1;
    a.min_len = a.max_len = a.min_eval_len = a.max_eval_len = a.n_gram = -1;
    a.data_seed = -1;
    a.optim.lr = 1e-3;
    a.optim.min_lr = 1e-4;
    a.optim.warmup = 100;
    a.optim.decay_steps = -1;
    a.optim.beta1 = 0.9;
    a.optim.beta2 = 0.99;
    a.optim.eps = 1e-8;
    a.optim.weight_decay = 0.1;
    a.optim.grad_clip = 1.0;
    a.seed = 1337;
    a.eval_every = 250;
    a.eval_batches = 20;
    a.sample_len = 300;
    a.temperature = 1.0;
    strcpy(a.prompt, "\n");
    return a;
}

enum { ARG_INT, ARG_LL, ARG_FLOAT, ARG_DOUBLE, ARG_STR, ARG_POS, ARG_FLAG /* no value: sets 1 */ };
typedef struct {
    const char *name, *alias;
    int type;
    size_t offset; /* into Args */
    const char* help;
} ArgSpec;
#define ARG(name, alias, type, field, help) {name, alias, type, offsetof(Args, field), help}
static const ArgSpec ARG_SPECS[] = {
    ARG("model", "m", ARG_STR, model.model, "architecture (see the list below)"),
    ARG("data", "d", ARG_STR, data, "shakespeare | FILE.txt (prepared on first use) | PREFIX of PREFIX_{train,val}.bin | a task: ar, induction, mqar, dfa, copy, prefix_ngram, suffix_ngram"),
    ARG("pos", "", ARG_POS, model.pos, "positions: learned | rope | nope | alibi | hard_alibi (default: gpt learned, llama rope)"),
    ARG("n_layer", "L", ARG_INT, model.n_layer, "layers (blocks); mamba/longhorn blocks have no MLP, so without -L they get twice this"),
    ARG("n_head", "H", ARG_INT, model.n_head, "attention heads"),
    ARG("n_embd", "C", ARG_INT, model.n_embd, "model width"),
    ARG("mlp_hidden", "", ARG_INT, model.mlp_hidden, "MLP hidden width (0 = gpt 4C, llama 256*ceil(8C/3/256))"),
    ARG("num_masked_heads", "", ARG_INT, model.num_masked_heads, "hard_alibi: windowed heads (-1 = round(2H/3))"),
    ARG("d_state", "", ARG_INT, model.d_state, "mamba, longhorn: state size N (0 = 16)"),
    ARG("expand", "", ARG_INT, model.expand, "mamba, longhorn: inner width E = expand * C (0 = 2)"),
    ARG("d_conv", "", ARG_INT, model.d_conv, "mamba, longhorn: causal conv width W (0 = 4)"),
    ARG("dt_rank", "", ARG_INT, model.dt_rank, "mamba, longhorn: rank R of the step-size projection (0 = ceil(C/16))"),
    ARG("bias", "", ARG_INT, model.bias, "1 = Linear/LayerNorm biases (GPT-2), 0 = none (nanoGPT bias=False)"),
    ARG("dropout", "", ARG_FLOAT, model.dropout, "dropout on embeddings and residual branches"),
    ARG("attn_dropout", "", ARG_FLOAT, model.attn_dropout, "dropout on the attention probabilities"),
    ARG("embd_dropout", "", ARG_FLOAT, model.embd_dropout, "dropout on the embedding output (-1 = --dropout)"),
    ARG("batch", "b", ARG_INT, batch, "batch size"),
    ARG("seq_len", "t", ARG_INT, seq_len, "sequence length (= block size of a new model)"),
    ARG("steps", "n", ARG_INT, steps, "optimizer steps"),
    ARG("lr", "", ARG_DOUBLE, optim.lr, "peak learning rate"),
    ARG("min_lr", "", ARG_DOUBLE, optim.min_lr, "final learning rate of the cosine decay"),
    ARG("warmup", "", ARG_INT, optim.warmup, "linear warmup steps"),
    ARG("linear_decay", "", ARG_FLAG, optim.linear_decay, "decay the lr linearly to --min_lr instead of cosine (seq_icl's schedule)"),
    ARG("decay_steps", "", ARG_INT, optim.decay_steps, "cosine decay ends here (-1 = steps)"),
    ARG("beta1", "", ARG_DOUBLE, optim.beta1, "AdamW beta1"),
    ARG("beta2", "", ARG_DOUBLE, optim.beta2, "AdamW beta2"),
    ARG("wd", "", ARG_DOUBLE, optim.weight_decay, "AdamW weight decay (matrices and embeddings only)"),
    ARG("clip", "", ARG_DOUBLE, optim.grad_clip, "global grad-norm clip (0 = off)"),
    ARG("seed", "", ARG_LL, seed, "random seed (init, batches, dropout, sampling)"),
    ARG("eval_every", "", ARG_INT, eval_every, "val loss every N steps (0 = only at the end)"),
    ARG("eval_batches", "", ARG_INT, eval_batches, "val batches per eval (evenly spaced windows; 0 = whole val split)"),
    ARG("out", "o", ARG_STR, out, "checkpoint path (safetensors) written at the end and every --save_every"),
    ARG("save_every", "", ARG_INT, save_every, "checkpoint every N steps (0 = only at the end)"),
    ARG("save_best", "", ARG_FLAG, save_best, "with -o: write the checkpoint only when the periodic val loss improves (within this run)"),
    ARG("resume", "", ARG_STR, resume, "resume training bit-exactly from this checkpoint"),
    ARG("stop_at", "", ARG_INT, stop_at, "stop after this step as if interrupted (-1 = run to --steps)"),
    ARG("time_limit", "", ARG_DOUBLE, time_limit, "stop as with --stop_at once this many seconds of training have passed (0 = no limit)"),
    ARG("log", "", ARG_STR, log, "CSV log of every step and eval (step,split,loss,lr,grad_norm,ms)"),
    ARG("sample_len", "", ARG_INT, sample_len, "bytes to sample after training (0 = none)"),
    ARG("temperature", "", ARG_DOUBLE, temperature, "sampling temperature (0 = greedy)"),
    ARG("top_k", "", ARG_INT, top_k, "sample from the top k tokens (0 = all)"),
    ARG("prompt", "", ARG_STR, prompt, "sampling prompt"),
    ARG("eval", "", ARG_STR, eval_ckpt, "evaluation mode: load this checkpoint, print the loss of one fixed val batch"),
    ARG("debug_out", "", ARG_STR, debug_out, "with --eval: write inputs, targets, logits[0,0], loss, grads (safetensors)"),
    ARG("threads", "", ARG_INT, threads, "OpenMP threads (0 = all cores); train_cpu splits each training batch over them"),
    ARG("fp32", "", ARG_FLAG, fp32, "train_gpu: fp32 matmuls and attention (for GPU vs CPU checks) instead of bf16 tensor cores"),
    ARG("recompute", "", ARG_INT, recompute, "train_gpu, gpt/llama: activations recomputed in the backward instead of kept per layer: 0 = none, 1 = the MLP activation (GELU/SwiGLU), 2 = also both norms' outputs"),
    ARG("cuda_graph", "", ARG_INT, cuda_graph, "train_gpu: 1 = capture the training step once as a CUDA graph and replay it, 0 = launch its kernels one by one"),
    ARG("task_vocab", "", ARG_INT, task_vocab, "task: vocabulary (ar, induction, mqar, dfa: the model's; copy, lookups: letters) (-1 = task default)"),
    ARG("task_len", "", ARG_INT, task_len, "task: sequence length (ar, induction: the key-value / random body; mqar: all)"),
    ARG("num_pairs", "", ARG_INT, num_pairs, "mqar: key-value pairs (all of them queried)"),
    ARG("n_train", "", ARG_INT, n_train, "task: examples in the fixed training set"),
    ARG("n_test", "", ARG_INT, n_test, "task: test examples (copy, lookups: per eval length)"),
    ARG("min_len", "", ARG_INT, min_len, "task: copy/lookup training string length from; dfa: examples per sequence from"),
    ARG("max_len", "", ARG_INT, max_len, "task: ... to (inclusive for copy/lookup, exclusive for dfa)"),
    ARG("min_eval_len", "", ARG_INT, min_eval_len, "copy, lookups: shortest string of the length-generalisation eval"),
    ARG("max_eval_len", "", ARG_INT, max_eval_len, "copy, lookups: longest string of the length-generalisation eval"),
    ARG("n_gram", "", ARG_INT, n_gram, "prefix_ngram, suffix_ngram: n-gram length"),
    ARG("data_seed", "", ARG_LL, data_seed, "task: seed of the generated train/test sets (-1 = the task's default, 0)"),
    ARG("answer_loss", "", ARG_FLAG, answer_loss, "task: train only on the positions the metric scores (ar, induction: the answer) instead of every position"),
    ARG("prep", "", ARG_STR, prep, "PREFIX: with -d TASK, write the task's sets as shards PREFIX_train.bin, PREFIX_val.bin (with the loss mask) and exit"),
    ARG("plot", "", ARG_STR, plot, "PREFIX: at the end write PREFIX_loss.png, and for tasks PREFIX_metric.png (+ PREFIX_length.png for copy/lookup)"),
};
#define N_ARG_SPECS ((int)(sizeof(ARG_SPECS) / sizeof(ARG_SPECS[0])))

static void args_print_value(const Args* a, const ArgSpec* s, char* buf, size_t cap) {
    const char* p = (const char*)a + s->offset;
    switch (s->type) {
    case ARG_INT: snprintf(buf, cap, "%d", *(const int*)p); break;
    case ARG_FLAG: snprintf(buf, cap, "%s", *(const int*)p ? "on" : "off"); break;
    case ARG_LL: snprintf(buf, cap, "%lld", *(const long long*)p); break;
    case ARG_FLOAT: snprintf(buf, cap, "%g", *(const float*)p); break;
    case ARG_DOUBLE: snprintf(buf, cap, "%g", *(const double*)p); break;
    case ARG_POS: snprintf(buf, cap, "%s", *(const int*)p < 0 ? "(model default)" : POS_NAMES[*(const int*)p]); break;
    default: { // quoted, with newlines and tabs shown as escapes
        size_t o = 0;
        buf[o++] = '"';
        for (; *p && o + 4 < cap; p++) {
            if (*p == '\n' || *p == '\t') { buf[o++] = '\\'; buf[o++] = *p == '\n' ? 'n' : 't'; }
            else buf[o++] = *p;
        }
        buf[o++] = '"';
        buf[o] = 0;
    }
    }
}
static void args_usage(const char* prog, const Args* defaults) {
    printf("usage: %s [flags]\n\nflags (-x VALUE or --name VALUE, or just --name for on/off; default in brackets):\n", prog);
    for (int i = 0; i < N_ARG_SPECS; i++) {
        const ArgSpec* s = &ARG_SPECS[i];
        char flag[64], val[256];
        snprintf(flag, sizeof(flag), "%s%s%s--%s", s->alias[0] ? "-" : "", s->alias, s->alias[0] ? ", " : "    ", s->name);
        args_print_value(defaults, s, val, sizeof(val));
        printf("  %-24s %s [%s]\n", flag, s->help, val);
    }
    printf("  %-24s %s\n\narchitectures:\n", "-h, --help", "this help");
    for (int i = 0; i < N_ARCHS; i++) printf("  %-10s %s\n", ARCHS[i]->name, ARCHS[i]->about);
}
/* parse argv over defaults; on a bad flag or value: sm_err and -1. Returns 1 for -h. */
static int args_parse(Args* a, int argc, char** argv) {
    for (int i = 1; i < argc; i++) {
        const char* arg = argv[i];
        if (!strcmp(arg, "-h") || !strcmp(arg, "--help")) return 1;
        const char* key = arg[0] == '-' ? (arg[1] == '-' ? arg + 2 : arg + 1) : NULL;
        const ArgSpec* s = NULL;
        for (int k = 0; key && k < N_ARG_SPECS && !s; k++)
            if (!strcmp(key, ARG_SPECS[k].name) || (ARG_SPECS[k].alias[0] && !strcmp(key, ARG_SPECS[k].alias))) s = &ARG_SPECS[k];
        if (!s) return sm_fail("unknown flag '%s' (try -h)", arg);
        if (s->offset == offsetof(Args, model.n_layer)) a->n_layer_set = 1;
        if (s->type == ARG_FLAG) {
            *(int*)((char*)a + s->offset) = 1;
            continue;
        }
        if (i + 1 >= argc) return sm_fail("flag '%s' needs a value", arg);
        const char* v = argv[++i];
        char* p = (char*)a + s->offset;
        char* end = NULL;
        errno = 0;
        switch (s->type) {
        case ARG_INT: {
            long x = strtol(v, &end, 10);
            if (!*v || *end || errno || x < -2147483647L || x > 2147483647L) return sm_fail("flag '%s': '%s' is not an integer", arg, v);
            *(int*)p = (int)x;
            break;
        }
        case ARG_LL: {
            long long x = strtoll(v, &end, 10);
            if (!*v || *end || errno) return sm_fail("flag '%s': '%s' is not an integer", arg, v);
            *(long long*)p = x;
            break;
        }
        case ARG_FLOAT:
        case ARG_DOUBLE: {
            double x = strtod(v, &end);
            if (!*v || *end || errno || !isfinite(x)) return sm_fail("flag '%s': '%s' is not a number", arg, v);
            if (s->type == ARG_FLOAT) *(float*)p = (float)x; else *(double*)p = x;
            break;
        }
        case ARG_POS:
            if ((*(int*)p = pos_from_name(v)) < 0) return sm_fail("flag '%s': unknown position variant '%s' (learned, rope, nope, alibi, hard_alibi)", arg, v);
            break;
        default: {
            size_t cap = s->offset == offsetof(Args, model.model) ? sizeof(a->model.model)
                         : s->offset == offsetof(Args, prompt) ? sizeof(a->prompt) : sizeof(a->data);
            if (strlen(v) >= cap) return sm_fail("flag '%s': value too long", arg);
            strcpy(p, v);
        }
        }
    }
    // values that can be checked before any data or checkpoint is read
    if (!arch_find(a->model.model)) return sm_fail("unknown model '%s' (try -h for the list)", a->model.model);
    // the Longhorn repository's convention (ssm.md §5): SSM blocks have no MLP, so a run of n
    // Transformer layers gets 2n of them
    if (!a->n_layer_set && is_ssm_name(a->model.model)) a->model.n_layer *= 2;
    if (a->batch < 1) return sm_fail("batch size must be >= 1, got %d", a->batch);
    if (a->seq_len < 1) return sm_fail("sequence length must be >= 1, got %d", a->seq_len);
    if (a->steps < 0) return sm_fail("steps must be >= 0, got %d", a->steps);
    if (a->model.d_state < 0 || a->model.expand < 0 || a->model.d_conv < 0 || a->model.dt_rank < 0)
        return sm_fail("d_state, expand, d_conv and dt_rank must be >= 0 (0 = the default)");
    if (a->model.n_layer < 1 || a->model.n_head < 1 || a->model.n_embd < 1)
        return sm_fail("n_layer, n_head and n_embd must be >= 1 (got %d, %d, %d)", a->model.n_layer, a->model.n_head, a->model.n_embd);
    if (a->optim.lr < 0 || a->optim.min_lr < 0) return sm_fail("learning rates must be >= 0");
    if (a->optim.warmup < 0) return sm_fail("warmup must be >= 0");
    if (a->optim.beta1 < 0 || a->optim.beta1 >= 1 || a->optim.beta2 < 0 || a->optim.beta2 >= 1) return sm_fail("betas must be in [0, 1)");
    if (a->eval_every < 0 || a->eval_batches < 0 || a->save_every < 0 || a->sample_len < 0 || a->top_k < 0 || a->threads < 0)
        return sm_fail("eval_every, eval_batches, save_every, sample_len, top_k and threads must be >= 0");
    if (a->debug_out[0] && !a->eval_ckpt[0]) return sm_fail("--debug_out needs --eval CHECKPOINT");
#ifndef SM_PLOTS
    if (a->plot[0]) return sm_fail("--plot needs stb_image_write.h at build time (Debian: apt-get install libstb-dev, then make clean all)");
#endif
    if (a->save_best && (!a->out[0] || a->eval_every == 0)) return sm_fail("--save_best needs -o PATH and --eval_every > 0");
    if (a->optim.decay_steps < 0) a->optim.decay_steps = a->steps;
    if (a->optim.decay_steps <= a->optim.warmup) a->optim.decay_steps = a->optim.warmup + 1;
    return 0;
}

/* ============================================================================================
 * 11. The trainer shared by train_cpu and train_gpu. A Backend says where the model runs; the
 * loop, evals, checkpoints, resume, sampling and the eval mode are written once, here.
 * ============================================================================================ */

typedef struct Backend Backend;
struct Backend {
    const char* name;
    int host_acts; /* 1: activations live in the host Model (CPU); 0: the backend keeps its own */
    void (*init)(Backend* be, Model* m, int B, int T); /* after the host model is built or loaded */
    double (*forward)(Backend* be, Model* m, const int* inputs, const int* targets, const uint8_t* mask, int B, int T);
    void (*backward)(Backend* be, Model* m, const int* inputs, const int* targets, const uint8_t* mask, int B, int T);
    void (*zero_grad)(Backend* be, Model* m);
    double (*update)(Backend* be, Model* m, const OptimConfig* o, double lr, int t); /* norm, clip, AdamW -> norm */
    /* optional: zero_grad + forward + backward + update in one call (-> loss, *norm); the GPU
     * backend runs the whole step on the device, as one CUDA graph */
    double (*train_step)(Backend* be, Model* m, const int* inputs, const int* targets, const uint8_t* mask, int B, int T,
                         const OptimConfig* o, double lr, int t, double* norm);
    void (*logits_rows)(Backend* be, Model* m, int row0, int n, real* out); /* logits (n, V) at positions row0.. of the last forward */
    void (*to_host)(Backend* be, Model* m); /* params, grads, AdamW m, v -> the host Model's buffers */
    void* ctx;
    const Args* args;                 /* set by train_main before init */
    double peak_flops;                /* > 0: the progress line shows MFU against it (set by init) */
    double (*mem_mib)(Backend* be);   /* optional: device memory in use, for the progress line */
};

/* the CPU backend: the host Model itself */
static void cpu_init(Backend* be, Model* m, int B, int T) { (void)be; (void)m; (void)B; (void)T; }
static double cpu_forward(Backend* be, Model* m, const int* in, const int* tg, const uint8_t* mask, int B, int T) {
    (void)be;
    return model_forward(m, in, tg, mask, B, T);
}
static void cpu_backward(Backend* be, Model* m, const int* in, const int* tg, const uint8_t* mask, int B, int T) {
    (void)be;
    model_backward(m, in, tg, mask, B, T);
}
static void cpu_zero_grad(Backend* be, Model* m) { (void)be; model_zero_grad(m); }
static double cpu_update(Backend* be, Model* m, const OptimConfig* o, double lr, int t) {
    (void)be;
    double norm = grad_norm(m->grads, m->pt.total);
    if (!isfinite(norm)) return norm;
    grad_clip(m->grads, m->pt.total, norm, o->grad_clip);
    adamw_step(m, o, lr, t);
    return norm;
}

/* The training step's forward and backward, data parallel over R threads: thread r takes the
 * batch rows b0 = r B / R .. b1 and runs the whole model on them, every op on that one thread
 * (the ops' own parallel loops are nested in this one, so OpenMP runs them with a team of one).
 * Each thread has a replica of the model: the same parameters, its own activations and gradient
 * buffer (replica 0 uses the Model's own); the gradients are then added in replica order.
 *
 * It runs when the batch's rows divide evenly over the threads and the replicas' gradient
 * buffers ((threads - 1) x the parameters) take at most SM_SPLIT_MAX_BYTES; otherwise the step
 * splits each op over the threads, as eval always does.
 *
 * Why: splitting every op over the threads costs a fork and join per op (~115 per step of the
 * nanoGPT CPU config), a thread often waits on the other at a join, and a thread reads rows the
 * other one wrote, from the other core's cache. A split batch has one join per step, and each
 * thread's rows stay in its own core's caches: 1.03-1.15x faster steps on two vCPUs in
 * alternating runs (README, CPU speed).
 *
 * The result is the same function of the parameters, summed in another order: the gradient of
 * each weight is a sum over the batch's rows, now in R groups. So runs with different thread
 * counts differ in the last bits; with the same count they give the same bits (and resume
 * exactly). Each replica's dropout masks come from its own seed: replica r's rows are not the
 * whole batch's rows r B / R.., and masks drawn by local position would repeat across replicas. */
typedef struct {
    int R, Bs, T; /* the replicas' shape: (Bs, T) activations each */
    Model* view;  /* (R) replica r: the Model's parameters, table and config; its own buffers for r >= 1 */
} CpuReplicas;
static void cpu_replicas_free(CpuReplicas* rp) {
    for (int r = 1; r < rp->R; r++) {
        Model* q = &rp->view[r];
        free(q->grads); free(q->acts); free(q->dacts); free(q->logits); free(q->dlogits); free(q->probs); free(q->losses);
    }
    free(rp->view);
    memset(rp, 0, sizeof(*rp));
}
static double cpu_forward_backward_split(CpuReplicas* rp, Model* m, const int* in, const int* tg, const uint8_t* mask, int B,
                                         int T, int R) {
    int Bs = (B + R - 1) / R, V = m->cfg.vocab_size;
    size_t P = m->pt.total;
    if (rp->R != R || rp->Bs != Bs || rp->T != T) { // (first step, or a new shape: buffers for it)
        cpu_replicas_free(rp);
        rp->view = (Model*)mallocCheck(R * sizeof(Model));
        for (int r = 0; r < R; r++) {
            Model* q = &rp->view[r];
            *q = *m;
            if (r == 0) continue;
            size_t BT = (size_t)Bs * T;
            q->maxB = Bs, q->maxT = T, q->n_acts = m->arch->acts_size(&m->cfg, Bs, T);
            q->grads = (real*)mallocCheck(P * sizeof(real));
            q->acts = (real*)mallocCheck(q->n_acts * sizeof(real));
            q->dacts = (real*)mallocCheck(q->n_acts * sizeof(real));
            q->logits = (real*)mallocCheck(BT * V * sizeof(real));
            q->dlogits = (real*)mallocCheck(BT * V * sizeof(real));
            q->probs = (real*)mallocCheck(BT * V * sizeof(real));
            q->losses = (real*)mallocCheck(BT * sizeof(real));
        }
        rp->R = R, rp->Bs = Bs, rp->T = T;
    }
    long scored = count_scored(mask, B * T);
    double scale = scored ? 1.0 / scored : 0, loss_sum[SM_MAX_REPLICAS];
#pragma omp parallel for num_threads(R) schedule(static, 1) // (replica r on thread r)
    for (int r = 0; r < R; r++) {
        int b0 = r * B / R, b1 = (r + 1) * B / R, n = (b1 - b0) * T;
        Model* q = &rp->view[r];
        q->params = m->params; // (the flags of this step)
        q->training = m->training;
        q->dropout_seed = r ? hash64(m->dropout_seed + (uint64_t)r * 0x9E3779B97F4A7C15ull) : m->dropout_seed;
        const uint8_t* mk = mask ? mask + (size_t)b0 * T : NULL;
        zero_reals(q->grads, P);
        double mean = model_forward(q, in + (size_t)b0 * T, tg + (size_t)b0 * T, mk, b1 - b0, T);
        loss_sum[r] = mean * count_scored(mk, n);
        model_backward_scaled(q, in + (size_t)b0 * T, tg + (size_t)b0 * T, mk, b1 - b0, T, scale);
    }
    for (int r = 1; r < R; r++) { // in replica order: the same bits on every run
        const real* g = rp->view[r].grads;
#pragma omp parallel for schedule(static) if(P > SM_OMP_MIN)
        for (size_t i = 0; i < P; i++) m->grads[i] += g[i];
    }
    double sum = 0;
    for (int r = 0; r < R; r++) sum += loss_sum[r];
    return scored ? sum / scored : 0;
}
/* zero_grad + forward + backward + update; the batch split over the threads (above) */
static double cpu_train_step(Backend* be, Model* m, const int* in, const int* tg, const uint8_t* mask, int B, int T,
                             const OptimConfig* o, double lr, int t, double* norm) {
    static CpuReplicas replicas;
    int R = sm_threads(); // split when the rows divide evenly (no thread waits on a larger share) and
                          // the replicas' gradient buffers stay small (a copy of the model per thread)
    int split = R > 1 && R <= SM_MAX_REPLICAS && B % R == 0 && (double)(R - 1) * m->pt.total * sizeof(real) <= SM_SPLIT_MAX_BYTES;
    double loss;
    if (split) {
        loss = cpu_forward_backward_split(&replicas, m, in, tg, mask, B, T, R);
    } else {
        cpu_zero_grad(be, m);
        loss = cpu_forward(be, m, in, tg, mask, B, T);
        cpu_backward(be, m, in, tg, mask, B, T);
    }
    *norm = cpu_update(be, m, o, lr, t);
    return loss;
}
static void cpu_logits_rows(Backend* be, Model* m, int row0, int n, real* out) {
    (void)be;
    memcpy(out, m->logits + (size_t)row0 * m->cfg.vocab_size, (size_t)n * m->cfg.vocab_size * sizeof(real));
}
static void cpu_to_host(Backend* be, Model* m) { (void)be; (void)m; }
__attribute__((unused)) static Backend CPU_BACKEND = {.name = "cpu", .host_acts = 1, .init = cpu_init, .forward = cpu_forward,
                                                      .backward = cpu_backward, .zero_grad = cpu_zero_grad, .update = cpu_update,
                                                      .train_step = cpu_train_step, .logits_rows = cpu_logits_rows,
                                                      .to_host = cpu_to_host};

/* Generate n_new tokens after the n_prompt tokens in buf (which must hold n_prompt + n_new).
 * Attention models re-run the (cropped) context for every token; recurrent models carry their
 * state (on the host, also for train_gpu): O(1) per token, and no context limit. */
static void generate(Backend* be, Model* m, int* buf, int n_prompt, int n_new, double temperature, int top_k, uint64_t* rng) {
    int was_training = m->training, maxT = m->cfg.block_size, V = m->cfg.vocab_size;
    real* row = (real*)mallocCheck(V * sizeof(real));
    m->training = 0;
    if (m->arch->step) {
        if (!be->host_acts) be->to_host(be, m); // the recurrent step runs on the host's copy of the weights
        real* state = (real*)calloc(m->arch->state_size(&m->cfg), sizeof(real));
        if (!state) sm_die("out of memory for the decoding state");
        for (int i = 0; i < n_prompt + n_new - 1; i++) {
            m->arch->step(m, state, buf[i], row);
            if (i + 1 >= n_prompt) buf[i + 1] = sample_logits(row, V, temperature, top_k, rng);
        }
        free(state);
        m->training = was_training;
        free(row);
        return;
    }
    for (int i = n_prompt; i < n_prompt + n_new; i++) {
        int T = i < maxT ? i : maxT;
        be->forward(be, m, buf + i - T, NULL, NULL, 1, T);
        be->logits_rows(be, m, T - 1, 1, row);
        buf[i] = sample_logits(row, V, temperature, top_k, rng);
    }
    m->training = was_training;
    free(row);
}


/* Ctrl-C / SIGTERM: finish the current step, write the checkpoint (-o), exit. A second Ctrl-C
 * kills at once. */
static volatile sig_atomic_t stop_requested = 0;
static void on_signal(int sig) {
    stop_requested = sig;
    signal(sig, SIG_DFL);
}

/* mean loss over the evaluation windows of a shard (n_batches == 0: the whole shard) */
static double evaluate(Backend* be, Model* m, const Shard* s, int B, int T, int n_batches, int* inputs, int* targets, uint8_t* mask) {
    size_t n_windows = eval_window_count(s, T, (size_t)n_batches * B);
    double sum = 0;
    long scored = 0;
    m->training = 0;
    for (size_t w0 = 0; w0 < n_windows; w0 += B) {
        int b = n_windows - w0 < (size_t)B ? (int)(n_windows - w0) : B;
        for (int i = 0; i < b; i++)
            shard_window(s, eval_window_start(s, T, n_windows, w0 + i), T, inputs + i * T, targets + i * T, mask + i * T);
        long n = 0;
        for (int i = 0; i < b * T; i++) n += mask[i];
        sum += be->forward(be, m, inputs, targets, mask, b, T) * n;
        scored += n;
    }
    return scored ? sum / scored : 0;
}

/* ---- tasks: the test metric ------------------------------------------------------------------
 * For every target position in the metric mask, the argmax of the logits is correct if it is the
 * target (or, for DFA, any prediction the valid[] bitmask allows). acc = correct positions / metric
 * positions (AR/IH: the last-token accuracy; MQAR: per query; DFA: valid continuations; copy and
 * lookup: characters); acc_seq = rows whose metric positions are all correct (copy and lookup:
 * whole-string exact match, which under teacher forcing is exactly greedy generation's result:
 * greedy decoding reproduces the answer iff every teacher-forced argmax is right). */
typedef struct {
    double loss, acc, acc_seq;
    double acc_last; /* DFA: acc over the positions of each row's last example (after its last '|') */
    long n_pos, n_rows;
} TaskScore;

/* rows [r0, r1) of a task set, B at a time; logits_buf holds T_max x V */
static TaskScore task_score(Backend* be, Model* m, const TaskSet* s, int r0, int r1, int B, int* inputs, int* targets,
                            uint8_t* mask, real* logits_buf) {
    TaskScore sc = {0, 0, 0, 0, 0, 0};
    double loss_sum = 0;
    long loss_n = 0, correct = 0, rows_ok = 0, last_n = 0, last_ok = 0;
    int V = m->cfg.vocab_size;
    m->training = 0;
    for (int c0 = r0; c0 < r1; c0 += B) {
        int b_n = r1 - c0 < B ? r1 - c0 : B, T = taskset_batch(s, c0, b_n, inputs, targets, mask);
        long n = 0;
        for (int i = 0; i < b_n * T; i++) n += mask[i];
        loss_sum += be->forward(be, m, inputs, targets, mask, b_n, T) * n;
        loss_n += n;
        for (int b = 0; b < b_n; b++) {
            const uint8_t* mm = s->metric_mask + (size_t)(c0 + b) * s->max_len;
            const uint32_t* valid = s->valid ? s->valid + (size_t)(c0 + b) * s->max_len : NULL;
            int all_ok = 1, any = 0, last_start = 0; // DFA: the last example starts after the last separator
            if (valid)
                for (int t = 0; t < T; t++) if (inputs[b * T + t] == V - 2) last_start = t;
            for (int t = 0; t < T;) {
                if (!mm[t]) { t++; continue; }
                int t1 = t; // one fetch per run of scored positions
                while (t1 < T && mm[t1]) t1++;
                be->logits_rows(be, m, b * T + t, t1 - t, logits_buf);
                for (int u = t; u < t1; u++) {
                    const real* z = logits_buf + (size_t)(u - t) * V;
                    int best = 0;
                    for (int v = 1; v < V; v++) if (z[v] > z[best]) best = v;
                    int ok = valid ? (int)((valid[u] >> best) & 1) : best == targets[b * T + u];
                    correct += ok;
                    all_ok &= ok;
                    if (valid && u >= last_start) { last_n++; last_ok += ok; }
                    any = 1;
                    sc.n_pos++;
                }
                t = t1;
            }
            if (any) { sc.n_rows++; rows_ok += all_ok; }
        }
    }
    sc.acc_last = last_n ? (double)last_ok / last_n : 0;
    sc.loss = loss_n ? loss_sum / loss_n : 0;
    sc.acc = sc.n_pos ? (double)correct / sc.n_pos : 0;
    sc.acc_seq = sc.n_rows ? (double)rows_ok / sc.n_rows : 0;
    return sc;
}
/* the name of a task's headline metric and its value */
static const char* task_metric_name(const TaskConfig* tc) { return task_is_packed(tc) ? "string acc" : "acc"; }
static double task_metric(const TaskConfig* tc, const TaskScore* sc) { return task_is_packed(tc) ? sc->acc_seq : sc->acc; }

static void print_sample(Backend* be, Model* m, const Args* a, uint64_t* rng) {
    int n_prompt = (int)strlen(a->prompt);
    if (a->sample_len <= 0 || n_prompt == 0) return;
    int* buf = (int*)mallocCheck((size_t)(n_prompt + a->sample_len) * sizeof(int));
    for (int i = 0; i < n_prompt; i++) buf[i] = (unsigned char)a->prompt[i] % m->cfg.vocab_size;
    generate(be, m, buf, n_prompt, a->sample_len, a->temperature, a->top_k, rng);
    printf("---- sample (temperature %g, top_k %d) ----\n", a->temperature, a->top_k);
    for (int i = 0; i < n_prompt + a->sample_len; i++) putchar(buf[i] < 256 ? buf[i] : '?');
    printf("\n----\n");
    free(buf);
}

/* The data of a run: text shards, or a task's sets with sizes from the flags over the task's
 * defaults (tasks.md). Dies with one line on bad data or impossible sizes. */
static void data_open(DataSource* ds, const Args* a) {
    memset(ds, 0, sizeof(*ds));
    int task = task_find(a->data);
    if (task >= 0) {
        TaskConfig* tc = &ds->tc;
        ds->is_task = 1;
        task_defaults(tc, task);
        int* fields[] = {&tc->vocab, &tc->seq_len, &tc->num_pairs, &tc->n_train, &tc->n_test, &tc->min_len, &tc->max_len,
                         &tc->min_eval_len, &tc->max_eval_len, &tc->n_gram};
        const int flags[] = {a->task_vocab, a->task_len, a->num_pairs, a->n_train, a->n_test, a->min_len, a->max_len,
                             a->min_eval_len, a->max_eval_len, a->n_gram};
        for (int k = 0; k < 10; k++) if (flags[k] >= 0) *fields[k] = flags[k];
        if (a->data_seed >= 0) tc->seed = (uint64_t)a->data_seed;
        ds->answer_loss = a->answer_loss;
        if (task_is_packed(tc)) tc->context_len = a->seq_len + 1; // packed training rows fill -t
        if (task_check(tc) || task_make_sets(tc, &ds->train_set, &ds->test_set)) sm_die("task %s", sm_err); // "task ar: ..."
        ds->vocab_size = task_vocab_size(tc);
        return;
    }
    char train_path[4200], val_path[4200];
    if (data_resolve(a->data, train_path, val_path, sizeof(train_path), 1) || shard_open(&ds->val, val_path) ||
        shard_open(&ds->train, train_path))
        sm_die("%s", sm_err);
    if (ds->train.vocab_size != ds->val.vocab_size)
        sm_die("train and val shards disagree on vocab (%d vs %d)", ds->train.vocab_size, ds->val.vocab_size);
    ds->vocab_size = ds->train.vocab_size;
}
/* tokens per training row, and the longest row the model must take (the block size) */
static int data_train_T(const DataSource* ds, const Args* a) {
    if (ds->is_task && !task_is_packed(&ds->tc)) return ds->train_set.max_len - 1;
    return a->seq_len;
}
static int data_max_T(const DataSource* ds, const Args* a) {
    int T = data_train_T(ds, a);
    if (ds->is_task && ds->test_set.max_len - 1 > T) T = ds->test_set.max_len - 1;
    return T;
}

/* --eval: one fixed batch, loss to 7 significant digits (text: the first B evenly spaced val
 * windows; tasks: the first B test rows); with --debug_out also the gradients, written as
 * safetensors for outside checkers */
static int eval_mode(Backend* be, const Args* a, const DataSource* ds) {
    SafeTensors st;
    Config c;
    Model m;
    if (checkpoint_open(&st, a->eval_ckpt, &c)) sm_die("%s", sm_err);
    if (ds->vocab_size > c.vocab_size) sm_die("data vocab %d is larger than the checkpoint's %d", ds->vocab_size, c.vocab_size);
    int B = a->batch, T = ds->is_task ? data_max_T(ds, a) : a->seq_len;
    if (model_build(&m, &c, be->host_acts ? B : 1, be->host_acts ? T : 1, 0) || checkpoint_load(&st, a->eval_ckpt, &m, NULL))
        sm_die("%s", sm_err);
    safetensors_close(&st);
    be->args = a;
    be->init(be, &m, B, T);
    int* inputs = (int*)mallocCheck((size_t)B * T * sizeof(int));
    int* targets = (int*)mallocCheck((size_t)B * T * sizeof(int));
    uint8_t* mask = (uint8_t*)mallocCheck((size_t)B * T);
    if (ds->is_task) {
        const TaskSet* s = &ds->test_set;
        if (s->n < B) sm_die("the test set has %d rows, fewer than the batch %d", s->n, B);
        T = taskset_batch(s, 0, B, inputs, targets, mask);
    } else {
        size_t n_windows = eval_window_count(&ds->val, T, B);
        if (n_windows < (size_t)B) sm_die("val split too short for %d windows of %d tokens", B, T);
        for (int b = 0; b < B; b++) shard_window(&ds->val, eval_window_start(&ds->val, T, B, b), T, inputs + b * T, targets + b * T, NULL);
        memset(mask, 1, (size_t)B * T);
    }
    m.training = 0;
    double loss = be->forward(be, &m, inputs, targets, ds->is_task ? mask : NULL, B, T);
    printf("loss %.7g\n", loss);
    if (a->debug_out[0]) {
        be->zero_grad(be, &m);
        be->backward(be, &m, inputs, targets, ds->is_task ? mask : NULL, B, T);
        be->to_host(be, &m);
        int V = m.cfg.vocab_size, n = 0;
        real* row0 = (real*)mallocCheck(V * sizeof(real));
        be->logits_rows(be, &m, 0, 1, row0);
        float* logits0 = (float*)mallocCheck(V * sizeof(float));
        for (int i = 0; i < V; i++) logits0[i] = (float)row0[i];
        free(row0);
        float loss32 = (float)loss;
        StEntry* e = (StEntry*)mallocCheck((size_t)(m.pt.n + 4) * sizeof(StEntry));
        e[n++] = (StEntry){"inputs", "I32", 2, {B, T}, inputs};
        e[n++] = (StEntry){"targets", "I32", 2, {B, T}, targets};
        e[n++] = (StEntry){"logits0", "F32", 1, {V}, logits0};
        e[n++] = (StEntry){"loss", "F32", 1, {1}, &loss32};
        for (int i = 0; i < m.pt.n; i++, n++) {
            const TensorInfo* ti = &m.pt.t[i];
            snprintf(e[n].name, sizeof(e[n].name), "grad.%s", ti->name);
            e[n].dtype = SM_REAL_DTYPE;
            e[n].ndim = ti->ndim;
            for (int d = 0; d < ti->ndim; d++) e[n].shape[d] = ti->shape[d];
            e[n].data = m.grads + ti->offset;
        }
        if (safetensors_write(a->debug_out, e, n, "{\"format\":\"seqmodels-debug\"}")) sm_die("%s", sm_err);
        printf("wrote %s (inputs, targets, logits0, loss, %d gradients)\n", a->debug_out, m.pt.n);
        free(e);
        free(logits0);
    }
    free(inputs);
    free(targets);
    free(mask);
    model_free(&m);
    return 0;
}

/* what the run measured, for the plots at the end (sized once: steps, and evals + the final one) */
typedef struct {
    double *step, *loss;                /* every training step of this run */
    double *e_step, *e_loss, *e_metric; /* every evaluation (val or test) */
    int n, n_eval;
} History;
static void history_alloc(History* h, int steps, int evals) {
    h->step = (double*)mallocCheck((size_t)(steps + 1) * sizeof(double));
    h->loss = (double*)mallocCheck((size_t)(steps + 1) * sizeof(double));
    h->e_step = (double*)mallocCheck((size_t)(evals + 2) * sizeof(double));
    h->e_loss = (double*)mallocCheck((size_t)(evals + 2) * sizeof(double));
    h->e_metric = (double*)mallocCheck((size_t)(evals + 2) * sizeof(double));
    h->n = h->n_eval = 0;
}
static void history_eval(History* h, int step, double loss, double metric) {
    h->e_step[h->n_eval] = step;
    h->e_loss[h->n_eval] = loss;
    h->e_metric[h->n_eval++] = metric;
}
static void history_free(History* h) { free(h->step); free(h->loss); free(h->e_step); free(h->e_loss); free(h->e_metric); }

/* copy / lookup: the final accuracy per string length */
typedef struct {
    double *len, *acc_str, *acc_char;
    int n;
} LengthCurve;

#ifdef SM_PLOTS
#include "plot.h"
/* --plot PREFIX: the loss curves, the task metric against the step, and (copy/lookup) the
 * accuracy against the string length, as PNG files */
static void write_plots(const Args* a, const DataSource* ds, const History* h, const LengthCurve* lc) {
    char path[4200], title[256], model[64];
    snprintf(model, sizeof(model), "%s%s%s", a->model.model, a->model.pos >= 0 ? " --pos " : "", a->model.pos >= 0 ? POS_NAMES[a->model.pos] : "");
    const char* split = ds->is_task ? "test" : "val";
    PlotSeries loss[2] = {{"train", h->step, h->loss, h->n}, {split, h->e_step, h->e_loss, h->n_eval}};
    snprintf(path, sizeof(path), "%s_loss.png", a->plot);
    snprintf(title, sizeof(title), "%s on %.60s: loss", model, a->data);
    if (plot_lines(path, title, "step", "loss (log scale)", loss, 2, 1, 800, 500)) sm_die("%s", plot_err);
    printf("wrote %s", path);
    if (ds->is_task) {
        PlotSeries metric = {task_metric_name(&ds->tc), h->e_step, h->e_metric, h->n_eval};
        snprintf(path, sizeof(path), "%s_metric.png", a->plot);
        snprintf(title, sizeof(title), "%s on %.60s: test %s", model, a->data, task_metric_name(&ds->tc));
        if (plot_lines(path, title, "step", task_metric_name(&ds->tc), &metric, 1, 0, 800, 500)) sm_die("%s", plot_err);
        printf(", %s", path);
    }
    if (lc->n > 0) {
        PlotSeries acc[2] = {{"string acc", lc->len, lc->acc_str, lc->n}, {"char acc", lc->len, lc->acc_char, lc->n}};
        snprintf(path, sizeof(path), "%s_length.png", a->plot);
        snprintf(title, sizeof(title), "%s on %.60s: accuracy vs length (trained on %d-%d)", model, a->data,
                 ds->tc.min_len, ds->tc.max_len);
        if (plot_lines(path, title, "string length", "accuracy", acc, 2, 0, 800, 500)) sm_die("%s", plot_err);
        printf(", %s", path);
    }
    printf("\n");
}
#endif

/* a periodic or final evaluation: text -> val loss; task -> test loss and metric (copy/lookup:
 * also per string length, `per_length` = print the table). Writes the CSV rows. */
static double run_eval(Backend* be, Model* m, const DataSource* ds, const Args* a, int B, int step, int final, double train_s,
                       FILE* logf, int* inputs, int* targets, uint8_t* mask, real* logits_buf, double* metric_out,
                       LengthCurve* lc) {
    *metric_out = NAN;
    if (!ds->is_task) {
        int T = data_train_T(ds, a);
        double vl = evaluate(be, m, &ds->val, B, T, final ? 0 : a->eval_batches, inputs, targets, mask);
        if (final) printf("final val loss %.4f (whole val split) after %d steps, %.1f s of training in this run\n", vl, step, train_s);
        else printf("step %d | val loss %.4f (%d batches)\n", step, vl, a->eval_batches);
        if (logf) fprintf(logf, "%d,%s,%.6f,,,,\n", step, final ? "val_full" : "val", vl);
        return vl;
    }
    const TaskSet* s = &ds->test_set;
    int rows = final || a->eval_batches == 0 || (long)a->eval_batches * B >= s->n ? s->n : a->eval_batches * B;
    TaskScore sc = task_score(be, m, s, 0, rows, B, inputs, targets, mask, logits_buf);
    *metric_out = task_metric(&ds->tc, &sc);
    if (final && ds->tc.task == TASK_DFA) printf("final test: valid-continuation acc on the last example of each row %.4f\n", sc.acc_last);
    if (final) printf("final test loss %.4f | %s %.4f | acc %.4f over %ld positions in %ld rows | after %d steps, %.1f s of training in this run\n",
                      sc.loss, task_metric_name(&ds->tc), *metric_out, sc.acc, sc.n_pos, sc.n_rows, step, train_s);
    else printf("step %d | test loss %.4f | %s %.4f\n", step, sc.loss, task_metric_name(&ds->tc), *metric_out);
    if (logf) fprintf(logf, "%d,%s,%.6f,,,,%.6f\n", step, final ? "test_full" : "test", sc.loss, *metric_out);
    if (final && task_is_packed(&ds->tc)) { // accuracy as a function of the string length: n_test rows per length
        printf("| string length | string acc | char acc | rows |\n|---:|---:|---:|---:|\n");
        for (int L = ds->tc.min_eval_len, r0 = 0; L <= ds->tc.max_eval_len && r0 < s->n; L++, r0 += ds->tc.n_test) {
            int r1 = r0 + ds->tc.n_test < s->n ? r0 + ds->tc.n_test : s->n;
            TaskScore ls = task_score(be, m, s, r0, r1, B, inputs, targets, mask, logits_buf);
            printf("| %d | %.4f | %.4f | %ld |\n", L, ls.acc_seq, ls.acc, ls.n_rows);
            if (lc) {
                lc->len[lc->n] = L;
                lc->acc_str[lc->n] = ls.acc_seq;
                lc->acc_char[lc->n++] = ls.acc;
            }
            if (logf) fprintf(logf, "%d,test_len%d,%.6f,,,,%.6f\n", step, L, ls.loss, ls.acc_seq);
        }
    }
    return sc.loss;
}

static int train_main(int argc, char** argv, const Args* defaults, Backend* be) {
    sm_flush_denormals(); // before any OpenMP thread exists (they inherit it)
    Args a = *defaults;
    int rc = args_parse(&a, argc, argv);
    if (rc == 1) { args_usage(argv[0], defaults); return 0; }
    if (rc < 0) sm_die("%s", sm_err);
#ifdef _OPENMP
    if (a.threads > 0) omp_set_num_threads(a.threads);
    int n_threads = omp_get_max_threads();
#else
    int n_threads = 1;
#endif
    setvbuf(stdout, NULL, _IOLBF, 0);

    // data: text shards or a synthetic task
    DataSource ds;
    data_open(&ds, &a);
    if (a.prep[0]) {
        if (!ds.is_task) sm_die("--prep writes a task's sets as shards: use it with -d TASK");
        if (task_write_shards(&ds, a.prep)) sm_die("%s", sm_err);
        data_close(&ds);
        return 0;
    }
    if (a.eval_ckpt[0]) {
        int rc_eval = eval_mode(be, &a, &ds);
        data_close(&ds);
        return rc_eval;
    }
    int B = a.batch, T = data_train_T(&ds, &a), Tmax = data_max_T(&ds, &a);
    if (!ds.is_task && ((size_t)T + 1 > ds.train.n || (size_t)T + 1 > ds.val.n))
        sm_die("sequence length %d is longer than the data (train %zu, val %zu tokens)", T, ds.train.n, ds.val.n);

    // model: fresh, or from a checkpoint with its optimizer state and data position
    Model m;
    TrainState ts = {0, hash64((uint64_t)a.seed ^ 0xDA7A)};
    if (a.resume[0]) {
        SafeTensors st;
        Config c;
        if (checkpoint_open(&st, a.resume, &c)) sm_die("%s", sm_err);
        if (c.vocab_size != ds.vocab_size) sm_die("%s: vocab %d does not match the data's %d", a.resume, c.vocab_size, ds.vocab_size);
        if (model_build(&m, &c, be->host_acts ? B : 1, be->host_acts ? Tmax : 1, 0) || checkpoint_load(&st, a.resume, &m, &ts))
            sm_die("%s", sm_err);
        safetensors_close(&st);
        printf("resumed %s at step %d (model flags come from the checkpoint)\n", a.resume, ts.step);
    } else {
        Config c = a.model;
        c.vocab_size = ds.vocab_size;
        c.block_size = Tmax;
        if (model_build(&m, &c, be->host_acts ? B : 1, be->host_acts ? Tmax : 1, (uint64_t)a.seed)) sm_die("%s", sm_err);
    }
    be->args = &a;
    be->init(be, &m, B, Tmax);
    double flops_per_token = model_flops_per_token(&m, T);
    char cfg_json[1024];
    config_to_json(&m.cfg, cfg_json, sizeof(cfg_json));
    printf("model %s: %.3fM parameters | %s\n", m.cfg.model, m.pt.total / 1e6, cfg_json);
    if (ds.is_task) {
        const TaskConfig* tc = &ds.tc;
        printf("task %s: vocab %d, train %d rows%s, test %d rows, rows of %d tokens (longest test row %d), seed %llu | batch %d | %d steps"
               " (%.1f epochs) | %s, %d threads\n", a.data, ds.vocab_size, ds.train_set.n, task_is_packed(tc) ? " (fresh packed rows)" : "",
               ds.test_set.n, T + 1, Tmax + 1, (unsigned long long)tc->seed, B, a.steps,
               ds.train_set.n > 0 && !task_is_packed(tc) ? (double)a.steps * B / ds.train_set.n : 0.0, be->name, n_threads);
    } else {
        printf("data %s: train %zu tokens, val %zu tokens, vocab %d | batch %d x %d | %d steps | %s, %d threads\n", a.data,
               ds.train.n, ds.val.n, ds.vocab_size, B, T, a.steps, be->name, n_threads);
    }

    FILE* logf = NULL;
    if (a.log[0]) {
        logf = fopen(a.log, ts.step > 0 ? "a" : "w");
        if (!logf) sm_die("cannot write log %s: %s", a.log, strerror(errno));
        if (ts.step == 0) fprintf(logf, "step,split,loss,lr,grad_norm,ms,metric\n");
    }
    int* inputs = (int*)mallocCheck((size_t)B * Tmax * sizeof(int));
    int* targets = (int*)mallocCheck((size_t)B * Tmax * sizeof(int));
    uint8_t* mask = (uint8_t*)mallocCheck((size_t)B * Tmax);
    int* row_scratch = (int*)mallocCheck((size_t)(Tmax + 1) * sizeof(int));
    uint8_t* row_scratch_mask = (uint8_t*)mallocCheck((size_t)(Tmax + 1));
    real* logits_buf = (real*)mallocCheck((size_t)Tmax * m.cfg.vocab_size * sizeof(real));
    History hist;
    history_alloc(&hist, a.steps, a.eval_every > 0 ? a.steps / a.eval_every : 0);
    double t_start = wall_ms(), best_val = INFINITY, metric;
    int interrupted = 0, best_step = 0;
    signal(SIGINT, on_signal);
    signal(SIGTERM, on_signal);
    for (int step = ts.step; step < a.steps; step++) {
        if ((a.stop_at >= 0 && step >= a.stop_at) || stop_requested || (a.time_limit > 0 && wall_ms() - t_start > a.time_limit * 1e3)) {
            interrupted = 1;
            break;
        }
        double t0 = wall_ms(), lr = lr_at(&a.optim, step);
        data_batch(&ds, &ts.data_rng, B, T, inputs, targets, mask, row_scratch, row_scratch_mask);
        m.training = 1;
        m.dropout_seed = hash64((uint64_t)a.seed * 31 + step);
        double loss, norm;
        if (be->train_step) {
            loss = be->train_step(be, &m, inputs, targets, mask, B, T, &a.optim, lr, step + 1, &norm);
        } else {
            be->zero_grad(be, &m);
            loss = be->forward(be, &m, inputs, targets, mask, B, T);
            be->backward(be, &m, inputs, targets, mask, B, T);
            norm = be->update(be, &m, &a.optim, lr, step + 1); // grad norm, clip, AdamW
        }
        if (!isfinite(loss) || !isfinite(norm)) sm_die("loss is %g (grad norm %g) at step %d: diverged; try a lower --lr", loss, norm, step + 1);
        ts.step = step + 1;
        double ms = wall_ms() - t0;
        char extra[96] = "";
        if (be->peak_flops > 0)
            snprintf(extra, sizeof(extra), " | MFU %.1f%%", 100 * flops_per_token * B * T / (ms * 1e-3) / be->peak_flops);
        if (be->mem_mib) snprintf(extra + strlen(extra), sizeof(extra) - strlen(extra), " | mem %.0f MiB", be->mem_mib(be));
        printf("step %d/%d | loss %.4f | lr %.2e | norm %.3f | %.1f ms | %.0f tok/s%s\n", step + 1, a.steps, loss, lr, norm, ms,
               B * T / ms * 1e3, extra);
        if (logf) fprintf(logf, "%d,train,%.6f,%.6e,%.6f,%.3f,\n", step + 1, loss, lr, norm, ms);
        hist.step[hist.n] = ts.step;
        hist.loss[hist.n++] = loss;
        if (a.eval_every > 0 && ts.step % a.eval_every == 0 && ts.step < a.steps) {
            double vl = run_eval(be, &m, &ds, &a, B, ts.step, 0, 0, logf, inputs, targets, mask, logits_buf, &metric, NULL);
            history_eval(&hist, ts.step, vl, metric);
            if (vl < best_val) {
                best_val = vl;
                best_step = ts.step;
                if (a.save_best) {
                    be->to_host(be, &m);
                    if (checkpoint_save(a.out, &m, &ts)) sm_die("%s", sm_err);
                    printf("saved %s (best val so far)\n", a.out);
                }
            }
        }
        if (a.out[0] && !a.save_best && a.save_every > 0 && ts.step % a.save_every == 0) {
            be->to_host(be, &m);
            if (checkpoint_save(a.out, &m, &ts)) sm_die("%s", sm_err);
        }
    }
    double train_s = (wall_ms() - t_start) / 1e3;
    if (a.out[0] && !a.save_best) {
        be->to_host(be, &m);
        if (checkpoint_save(a.out, &m, &ts)) sm_die("%s", sm_err);
        printf("saved %s (step %d)\n", a.out, ts.step);
    } else if (a.out[0] && best_step > 0) {
        printf("kept %s: the best periodic val loss, %.4f at step %d\n", a.out, best_val, best_step);
    }
    if (!interrupted) {
        int n_len = ds.is_task && task_is_packed(&ds.tc) ? ds.tc.max_eval_len - ds.tc.min_eval_len + 1 : 0;
        LengthCurve lc = {(double*)mallocCheck((n_len + 1) * sizeof(double)), (double*)mallocCheck((n_len + 1) * sizeof(double)),
                          (double*)mallocCheck((n_len + 1) * sizeof(double)), 0};
        double vl = run_eval(be, &m, &ds, &a, B, ts.step, 1, train_s, logf, inputs, targets, mask, logits_buf, &metric, &lc);
        history_eval(&hist, ts.step, vl, metric);
        if (best_step > 0) // nanoGPT reports the best periodic val loss (it keeps that checkpoint)
            printf("best periodic %s loss %.4f at step %d\n", ds.is_task ? "test" : "val", best_val, best_step);
        if (!ds.is_task) {
            uint64_t sample_rng = hash64((uint64_t)a.seed ^ 0x5A3B1E);
            print_sample(be, &m, &a, &sample_rng);
        }
#ifdef SM_PLOTS
        if (a.plot[0]) write_plots(&a, &ds, &hist, &lc);
#endif
        free(lc.len); free(lc.acc_str); free(lc.acc_char);
    } else {
        if (a.out[0] && a.save_best) printf("stopped at step %d; %s holds the best val so far (step %d)\n", ts.step, a.out, best_step);
        else if (a.out[0]) printf("stopped at step %d; resume with the same command plus --resume %s\n", ts.step, a.out);
        else printf("stopped at step %d; nothing saved (pass -o PATH to keep a checkpoint)\n", ts.step);
    }
    if (logf) fclose(logf);
    free(inputs); free(targets); free(mask); free(row_scratch); free(row_scratch_mask); free(logits_buf);
    history_free(&hist);
    model_free(&m);
    data_close(&ds);
    return stop_requested ? 130 : 0;
}

#endif /* SEQMODELS_H */
