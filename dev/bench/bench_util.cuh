/* bench_util.cuh -- what the CUDA benchmarks in dev/bench share: random device buffers and
 * event-timed medians. Include after seqmodels.h and kernels.cuh. */
#pragma once
#include <algorithm>
#include <vector>

/* n values, uniform in shift +- scale, on the device */
template <typename T = float> /* float, or __nv_bfloat16 for the activations bf16 mode keeps */
static T* dev_rand(size_t n, float scale, float shift, uint64_t* rng) {
    std::vector<T> h(n);
    for (size_t i = 0; i < n; i++) h[i] = T(shift + scale * (float)(2 * rng_uniform(rng) - 1));
    T* d;
    cudaCheck(cudaMalloc(&d, n * sizeof(T)));
    cudaCheck(cudaMemcpy(d, h.data(), n * sizeof(T), cudaMemcpyHostToDevice));
    return d;
}
/* median of `reps` timed runs of f() (device events), after two warm-up runs; with batch > 1 each
 * timed run is `batch` back-to-back calls and counts per call, so the host's launch time stays out
 * of it (the GPU queue runs ahead, as in a trainer's CUDA graph) */
template <typename F>
static double median_ms(F f, int reps = 20, int batch = 1) {
    cudaEvent_t a, b;
    cudaCheck(cudaEventCreate(&a));
    cudaCheck(cudaEventCreate(&b));
    f(); f();
    std::vector<double> ms;
    for (int r = 0; r < reps; r++) {
        cudaCheck(cudaEventRecord(a));
        for (int i = 0; i < batch; i++) f();
        cudaCheck(cudaEventRecord(b));
        cudaCheck(cudaEventSynchronize(b));
        float t;
        cudaCheck(cudaEventElapsedTime(&t, a, b));
        ms.push_back(t / batch);
    }
    std::sort(ms.begin(), ms.end());
    cudaCheck(cudaEventDestroy(a));
    cudaCheck(cudaEventDestroy(b));
    return ms[ms.size() / 2];
}
