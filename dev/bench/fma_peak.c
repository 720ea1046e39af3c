/*
 * fma_peak.c -- the FMA peak of this CPU's cores: each OpenMP thread runs 12 independent chains
 * of vector fused multiply-adds (16 floats with AVX-512, else 8), enough to keep two FMA ports
 * busy through their latency. Compare it with bench_matmul's GFLOP/s, and one thread with two
 * (and with two copies of the program side by side, to see whether the cores are shared).
 *
 *   gcc -O3 -march=native -fopenmp -o /tmp/fma_peak dev/bench/fma_peak.c
 *   OMP_NUM_THREADS=1 /tmp/fma_peak; OMP_NUM_THREADS=2 /tmp/fma_peak
 */
#include <omp.h>
#include <stdio.h>

#ifdef __AVX512F__
#define VBYTES 64
#else
#define VBYTES 32
#endif
typedef float vfloat __attribute__((vector_size(VBYTES)));
#define VL (VBYTES / 4)
#define CHAINS 12

int main(void) {
    const long iters = 50000000;
    double t0 = omp_get_wtime();
    float sink = 0;
#pragma omp parallel reduction(+ : sink)
    {
        vfloat acc[CHAINS], mul, add;
        for (int j = 0; j < VL; j++) { mul[j] = 1.0000001f; add[j] = 1e-7f; }
        for (int c = 0; c < CHAINS; c++)
            for (int j = 0; j < VL; j++) acc[c][j] = (float)c;
        for (long it = 0; it < iters; it++)
            for (int c = 0; c < CHAINS; c++) acc[c] = acc[c] * mul + add; // one FMA each (-march=native)
        for (int c = 0; c < CHAINS; c++)
            for (int j = 0; j < VL; j++) sink += acc[c][j]; // keeps the loop alive
    }
    double s = omp_get_wtime() - t0;
    int threads = omp_get_max_threads();
    double flop = (double)threads * iters * CHAINS * VL * 2;
    printf("%d thread%s, %d-float vectors: %.1f GFLOP/s (%.1f per thread; checksum %g)\n", threads, threads > 1 ? "s" : "", VL,
           flop / s / 1e9, flop / s / 1e9 / threads, sink);
    return 0;
}
