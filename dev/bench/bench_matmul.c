/*
 * bench_matmul.c -- GFLOP/s of seqmodels.h's matmul on the shapes of one training step of the
 * nanoGPT CPU config (gpt L4 C128 Hd512 V256, B12 T64: N = 768 rows), checked against a naive
 * triple loop.
 *
 *   make dev/bench/bench_matmul
 *   OMP_NUM_THREADS=2 dev/bench/bench_matmul [reps]
 *
 * forward:  out (N,OC) = inp (N,C) @ W^T      (B operand = W^T, a strided view)
 * backward: dinp (N,C) += dout (N,OC) @ W      (plain)
 *           dW (OC,C) += dout^T @ inp          (A operand = dout^T, packed)
 * Best of `reps` runs per shape; the last line is one step's matmul time (every shape once per
 * layer, times the layer count, plus the head).
 */
#include "../../seqmodels.h"

int main(int argc, char** argv) {
    int reps = argc > 1 ? atoi(argv[1]) : 30;
    sm_flush_denormals(); // as train_main does
    int N = 768, C = 128, Hd = 512, V = 256, L = 4;
    struct { const char* name; int kind, M, Nc, K, per_step; } S[] = {
        // kind 0: Cm = A (M,K) @ W^T, W (Nc,K); 1: Cm += A (M,K) @ B (K,Nc); 2: Cm += X^T @ B, X (K,M)
        {"fwd qkv", 0, N, 3 * C, C, L},          {"fwd attn proj", 0, N, C, C, L},
        {"fwd fc", 0, N, Hd, C, L},              {"fwd mlp proj", 0, N, C, Hd, L},
        {"fwd head", 0, N, V, C, 1},             {"bwd dinp qkv", 1, N, C, 3 * C, L},
        {"bwd dinp attn proj", 1, N, C, C, L},   {"bwd dinp fc", 1, N, C, Hd, L},
        {"bwd dinp mlp proj", 1, N, Hd, C, L},   {"bwd dinp head", 1, N, C, V, 1},
        {"bwd dW qkv", 2, 3 * C, C, N, L},       {"bwd dW attn proj", 2, C, C, N, L},
        {"bwd dW fc", 2, Hd, C, N, L},           {"bwd dW mlp proj", 2, C, Hd, N, L},
        {"bwd dW head", 2, V, C, N, 1}};
    int ns = (int)(sizeof(S) / sizeof(S[0]));
    size_t cap = (size_t)1 << 20;
    real *A = (real*)mallocCheck(cap * sizeof(real)), *Bm = (real*)mallocCheck(cap * sizeof(real));
    real *Cm = (real*)mallocCheck(cap * sizeof(real)), *ref = (real*)mallocCheck(cap * sizeof(real));
    uint64_t rng = 1;
    for (size_t i = 0; i < cap; i++) { A[i] = (real)(rng_uniform(&rng) - 0.5); Bm[i] = (real)(rng_uniform(&rng) - 0.5); }
#ifdef _OPENMP
    printf("threads %d, tile %dx%d, real = %s\n", omp_get_max_threads(), MM_MR, MM_NR, sizeof(real) == 4 ? "float" : "double");
#endif
    double step_ms = 0, step_flop = 0;
    for (int s = 0; s < ns; s++) {
        int M = S[s].M, Nc = S[s].Nc, K = S[s].K, kind = S[s].kind;
        long ar = kind == 2 ? 1 : K, ac = kind == 2 ? M : 1, br = kind == 0 ? 1 : Nc, bc = kind == 0 ? K : 1;
        double best = 1e30;
        for (int r = 0; r < reps; r++) {
            memset(Cm, 0, (size_t)M * Nc * sizeof(real));
            double t0 = wall_ms();
            matmul_acc(Cm, Nc, A, ar, ac, Bm, br, bc, M, Nc, K);
            double t = wall_ms() - t0;
            if (t < best) best = t;
        }
        double err = 0; // naive reference in double
        for (int i = 0; i < M; i++)
            for (int j = 0; j < Nc; j++) {
                double acc = 0;
                for (int k = 0; k < K; k++) acc += (double)A[i * ar + k * ac] * Bm[k * br + j * bc];
                double e = fabs(acc - Cm[(size_t)i * Nc + j]);
                if (e > err) err = e;
            }
        double flop = 2.0 * M * Nc * K;
        printf("%-20s M %4d N %4d K %4d  %7.3f ms  %6.1f GFLOP/s  max err %.1e\n", S[s].name, M, Nc, K, best,
               flop / best / 1e6, err);
        step_ms += best * S[s].per_step;
        step_flop += flop * S[s].per_step;
    }
    printf("one step's matmuls: %.2f GFLOP in %.2f ms = %.1f GFLOP/s\n", step_flop / 1e9, step_ms, step_flop / step_ms / 1e6);
    // the MLP's GELU epilogues (matmul_epi), best of reps each, against the same product without:
    // c_fc's forward (ep = GELU(Cm)) and c_proj's dinp (Cm *= GELU'(ep))
    real* ep = (real*)mallocCheck((size_t)N * Hd * sizeof(real));
    for (size_t i = 0; i < (size_t)N * Hd; i++) ep[i] = (real)(4 * rng_uniform(&rng) - 2);
    for (int e = 0; e < 2; e++) {
        const char* name = e == 0 ? "fwd fc + GELU" : "bwd dinp mlp proj + GELU'";
        double best[2] = {1e30, 1e30};
        for (int r = 0; r < reps; r++)
            for (int with = 0; with < 2; with++) {
                double t0 = wall_ms();
                if (e == 0) matmul_epi(Cm, Hd, A, C, 1, Bm, 1, C, N, Hd, C, 1, NULL, with ? MM_EPI_GELU : MM_EPI_NONE, ep); // (N,Hd) = (N,C) W^T
                else matmul_epi(Cm, Hd, A, C, 1, Bm, Hd, 1, N, Hd, C, 1, NULL, with ? MM_EPI_GELU_GRAD : MM_EPI_NONE, ep);
                double t = wall_ms() - t0;
                if (t < best[with]) best[with] = t;
            }
        printf("%-26s %7.3f ms, without the epilogue %7.3f ms: the epilogue %.3f ms (x %d per step)\n", name, best[1], best[0],
               best[1] - best[0], L);
    }
    free(ep); free(A); free(Bm); free(Cm); free(ref);
    return 0;
}
