/*
 * test_gpu.cu -- every CUDA kernel of kernels.cuh against its CPU op in seqmodels.h, on random
 * inputs, relative error printed (max |gpu - cpu| / max |cpu|). Needs a GPU: `make test_gpu`.
 * Ends with "N passed, N failed".
 */
#include "seqmodels.h"
#include "kernels.cuh"

static int n_pass = 0, n_fail = 0;
static uint64_t rng = 2024;

static float* rand_host(size_t n, double scale) {
    float* a = (float*)mallocCheck(n * sizeof(float));
    for (size_t i = 0; i < n; i++) a[i] = (float)(scale * (2 * rng_uniform(&rng) - 1));
    return a;
}
static float* to_gpu(const void* h, size_t bytes) {
    float* d;
    cudaCheck(cudaMalloc(&d, bytes));
    cudaCheck(cudaMemcpy(d, h, bytes, cudaMemcpyHostToDevice));
    return d;
}
/* host floats rounded to bf16 in place (the reference then sees what the GPU sees), and their
 * bf16 copy on the device */
static __nv_bfloat16* round_to_gpu16(float* h, size_t n) {
    __nv_bfloat16* h16 = (__nv_bfloat16*)mallocCheck(n * 2);
    for (size_t i = 0; i < n; i++) { h16[i] = __float2bfloat16(h[i]); h[i] = __bfloat162float(h16[i]); }
    __nv_bfloat16* d = (__nv_bfloat16*)to_gpu(h16, n * 2);
    free(h16);
    return d;
}
/* a device bf16 array widened into a device float array, for check() */
static void widen_on_gpu(float* d_out, const __nv_bfloat16* d16, size_t n) {
    __nv_bfloat16* h16 = (__nv_bfloat16*)mallocCheck(n * 2);
    float* h32 = (float*)mallocCheck(n * 4);
    cudaCheck(cudaMemcpy(h16, d16, n * 2, cudaMemcpyDeviceToHost));
    for (size_t i = 0; i < n; i++) h32[i] = __bfloat162float(h16[i]);
    cudaCheck(cudaMemcpy(d_out, h32, n * 4, cudaMemcpyHostToDevice));
    free(h16); free(h32);
}
static void check(const char* what, const float* d_got, const float* want, size_t n, double tol) {
    float* got = (float*)mallocCheck(n * sizeof(float));
    cudaCheck(cudaMemcpy(got, d_got, n * sizeof(float), cudaMemcpyDeviceToHost));
    double num = 0, den = 1e-12;
    for (size_t i = 0; i < n; i++) {
        if (!isfinite(got[i]) && isfinite(want[i])) num = INFINITY; // (fmax would drop a NaN)
        num = fmax(num, fabs((double)got[i] - want[i]));
        den = fmax(den, fabs((double)want[i]));
    }
    double err = num / den;
    int ok = err <= tol && isfinite(err);
    printf("%-4s %-52s rel err %.2e (tol %.0e)\n", ok ? "ok" : "FAIL", what, err, tol);
    ok ? n_pass++ : n_fail++;
    free(got);
}

/* a bf16 device buffer widened to fp32 and checked like check() */
static void check_bf16(const char* what, const __nv_bfloat16* d_got, const float* want, size_t n, double tol) {
    __nv_bfloat16* h16 = (__nv_bfloat16*)mallocCheck(n * 2);
    float* h32 = (float*)mallocCheck(n * 4);
    cudaCheck(cudaMemcpy(h16, d_got, n * 2, cudaMemcpyDeviceToHost));
    for (size_t i = 0; i < n; i++) h32[i] = __bfloat162float(h16[i]);
    float* d32 = to_gpu(h32, n * 4);
    check(what, d32, want, n, tol);
    cudaCheck(cudaFree(d32));
    free(h16); free(h32);
}
/* activations of either type: upload() puts host floats on the device as X (bf16: rounded in
 * place first, so the reference sees what the GPU sees); check_as() widens X and checks */
template <typename X> static X* upload(float* h, size_t n);
template <> float* upload<float>(float* h, size_t n) { return to_gpu(h, n * 4); }
template <> __nv_bfloat16* upload<__nv_bfloat16>(float* h, size_t n) { return round_to_gpu16(h, n); }
static void check_as(const char* what, const float* d_got, const float* want, size_t n, double tol) { check(what, d_got, want, n, tol); }
static void check_as(const char* what, const __nv_bfloat16* d_got, const float* want, size_t n, double tol) { check_bf16(what, d_got, want, n, tol); }
template <typename X> static const char* type_name() { return sizeof(X) == 2 ? "bf16" : "fp32"; }

/* The MLP's matmul + GELU on the GPU in bf16 mode (cuBLASLt epilogues: GELU_AUX on c_fc's forward,
 * DGELU on c_proj's backward) against seqmodels.h's linear_gelu_forward / linear_backward_ex. A GPU
 * with bf16 tensor cores must take the fused path (else the GELU kernels run; checked too). */
static void test_mlp_gelu_epilogues(int with_bias) {
    int N = 384, C = 64, Hd = 256;
    float *x = rand_host((size_t)N * C, 1), *W1 = rand_host((size_t)Hd * C, 0.3), *b1 = rand_host(Hd, 0.5);
    float *W2 = rand_host((size_t)C * Hd, 0.1), *dout = rand_host((size_t)N * C, 1);
    float *pre = (float*)mallocCheck((size_t)N * Hd * 4), *act = (float*)mallocCheck((size_t)N * Hd * 4);
    float *dpre = (float*)mallocCheck((size_t)N * Hd * 4), *dW2 = (float*)calloc((size_t)C * Hd, 4);
    __nv_bfloat16 *d_x16 = round_to_gpu16(x, (size_t)N * C), *d_pre16, *d_act16, *d_dpre16;
    for (size_t i = 0; i < (size_t)N * C; i++) dout[i] = __bfloat162float(__float2bfloat16(dout[i])); // what the matmul sees
    linear_gelu_forward(pre, act, x, W1, with_bias ? b1 : NULL, N, C, Hd);
    linear_backward_ex(dpre, LIN_SET_GELU_GRAD, pre, dW2, NULL, dout, act, W2, N, Hd, C);
    float *d_W1 = to_gpu(W1, (size_t)Hd * C * 4), *d_b1 = to_gpu(b1, Hd * 4), *d_W2 = to_gpu(W2, (size_t)C * Hd * 4);
    float *d_dout = to_gpu(dout, (size_t)N * C * 4), *d_dact, *d_dW2;
    cudaCheck(cudaMalloc(&d_pre16, (size_t)N * Hd * 2)); cudaCheck(cudaMalloc(&d_act16, (size_t)N * Hd * 2));
    cudaCheck(cudaMalloc(&d_dpre16, (size_t)N * Hd * 2)); cudaCheck(cudaMalloc(&d_dact, (size_t)N * Hd * 4));
    cudaCheck(cudaMalloc(&d_dW2, (size_t)C * Hd * 4)); cudaCheck(cudaMemset(d_dW2, 0, (size_t)C * Hd * 4));
    gpu::use_fp32 = 0;
    gpu::linear_gelu_forward(d_pre16, d_act16, d_x16, d_W1, with_bias ? d_b1 : NULL, N, C, Hd);
    gpu::linear_backward_gelu(d_dpre16, d_dact, d_pre16, d_dW2, NULL, d_dout, d_act16, d_W2, N, Hd, C);
    char name[96];
    snprintf(name, sizeof name, "linear_gelu_forward%s (bf16) pre-activation", with_bias ? " + bias" : "");
    check_bf16(name, d_pre16, pre, (size_t)N * Hd, 1e-2);
    snprintf(name, sizeof name, "linear_gelu_forward%s (bf16) GELU", with_bias ? " + bias" : "");
    check_bf16(name, d_act16, act, (size_t)N * Hd, 1e-2);
    check_bf16("linear_backward_gelu (bf16) d pre-activation", d_dpre16, dpre, (size_t)N * Hd, 2e-2);
    check("linear_backward_gelu (bf16) dW", d_dW2, dW2, (size_t)C * Hd, 2e-2);
    // the same calls again through the fused entry points: did cuBLASLt run them?
    __nv_bfloat16* d_dout16 = round_to_gpu16(dout, (size_t)N * C);
    bool fwd = gpu::linear_gelu_fused(d_pre16, d_act16, d_x16, d_W1, with_bias ? d_b1 : NULL, N, C, Hd);
    bool bwd = gpu::dgelu_fused(d_dpre16, d_pre16, d_dout16, d_W2, N, Hd, C);
    cudaCheck(cudaDeviceSynchronize());
    int ok = fwd && bwd;
    printf("%-4s cuBLASLt epilogues taken: GELU_AUX%s %s, DGELU %s\n", ok ? "ok" : "FAIL", with_bias ? "_BIAS" : "", fwd ? "yes" : "no",
           bwd ? "yes" : "no");
    ok ? n_pass++ : n_fail++;
    gpu::use_fp32 = 1;
    float* fs[] = {x, W1, b1, W2, dout, pre, act, dpre, dW2};
    for (float* f : fs) free(f);
    void* ds[] = {d_x16, d_pre16, d_act16, d_dpre16, d_W1, d_b1, d_W2, d_dout, d_dact, d_dW2, d_dout16};
    for (void* d : ds) cudaCheck(cudaFree(d));
}

/* lt_matmul's kernel choice never changes a result: each product of a transformer layer (bf16
 * out, beta 0; fp32 weight gradient, beta 1 onto a random start; the two MLP epilogues) run once
 * with the heuristic's first kernel and once with the last candidate the tuner would accept
 * (lt_tune 2: untimed, so that a kernel other than the first runs wherever one exists) must give
 * the same bits. */
static void test_lt_same_bits() {
    int N = 2048, C = 256, Hd = 1024;
    float *x = rand_host((size_t)N * Hd, 1), *W = rand_host((size_t)Hd * C, 0.1), *dW0 = rand_host((size_t)Hd * C, 1);
    __nv_bfloat16* d_x16 = round_to_gpu16(x, (size_t)N * Hd); // (N, Hd), also read as (N, C) rows
    float *d_W = to_gpu(W, (size_t)Hd * C * 4), *d_dW = to_gpu(dW0, (size_t)Hd * C * 4), *d_res[2][4];
    __nv_bfloat16 *d_y16, *d_pre16, *d_act16, *d_dpre16;
    cudaCheck(cudaMalloc(&d_y16, (size_t)N * C * 2)); cudaCheck(cudaMalloc(&d_pre16, (size_t)N * Hd * 2));
    cudaCheck(cudaMalloc(&d_act16, (size_t)N * Hd * 2)); cudaCheck(cudaMalloc(&d_dpre16, (size_t)N * Hd * 2));
    gpu::use_fp32 = 0;
    int chosen[4] = {0, 0, 0, 0};
    for (int mode = 0; mode < 2; mode++) { // 0: the first kernel, 1: the last one with its bits
        gpu::lt_tune = mode == 0 ? 0 : 2;
        gpu::lt_generation++; // new plans
        for (int j = 0; j < 4; j++) cudaCheck(cudaMalloc(&d_res[mode][j], (size_t)N * Hd * 4));
        gpu::linear_forward(d_y16, d_x16, d_W, NULL, N, Hd, C); // y (N,C) = x (N,Hd) W^T: bf16 out
        chosen[0] = gpu::lt_last_chosen;
        widen_on_gpu(d_res[mode][0], d_y16, (size_t)N * C);
        cudaCheck(cudaMemcpy(d_res[mode][1], d_dW, (size_t)Hd * C * 4, cudaMemcpyDeviceToDevice));
        gpu::gemm(CUBLAS_OP_N, CUBLAS_OP_T, Hd, C, N, d_x16, Hd, d_y16, C, 1.0f, d_res[mode][1], Hd); // dW^T += x^T y: fp32, beta 1
        chosen[1] = gpu::lt_last_chosen;
        bool fused = gpu::linear_gelu_fused(d_pre16, d_act16, d_y16, d_W, NULL, N, C, Hd); // GELU_AUX
        chosen[2] = gpu::lt_last_chosen;
        fused = gpu::dgelu_fused(d_dpre16, d_pre16, d_y16, d_W, N, Hd, C) && fused; // DGELU
        chosen[3] = gpu::lt_last_chosen;
        if (!fused) printf("note: no cuBLASLt GELU epilogue on this GPU (its products compared anyway)\n");
        widen_on_gpu(d_res[mode][2], d_act16, (size_t)N * Hd);
        widen_on_gpu(d_res[mode][3], d_dpre16, (size_t)N * Hd);
    }
    const char* what[4] = {"linear_forward (bf16 out)", "weight gradient (fp32, beta 1)", "GELU_AUX epilogue", "DGELU epilogue"};
    size_t n[4] = {(size_t)N * C, (size_t)Hd * C, (size_t)N * Hd, (size_t)N * Hd};
    for (int j = 0; j < 4; j++) {
        float* want = (float*)mallocCheck(n[j] * 4);
        cudaCheck(cudaMemcpy(want, d_res[0][j], n[j] * 4, cudaMemcpyDeviceToHost));
        char name[96];
        snprintf(name, sizeof name, "lt_matmul %s: candidate #%d = #0, bits", what[j], chosen[j]);
        check(name, d_res[1][j], want, n[j], 0);
        free(want);
    }
    gpu::lt_tune = -1; // back to the environment's choice, new plans
    gpu::lt_generation++;
    gpu::use_fp32 = 1;
    free(x); free(W); free(dW0);
    void* ds[] = {d_x16, d_W, d_dW, d_y16, d_pre16, d_act16, d_dpre16};
    for (void* d : ds) cudaCheck(cudaFree(d));
    for (int m = 0; m < 2; m++) for (int j = 0; j < 4; j++) cudaCheck(cudaFree(d_res[m][j]));
}

/* LayerNorm / RMSNorm (rms) forward and backward against the CPU ops. The forward with the
 * residual add fused in (res = a + branch, out = norm(res)) against residual_forward then the norm,
 * with fp32 and bf16 outputs. The backward adds to
 * gradients that are already there (dx, dw, db start random), and run again from the same start it
 * must give the same bits (no float atomics whose order varies). With a residual gradient dres it
 * writes dx = dres + the norm's backward into a buffer of NaNs (CPU: dres, then +=). */
static void test_norm(int rms, int N, int C) {
    size_t n = (size_t)N * C;
    float *x = rand_host(n, 2), *w = rand_host(C, 1), *b = rand_host(C, 1), *dout = rand_host(n, 1);
    float *dx = rand_host(n, 1), *dw = rand_host(C, 1), *db = rand_host(C, 1); // the earlier gradients
    float *dres = rand_host(n, 1), *dxr = (float*)mallocCheck(n * 4);
    memcpy(dxr, dres, n * 4);
    float *d_x = to_gpu(x, n * 4), *d_w = to_gpu(w, C * 4), *d_b = to_gpu(b, C * 4), *d_dout = to_gpu(dout, n * 4);
    float *d_dx0 = to_gpu(dx, n * 4), *d_dw0 = to_gpu(dw, C * 4), *d_db0 = to_gpu(db, C * 4); // kept: the start of both runs
    float *out = (float*)mallocCheck(n * 4), *mean = (float*)mallocCheck(N * 4), *rstd = (float*)mallocCheck(N * 4);
    if (rms) {
        rmsnorm_forward(out, rstd, x, w, N, C, 1e-5);
        rmsnorm_backward(dx, dw, dout, x, w, rstd, N, C);
        rmsnorm_backward(dxr, NULL, dout, x, w, rstd, N, C);
    } else {
        layernorm_forward(out, mean, rstd, x, w, b, N, C);
        layernorm_backward(dx, dw, db, dout, x, w, mean, rstd, N, C);
        layernorm_backward(dxr, NULL, NULL, dout, x, w, mean, rstd, N, C);
    }
    float *d_out, *d_mean, *d_rstd, *d_dx[2], *d_dw[2], *d_db[2], *d_dres = to_gpu(dres, n * 4), *d_dxr;
    cudaCheck(cudaMalloc(&d_out, n * 4)); cudaCheck(cudaMalloc(&d_mean, N * 4)); cudaCheck(cudaMalloc(&d_rstd, N * 4));
    if (rms) gpu::rmsnorm_forward(d_out, d_rstd, d_x, d_w, N, C, 1e-5);
    else gpu::layernorm_forward(d_out, d_mean, d_rstd, d_x, d_w, d_b, N, C);
    for (int run = 0; run < 2; run++) {
        cudaCheck(cudaMalloc(&d_dx[run], n * 4)); cudaCheck(cudaMalloc(&d_dw[run], C * 4)); cudaCheck(cudaMalloc(&d_db[run], C * 4));
        cudaCheck(cudaMemcpy(d_dx[run], d_dx0, n * 4, cudaMemcpyDeviceToDevice));
        cudaCheck(cudaMemcpy(d_dw[run], d_dw0, C * 4, cudaMemcpyDeviceToDevice));
        cudaCheck(cudaMemcpy(d_db[run], d_db0, C * 4, cudaMemcpyDeviceToDevice));
        if (rms) gpu::rmsnorm_backward(d_dx[run], d_dw[run], d_dout, d_x, d_w, d_rstd, N, C);
        else gpu::layernorm_backward(d_dx[run], d_dw[run], d_db[run], d_dout, d_x, d_w, d_mean, d_rstd, N, C);
    }
    cudaCheck(cudaMalloc(&d_dxr, n * 4));
    cudaCheck(cudaMemset(d_dxr, 0xff, n * 4)); // NaN: dx must be written, not added to
    if (rms) gpu::rmsnorm_backward(d_dxr, NULL, d_dout, d_x, d_w, d_rstd, N, C, d_dres);
    else gpu::layernorm_backward(d_dxr, NULL, NULL, d_dout, d_x, d_w, d_mean, d_rstd, N, C, d_dres);
    char what[160], label[96];
    snprintf(label, sizeof(label), "%s N %d C %d (%s)", rms ? "rmsnorm" : "layernorm", N, C,
             C % 4 == 0 && C <= NORM_MAX_C ? "register rows" : "strided");
    snprintf(what, sizeof(what), "%s forward out", label); check(what, d_out, out, n, 1e-5);
    snprintf(what, sizeof(what), "%s forward rstd", label); check(what, d_rstd, rstd, N, 1e-5);
    { // dout in bf16, as bf16 mode's matmul backwards write it for the norm: the reference sees the same rounded values
        float *dout_r = (float*)mallocCheck(n * 4), *dxb = (float*)mallocCheck(n * 4), *dwb = (float*)calloc(C, 4), *dbb = (float*)calloc(C, 4);
        memcpy(dout_r, dout, n * 4);
        __nv_bfloat16* d_dout16 = round_to_gpu16(dout_r, n);
        memcpy(dxb, dres, n * 4);
        if (rms) rmsnorm_backward(dxb, dwb, dout_r, x, w, rstd, N, C);
        else layernorm_backward(dxb, dwb, dbb, dout_r, x, w, mean, rstd, N, C);
        float *d_dxb, *d_dwb, *d_dbb;
        cudaCheck(cudaMalloc(&d_dxb, n * 4)); cudaCheck(cudaMalloc(&d_dwb, C * 4)); cudaCheck(cudaMalloc(&d_dbb, C * 4));
        cudaCheck(cudaMemset(d_dxb, 0xff, n * 4)); cudaCheck(cudaMemset(d_dwb, 0, C * 4)); cudaCheck(cudaMemset(d_dbb, 0, C * 4));
        if (rms) gpu::rmsnorm_backward(d_dxb, d_dwb, d_dout16, d_x, d_w, d_rstd, N, C, d_dres);
        else gpu::layernorm_backward(d_dxb, d_dwb, d_dbb, d_dout16, d_x, d_w, d_mean, d_rstd, N, C, d_dres);
        snprintf(what, sizeof(what), "%s backward, bf16 dout: dx", label); check(what, d_dxb, dxb, n, 1e-4);
        snprintf(what, sizeof(what), "%s backward, bf16 dout: dw", label); check(what, d_dwb, dwb, C, 1e-4);
        if (!rms) { snprintf(what, sizeof(what), "%s backward, bf16 dout: db", label); check(what, d_dbb, dbb, C, 1e-4); }
        free(dout_r); free(dxb); free(dwb); free(dbb);
        cudaCheck(cudaFree(d_dout16)); cudaCheck(cudaFree(d_dxb)); cudaCheck(cudaFree(d_dwb)); cudaCheck(cudaFree(d_dbb));
    }
    { // the residual add fused into the forward
        float *a = rand_host(n, 1), *br = rand_host(n, 1), *res = (float*)mallocCheck(n * 4), *outr = (float*)mallocCheck(n * 4);
        residual_forward(res, a, br, n);
        if (rms) rmsnorm_forward(outr, rstd, res, w, N, C, 1e-5);
        else layernorm_forward(outr, mean, rstd, res, w, b, N, C);
        float *d_a = to_gpu(a, n * 4), *d_br = to_gpu(br, n * 4), *d_res;
        __nv_bfloat16* d_out16;
        cudaCheck(cudaMalloc(&d_res, n * 4)); cudaCheck(cudaMalloc(&d_out16, n * 2));
        cudaCheck(cudaMemset(d_res, 0xff, n * 4)); cudaCheck(cudaMemset(d_out, 0xff, n * 4));
        if (rms) gpu::residual_rmsnorm_forward(d_res, d_out, d_rstd, d_a, d_br, d_w, N, C, 1e-5);
        else gpu::residual_layernorm_forward(d_res, d_out, d_mean, d_rstd, d_a, d_br, d_w, d_b, N, C);
        snprintf(what, sizeof(what), "%s residual+norm forward: res = a + branch", label); check(what, d_res, res, n, 1e-7);
        snprintf(what, sizeof(what), "%s residual+norm forward: out", label); check(what, d_out, outr, n, 1e-5);
        snprintf(what, sizeof(what), "%s residual+norm forward: rstd", label); check(what, d_rstd, rstd, N, 1e-5);
        if (!rms) { snprintf(what, sizeof(what), "%s residual+norm forward: mean", label); check(what, d_mean, mean, N, 1e-5); }
        if (rms) gpu::residual_rmsnorm_forward(d_res, d_out16, d_rstd, d_a, d_br, d_w, N, C, 1e-5);
        else gpu::residual_layernorm_forward(d_res, d_out16, d_mean, d_rstd, d_a, d_br, d_w, d_b, N, C);
        snprintf(what, sizeof(what), "%s residual+norm forward: out in bf16", label); check_bf16(what, d_out16, outr, n, 1e-2);
        { // the branch in bf16, as bf16 mode's attention and MLP matmuls write it: the reference sees it rounded
            __nv_bfloat16* d_br16 = round_to_gpu16(br, n);
            residual_forward(res, a, br, n);
            if (rms) rmsnorm_forward(outr, rstd, res, w, N, C, 1e-5);
            else layernorm_forward(outr, mean, rstd, res, w, b, N, C);
            cudaCheck(cudaMemset(d_res, 0xff, n * 4));
            if (rms) gpu::residual_rmsnorm_forward(d_res, d_out, d_rstd, d_a, d_br16, d_w, N, C, 1e-5);
            else gpu::residual_layernorm_forward(d_res, d_out, d_mean, d_rstd, d_a, d_br16, d_w, d_b, N, C);
            snprintf(what, sizeof(what), "%s residual+norm forward, bf16 branch: res", label); check(what, d_res, res, n, 1e-7);
            snprintf(what, sizeof(what), "%s residual+norm forward, bf16 branch: out", label); check(what, d_out, outr, n, 1e-5);
            cudaCheck(cudaFree(d_br16));
        }
        free(a); free(br); free(res); free(outr);
        cudaCheck(cudaFree(d_a)); cudaCheck(cudaFree(d_br)); cudaCheck(cudaFree(d_res)); cudaCheck(cudaFree(d_out16));
    }
    snprintf(what, sizeof(what), "%s backward dx (+=)", label); check(what, d_dx[0], dx, n, 1e-4);
    snprintf(what, sizeof(what), "%s backward dw (+=)", label); check(what, d_dw[0], dw, C, 1e-4);
    if (!rms) { snprintf(what, sizeof(what), "%s backward db (+=)", label); check(what, d_db[0], db, C, 1e-4); }
    snprintf(what, sizeof(what), "%s backward dx = dres + ...", label); check(what, d_dxr, dxr, n, 1e-4);
    float* dw_run0 = (float*)mallocCheck(C * 4);
    cudaCheck(cudaMemcpy(dw_run0, d_dw[0], C * 4, cudaMemcpyDeviceToHost));
    snprintf(what, sizeof(what), "%s backward dw, run twice: same bits", label); check(what, d_dw[1], dw_run0, C, 0);
    free(x); free(w); free(b); free(dout); free(dx); free(dw); free(db); free(out); free(mean); free(rstd); free(dw_run0);
    free(dres); free(dxr);
    float* dev[] = {d_dres, d_dxr, d_x, d_w, d_b, d_dout, d_dx0, d_dw0, d_db0, d_out, d_mean, d_rstd, d_dx[0], d_dx[1], d_dw[0], d_dw[1], d_db[0], d_db[1]};
    for (size_t k = 0; k < sizeof(dev) / sizeof(dev[0]); k++) cudaCheck(cudaFree(dev[k]));
}

/* attention forward and backward (row kernels in fp32 mode, tiled kernels in bf16 mode for head
 * size 64) against attention_forward / attention_backward of seqmodels.h */
static void test_attention(int B, int T, int C, int H, int pos, double tol_fwd, double tol_bwd, float p_drop = 0) {
    uint64_t base = 31337, site = 7, seed = hash64(base * 1000003ull + site); // = dropout_site_dev(site) on the GPU
    gpu::set_dropout_seed(base);
    int N = B * T, n_masked = H > 1 ? H - 1 : 1;
    size_t n3 = (size_t)N * 3 * C, n1 = (size_t)N * C;
    float *qkv = rand_host(n3, 1), *dout = rand_host(n1, 1), *out = (float*)mallocCheck(n1 * 4);
    __nv_bfloat16* d_qkv16 = gpu::use_fp32 ? NULL : round_to_gpu16(qkv, n3); // bf16 mode: qkv is stored in bf16
    __nv_bfloat16* d_dout16 = gpu::use_fp32 ? NULL : round_to_gpu16(dout, n1); // and dout (the projection's backward writes it so)
    float *att = (float*)mallocCheck((size_t)B * H * T * T * 4), *dqkv = (float*)mallocCheck(n3 * 4);
    memset(dqkv, 0, n3 * 4);
    attention_forward(out, att, qkv, B, T, C, H, pos, n_masked, p_drop, seed);
    attention_backward(dqkv, dout, qkv, att, B, T, C, H, p_drop, seed);
    float *d_qkv = to_gpu(qkv, n3 * 4), *d_dout = to_gpu(dout, n1 * 4), *d_out, *d_lse, *d_dqkv, *d_scratch;
    cudaCheck(cudaMalloc(&d_out, n1 * 4)); cudaCheck(cudaMalloc(&d_lse, (size_t)B * H * T * 4)); cudaCheck(cudaMalloc(&d_dqkv, n3 * 4));
    cudaCheck(cudaMalloc(&d_scratch, (size_t)B * H * T * 4));
    cudaCheck(cudaMemset(d_dqkv, 0, n3 * 4));
    if (gpu::use_fp32) {
        gpu::attention_forward(d_out, d_lse, d_qkv, B, T, C, H, pos, n_masked, p_drop, site);
        gpu::attention_backward(d_dqkv, d_dout, d_out, d_qkv, d_lse, d_scratch, B, T, C, H, pos, n_masked, p_drop, site);
    } else { // bf16 mode writes a bf16 output; widen it for the comparison
        __nv_bfloat16 *d_out16, *d_dqkv16; // bf16 mode: attention writes bf16 output and bf16 dqkv
        cudaCheck(cudaMalloc(&d_out16, n1 * 2)); cudaCheck(cudaMalloc(&d_dqkv16, n3 * 2));
        gpu::attention_forward(d_out16, d_lse, d_qkv16, B, T, C, H, pos, n_masked, p_drop, site);
        gpu::attention_backward(d_dqkv16, d_dout16, d_out16, d_qkv16, d_lse, d_scratch, B, T, C, H, pos, n_masked, p_drop, site);
        widen_on_gpu(d_out, d_out16, n1);
        widen_on_gpu(d_dqkv, d_dqkv16, n3);
        cudaCheck(cudaFree(d_out16)); cudaCheck(cudaFree(d_qkv16)); cudaCheck(cudaFree(d_dqkv16)); cudaCheck(cudaFree(d_dout16));
    }
    char what[128];
    const char* kind = gpu::use_fp32 ? "rows fp32" : gpu::attention_uses_flash(C, H) ? "tiled bf16" : "rows bf16-out";
    snprintf(what, sizeof(what), "attention_forward %s hs %d T %d (%s%s)", kind, C / H, T, POS_NAMES[pos], p_drop > 0 ? ", dropout" : "");
    check(what, d_out, out, n1, tol_fwd);
    snprintf(what, sizeof(what), "attention_backward %s hs %d T %d (%s%s)", kind, C / H, T, POS_NAMES[pos], p_drop > 0 ? ", dropout" : "");
    check(what, d_dqkv, dqkv, n3, tol_bwd);
    if (gpu::use_fp32) { // the row kernels have no atomics: run again, the same bits
        float* first = (float*)mallocCheck(n3 * 4);
        cudaCheck(cudaMemcpy(first, d_dqkv, n3 * 4, cudaMemcpyDeviceToHost));
        gpu::attention_backward(d_dqkv, d_dout, d_out, d_qkv, d_lse, d_scratch, B, T, C, H, pos, n_masked, p_drop, site);
        snprintf(what, sizeof(what), "attention_backward %s hs %d T %d (%s%s), again: same bits", kind, C / H, T, POS_NAMES[pos],
                 p_drop > 0 ? ", dropout" : "");
        check(what, d_dqkv, first, n3, 0);
        free(first);
    }
    free(qkv); free(dout); free(out); free(att); free(dqkv);
    cudaCheck(cudaFree(d_qkv)); cudaCheck(cudaFree(d_dout)); cudaCheck(cudaFree(d_out)); cudaCheck(cudaFree(d_lse));
    cudaCheck(cudaFree(d_dqkv)); cudaCheck(cudaFree(d_scratch));
}

/* conv1d + SiLU (fused on the GPU) against conv1d_forward/backward and silu_forward/backward;
 * X: the type of x (in_proj's output), xc, dxc and dx (bf16: inputs rounded, outputs checked loosely) */
template <typename X>
static void test_conv1d(int B, int T, int E, int W) {
    size_t n = (size_t)B * T * E;
    double tol = sizeof(X) == 2 ? 1e-2 : 1e-5, tol_w = sizeof(X) == 2 ? 1e-3 : 1e-5; // (the weight sums see x rounded once)
    float *xz = rand_host(2 * n, 1), *w = rand_host((size_t)E * W, 0.5), *bias = rand_host(E, 0.5), *dxc = rand_host(n, 1);
    X *d_xz = upload<X>(xz, 2 * n), *d_dxc = upload<X>(dxc, n); // (rounds xz and dxc first in bf16 mode)
    float *xs = (float*)mallocCheck(n * 4), *xconv = (float*)mallocCheck(n * 4), *xc = (float*)mallocCheck(n * 4);
    float *dxconv = (float*)mallocCheck(n * 4), *dxs = (float*)calloc(n, 4), *dw = (float*)calloc((size_t)E * W, 4), *db = (float*)calloc(E, 4);
    for (size_t i = 0; i < (size_t)B * T; i++) memcpy(xs + i * E, xz + i * 2 * E, E * 4); // the xs half
    conv1d_forward(xconv, xs, w, bias, B, T, E, W);
    silu_forward(xc, xconv, n);
    silu_backward(dxconv, xconv, dxc, n);
    conv1d_backward(dxs, dw, db, dxconv, xs, w, B, T, E, W);
    float *d_w = to_gpu(w, (size_t)E * W * 4), *d_b = to_gpu(bias, E * 4);
    float *d_dw, *d_db, *d_scr;
    X *d_xc, *d_dxz;
    cudaCheck(cudaMalloc(&d_xc, n * sizeof(X))); cudaCheck(cudaMalloc(&d_dxz, 2 * n * sizeof(X)));
    cudaCheck(cudaMalloc(&d_dw, (size_t)E * W * 4)); cudaCheck(cudaMalloc(&d_db, E * 4));
    cudaCheck(cudaMalloc(&d_scr, gpu::conv1d_backward_scratch(B, T, E) * 4));
    cudaCheck(cudaMemset(d_dw, 0, (size_t)E * W * 4)); cudaCheck(cudaMemset(d_db, 0, E * 4));
    gpu::conv1d_silu_forward(d_xc, d_xz, 2 * E, d_w, d_b, B, T, E, W);
    gpu::conv1d_silu_backward(d_dxz, 2 * E, d_dw, d_db, d_scr, d_dxc, d_xz, d_w, d_b, B, T, E, W);
    X* dxz_h = (X*)mallocCheck(2 * n * sizeof(X));
    cudaCheck(cudaMemcpy(dxz_h, d_dxz, 2 * n * sizeof(X), cudaMemcpyDeviceToHost));
    for (size_t i = 0; i < (size_t)B * T; i++) memmove(dxz_h + i * E, dxz_h + i * 2 * E, E * sizeof(X)); // compact the xs half
    X* d_dxs = (X*)to_gpu(dxz_h, n * sizeof(X));
    char what[128];
    snprintf(what, sizeof(what), "conv1d+silu forward %s (W %d, E %d)", type_name<X>(), W, E);
    check_as(what, d_xc, xc, n, tol);
    snprintf(what, sizeof(what), "conv1d+silu backward %s dx (W %d)", type_name<X>(), W);
    check_as(what, d_dxs, dxs, n, tol);
    snprintf(what, sizeof(what), "conv1d+silu backward %s dweight", type_name<X>());
    check(what, d_dw, dw, (size_t)E * W, tol_w);
    snprintf(what, sizeof(what), "conv1d+silu backward %s dbias", type_name<X>());
    check(what, d_db, db, E, tol_w);
    free(xz); free(w); free(bias); free(dxc); free(xs); free(xconv); free(xc); free(dxconv); free(dxs); free(dw); free(db); free(dxz_h);
    cudaCheck(cudaFree(d_xz)); cudaCheck(cudaFree(d_w)); cudaCheck(cudaFree(d_b)); cudaCheck(cudaFree(d_dxc)); cudaCheck(cudaFree(d_xc));
    cudaCheck(cudaFree(d_dxz)); cudaCheck(cudaFree(d_dw)); cudaCheck(cudaFree(d_db)); cudaCheck(cudaFree(d_scr));
    cudaCheck(cudaFree(d_dxs));
}

/* the fused scan kernels (step size, scan, gate) against the CPU reference built from the ops of
 * ssm_forward / ssm_backward: dt from dtr + bias, ssm_scan_forward, g = y SiLU(z), and back */
template <typename X> /* the type of xc, dtr, xz, g, dg, dxc, ddtr and dz (bf16: inputs rounded, outputs checked loosely) */
static void test_ssm_scan(int longhorn, int B, int T, int E, int N, int R) {
    int XD = R + 2 * N;
    size_t BT = (size_t)B * T, n = BT * E;
    bool h16 = sizeof(X) == 2;
    double tol_out = h16 ? 1e-2 : 1e-5, tol_f = h16 ? 2e-3 : 1e-4; // bf16 outputs are rounded once; fp32 ones only see rounded inputs
    float *xc = rand_host(n, 1), *dtr = rand_host(n, 1), *bias = rand_host(E, 1), *xdbl = rand_host(BT * XD, 1);
    float *xz = rand_host(2 * n, 2), *A_log = (float*)mallocCheck((size_t)E * N * 4), *D = rand_host(E, 1), *dg = rand_host(n, 1);
    X *d_xc = upload<X>(xc, n), *d_dtr = upload<X>(dtr, n), *d_xz = upload<X>(xz, 2 * n), *d_dg = upload<X>(dg, n); // (rounded first in bf16 mode)
    for (int e = 0; e < E; e++)
        for (int k = 0; k < N; k++) A_log[e * N + k] = (float)(log(k + 1.0) + 0.3 * (rng_uniform(&rng) - 0.5));
    // CPU reference forward
    float *dt = (float*)mallocCheck(n * 4), *ksq = (float*)mallocCheck(BT * 4), *h = (float*)mallocCheck(n * N * 4);
    float *y = (float*)mallocCheck(n * 4), *g = (float*)mallocCheck(n * 4), *v = (float*)mallocCheck(n * 4);
    for (size_t i = 0; i < n; i++) v[i] = dtr[i] + bias[i % E]; // the CPU adds the bias in the matmul
    ssm_dt_forward(dt, ksq, v, xdbl, longhorn, (int)BT, E, N, R);
    ssm_scan_forward(h, y, xc, dt, xdbl, longhorn ? NULL : A_log, D, longhorn, B, T, E, N, R);
    float *dy = (float*)mallocCheck(n * 4), *dz = (float*)calloc(2 * n, 4);
    for (size_t i = 0; i < BT; i++)
        for (int e = 0; e < E; e++) {
            float zz = xz[i * 2 * E + E + e], s = sigmoidr(zz), gd = dg[i * E + e], yy = y[i * E + e];
            g[i * E + e] = yy * zz * s;
            dy[i * E + e] = gd * zz * s;
            dz[i * 2 * E + E + e] = gd * yy * (s + zz * s * (1 - s));
        }
    // CPU reference backward, then through the step size (as ssm_backward does)
    float *dxc = (float*)calloc(n, 4), *ddt = (float*)calloc(n, 4), *dxdbl = (float*)calloc(BT * XD, 4);
    float *dA = (float*)calloc((size_t)E * N, 4), *dD = (float*)calloc(E, 4), *ddtr = (float*)calloc(n, 4);
    ssm_scan_backward(dxc, ddt, dxdbl, longhorn ? NULL : dA, dD, dy, h, xc, dt, xdbl, longhorn ? NULL : A_log, D, longhorn, B, T, E, N, R);
    ssm_dt_backward(ddtr, dxdbl, ddt, v, ksq, xdbl, longhorn, (int)BT, E, N, R);
    // GPU
    float *d_bias = to_gpu(bias, E * 4), *d_xdbl = to_gpu(xdbl, BT * XD * 4);
    float *d_A = to_gpu(A_log, (size_t)E * N * 4), *d_D = to_gpu(D, E * 4);
    float *d_hck, *d_dxdbl, *d_dA, *d_dD, *d_db, *d_scr;
    X *d_g, *d_ddtr, *d_dxz, *d_dxc;
    cudaCheck(cudaMalloc(&d_g, n * sizeof(X)));
    cudaCheck(cudaMalloc(&d_hck, (size_t)B * gpu::ssm_n_chunks(T) * E * N * 4));
    cudaCheck(cudaMalloc(&d_dxc, n * sizeof(X))); cudaCheck(cudaMalloc(&d_ddtr, n * sizeof(X))); cudaCheck(cudaMalloc(&d_dxz, 2 * n * sizeof(X)));
    cudaCheck(cudaMalloc(&d_dxdbl, BT * XD * 4)); cudaCheck(cudaMalloc(&d_dA, (size_t)E * N * 4)); cudaCheck(cudaMalloc(&d_dD, E * 4));
    cudaCheck(cudaMalloc(&d_db, E * 4)); cudaCheck(cudaMemset(d_db, 0, E * 4));
    cudaCheck(cudaMalloc(&d_scr, gpu::ssm_scan_backward_scratch(B, T, E, N) * 4));
    cudaCheck(cudaMemset(d_dxz, 0, 2 * n * sizeof(X))); cudaCheck(cudaMemset(d_dxdbl, 0, BT * XD * 4));
    cudaCheck(cudaMemset(d_dA, 0, (size_t)E * N * 4)); cudaCheck(cudaMemset(d_dD, 0, E * 4));
    gpu::ssm_scan_forward(d_g, d_hck, d_xc, d_dtr, d_bias, d_xdbl, d_xz, longhorn ? NULL : d_A, d_D, longhorn, B, T, E, N, R);
    gpu::ssm_scan_backward(d_dxc, d_ddtr, d_dxz, d_dxdbl, d_dA, d_dD, d_db, d_scr, d_dg, d_hck, d_xc, d_dtr, d_bias, d_xdbl, d_xz,
                           longhorn ? NULL : d_A, d_D, longhorn, B, T, E, N, R);
    char what[160], label[64];
    snprintf(label, sizeof(label), "%s %s N %d T %d E %d", longhorn ? "longhorn" : "mamba", type_name<X>(), N, T, E);
    snprintf(what, sizeof(what), "ssm_scan_forward %s: g = y SiLU(z)", label); check_as(what, d_g, g, n, tol_out);
    snprintf(what, sizeof(what), "ssm_scan_backward %s: dxc", label); check_as(what, d_dxc, dxc, n, h16 ? tol_out : tol_f);
    snprintf(what, sizeof(what), "ssm_scan_backward %s: d dt_proj out", label); check_as(what, d_ddtr, ddtr, n, h16 ? tol_out : 1e-4);
    snprintf(what, sizeof(what), "ssm_scan_backward %s: dz", label); check_as(what, d_dxz, dz, 2 * n, tol_out);
    snprintf(what, sizeof(what), "ssm_scan_backward %s: d x_proj out (B/k, C/q)", label); check(what, d_dxdbl, dxdbl, BT * XD, tol_f);
    if (!longhorn) { snprintf(what, sizeof(what), "ssm_scan_backward %s: dA_log", label); check(what, d_dA, dA, (size_t)E * N, tol_f); }
    snprintf(what, sizeof(what), "ssm_scan_backward %s: dD", label); check(what, d_dD, dD, E, tol_f);
    float* dbias = (float*)calloc(E, 4); // the dt bias gradient: d dt_proj summed over (b, t)
    for (size_t i = 0; i < BT; i++)
        for (int e = 0; e < E; e++) dbias[e] += ddtr[i * E + e];
    snprintf(what, sizeof(what), "ssm_scan_backward %s: dt bias", label); check(what, d_db, dbias, E, tol_f);
    free(dbias);
    free(xc); free(dtr); free(bias); free(xdbl); free(xz); free(A_log); free(D); free(dg); free(dt); free(ksq); free(h); free(y); free(g); free(v);
    free(dy); free(dz); free(dxc); free(ddt); free(dxdbl); free(dA); free(dD); free(ddtr);
    void* dev[] = {d_xc, d_dtr, d_bias, d_xdbl, d_xz, d_A, d_D, d_dg, d_g, d_hck, d_dxc, d_ddtr, d_dxz, d_dxdbl, d_dA, d_dD, d_db, d_scr};
    for (size_t k = 0; k < sizeof(dev) / sizeof(dev[0]); k++) cudaCheck(cudaFree(dev[k]));
}

/* a whole model: loss, logits and every gradient, GPU against the CPU reference on the same weights,
 * batch and dropout masks. fp32 mode: tight tolerances (heads of 32: the row attention kernel);
 * bf16 mode: the spec's 2e-2 (heads of 64: the tiled attention kernel). */
static void compare_model(const char* model, int pos, int bias, float dropout, int fp32) {
    gpu::use_fp32 = fp32;
    Config c = {0};
    snprintf(c.model, sizeof(c.model), "%s", model);
    c.vocab_size = 256; c.block_size = 64; c.n_layer = 2; c.n_head = fp32 ? 4 : 2; c.n_embd = 128;
    c.pos = pos; c.bias = bias; c.dropout = dropout; c.attn_dropout = dropout; c.embd_dropout = -1; c.num_masked_heads = -1;
    int B = 4, T = 64, BT = B * T;
    Model m;
    if (model_build(&m, &c, B, T, 5)) sm_die("%s", sm_err);
    for (size_t i = 0; i < m.pt.total; i++) m.params[i] += (float)(0.05 * (2 * rng_uniform(&rng) - 1)); // norms, biases off their init
    int *in = (int*)mallocCheck(BT * sizeof(int)), *tg = (int*)mallocCheck(BT * sizeof(int));
    unsigned char* mask = (unsigned char*)mallocCheck(BT);
    for (int i = 0; i < BT; i++) { in[i] = (int)rng_below(&rng, 256); tg[i] = (int)rng_below(&rng, 256); mask[i] = i % 7 != 3; }
    m.training = 1;
    m.dropout_seed = 4242;
    gpu::GpuModel g;
    gpu::gpu_model_init(&g, &m, B, T); // copies the parameters
    model_zero_grad(&m);
    double loss_cpu = model_forward(&m, in, tg, mask, B, T);
    model_backward(&m, in, tg, mask, B, T);
    cudaCheck(cudaMemset(g.grads, 0, m.pt.total * sizeof(float)));
    double loss_gpu = gpu::model_forward(&g, in, tg, mask, B, T);
    gpu::model_backward(&g, B, T);
    char what[192], label[128];
    snprintf(label, sizeof(label), "%s %s --pos %s --bias %d --dropout %g --attn_dropout %g%s", fp32 ? "fp32" : "bf16", model,
             POS_NAMES[pos], bias, dropout, dropout, is_ssm_name(model) || gpu::recompute == 1 ? "" : gpu::recompute ? " --recompute 2" : " --recompute 0");
    float lc = (float)loss_cpu, lg = (float)loss_gpu;
    float* d_l = to_gpu(&lg, 4);
    snprintf(what, sizeof(what), "model %s: loss (cpu %.6f)", label, loss_cpu);
    check(what, d_l, &lc, 1, fp32 ? 1e-5 : 1e-2);
    snprintf(what, sizeof(what), "model %s: logits", label);
    check(what, g.logits, m.logits, (size_t)BT * 256, fp32 ? 1e-4 : 2e-2);
    snprintf(what, sizeof(what), "model %s: all %d gradients", label, m.pt.n);
    check(what, g.grads, m.grads, m.pt.total, fp32 ? 1e-4 : 2e-2);
    model_free(&m);
}

/* train_step with a CUDA graph (captured on the 2nd step, replayed after) against the same steps
 * launched kernel by kernel: the same losses and parameters. With dropout on, a graph that kept
 * the first step's dropout seed or learning rate would drift from the eager run at step 3. */
static void test_train_step_graph(const char* model, int fp32) {
    gpu::use_fp32 = fp32;
    Config c = {0};
    snprintf(c.model, sizeof(c.model), "%s", model);
    c.vocab_size = 256; c.block_size = 32; c.n_layer = 2; c.n_head = 1; c.n_embd = 64; c.num_masked_heads = -1; // heads of 64: bf16 mode takes the tiled attention
    c.pos = is_ssm_name(model) ? POS_NOPE : POS_LEARNED;
    c.dropout = c.attn_dropout = is_ssm_name(model) ? 0.0f : 0.1f; c.embd_dropout = -1;
    int B = 4, T = 32, BT = B * T, steps = 5;
    Model m;
    if (model_build(&m, &c, 1, 1, 7)) sm_die("%s", sm_err);
    int *in = (int*)mallocCheck(BT * sizeof(int)), *tg = (int*)mallocCheck(BT * sizeof(int));
    for (int i = 0; i < BT; i++) { in[i] = (int)rng_below(&rng, 256); tg[i] = (int)rng_below(&rng, 256); }
    OptimConfig o = {.lr = 1e-3, .min_lr = 1e-4, .warmup = 2, .decay_steps = 5, .beta1 = 0.9, .beta2 = 0.99, .eps = 1e-8, .weight_decay = 0.1, .grad_clip = 1};
    float* params[2];
    double loss[2][8];
    char what[128];
    for (int graph = 0; graph <= 1; graph++) {
        gpu::GpuModel g;
        gpu::gpu_model_init(&g, &m, B, T);
        g.use_graph = graph;
        m.training = 1;
        for (int step = 0; step < steps; step++) {
            m.dropout_seed = hash64(99 + step);
            double norm;
            loss[graph][step] = gpu::train_step(&g, in, tg, NULL, B, T, &o, lr_at(&o, step), step + 1, &norm);
        }
        if (graph && !g.graph) { printf("FAIL train_step %s: no graph was captured\n", model); n_fail++; }
        params[graph] = g.params;
        if (graph && !fp32) { // the bf16 mirror of the weights follows AdamW's updates
            size_t P = m.pt.total;
            __nv_bfloat16* h16 = (__nv_bfloat16*)mallocCheck(P * 2);
            float* h32 = (float*)mallocCheck(P * 4);
            cudaCheck(cudaMemcpy(h16, g.params16, P * 2, cudaMemcpyDeviceToHost));
            for (size_t i = 0; i < P; i++) h32[i] = __bfloat162float(h16[i]);
            snprintf(what, sizeof(what), "train_step %s bf16: weight mirror = params after %d steps", model, steps);
            check(what, g.params, h32, P, 4e-3);
            free(h16); free(h32);
        }
    }
    snprintf(what, sizeof(what), "train_step %s %s: graph vs eager, params after %d steps", model, fp32 ? "fp32" : "bf16", steps);
    float* h_eager = (float*)mallocCheck(m.pt.total * 4);
    cudaCheck(cudaMemcpy(h_eager, params[0], m.pt.total * 4, cudaMemcpyDeviceToHost));
    // every sum of the step has a fixed order (no float atomics anywhere since session 16, when
    // the fp32 row attention backward lost its dK, dV atomics: they had made this check vary
    // run to run by up to 1.2e-5 for fp32 gpt, AdamW amplifying their order noise where v is
    // tiny), so graph and eager must agree bit for bit
    check(what, params[1], h_eager, m.pt.total, 0.0);
    float lg = (float)loss[1][steps - 1], le = (float)loss[0][steps - 1], *d_l = to_gpu(&lg, 4);
    snprintf(what, sizeof(what), "train_step %s %s: graph vs eager, loss at step %d (%.6f)", model, fp32 ? "fp32" : "bf16", steps, le);
    check(what, d_l, &le, 1, 0.0);
    free(h_eager);
    model_free(&m);
}

/* A Transformer's training step does not clear the gradients: its backward writes each one
 * (grad_set). With the buffer filled with NaN first, the gradients one train_step leaves must equal
 * those of a cleared buffer plus model_backward (which adds): a tensor no writer set would keep its
 * NaN, one that was added to instead of set would differ. (The matmuls that set take beta 0, maybe
 * another kernel than beta 1's: the same sums, maybe in another order, hence the small tolerance.) */
static void test_train_step_sets_grads(const char* model, int pos, int bias, int fp32) {
    gpu::use_fp32 = fp32;
    Config c = {0};
    snprintf(c.model, sizeof(c.model), "%s", model);
    c.vocab_size = 256; c.block_size = 32; c.n_layer = 2; c.n_head = 1; c.n_embd = 64; c.num_masked_heads = -1;
    c.pos = pos; c.bias = bias; c.embd_dropout = -1;
    int B = 4, T = 32, BT = B * T;
    Model m;
    if (model_build(&m, &c, 1, 1, 11)) sm_die("%s", sm_err);
    for (size_t i = 0; i < m.pt.total; i++) m.params[i] += (float)(0.05 * (2 * rng_uniform(&rng) - 1)); // norms, biases off their init
    int *in = (int*)mallocCheck(BT * sizeof(int)), *tg = (int*)mallocCheck(BT * sizeof(int));
    for (int i = 0; i < BT; i++) { in[i] = (int)rng_below(&rng, 256); tg[i] = (int)rng_below(&rng, 256); }
    OptimConfig o = {.lr = 1e-3, .min_lr = 1e-4, .warmup = 2, .decay_steps = 5, .beta1 = 0.9, .beta2 = 0.99, .eps = 1e-8, .weight_decay = 0.1, .grad_clip = 1};
    m.training = 1;
    size_t P = m.pt.total;
    gpu::GpuModel ref, g;
    gpu::gpu_model_init(&ref, &m, B, T); // the reference: cleared, then model_backward adds
    cudaCheck(cudaMemset(ref.grads, 0, P * sizeof(float)));
    gpu::model_forward(&ref, in, tg, NULL, B, T);
    gpu::model_backward(&ref, B, T);
    float* want = (float*)mallocCheck(P * sizeof(float));
    cudaCheck(cudaMemcpy(want, ref.grads, P * sizeof(float), cudaMemcpyDeviceToHost));
    gpu::gpu_model_init(&g, &m, B, T);
    g.use_graph = 0;
    cudaCheck(cudaMemset(g.grads, 0xff, P * sizeof(float))); // NaN
    double norm;
    gpu::train_step(&g, in, tg, NULL, B, T, &o, 1e-3, 1, &norm);
    char what[160];
    snprintf(what, sizeof(what), "train_step %s %s --pos %s --bias %d: every gradient set", model, fp32 ? "fp32" : "bf16", POS_NAMES[pos], bias);
    check(what, g.grads, want, P, fp32 ? 1e-5 : 1e-4);
    free(want); free(in); free(tg);
    model_free(&m);
}

int main(void) {
    int dev;
    cudaDeviceProp prop;
    cudaCheck(cudaGetDevice(&dev));
    cudaCheck(cudaGetDeviceProperties(&prop, dev));
    printf("device: %s\n", prop.name);
    gpu::use_fp32 = 1; // the op checks below are fp32-tight; bf16 runs are marked as such
    int B = 4, T = 64, C = 96, V = 259, N = B * T;
    size_t BTC = (size_t)N * C;

    { // encoder forward / backward
        int* idx = (int*)mallocCheck(N * sizeof(int));
        for (int i = 0; i < N; i++) idx[i] = (int)rng_below(&rng, V);
        float *wte = rand_host((size_t)V * C, 1), *wpe = rand_host((size_t)T * C, 1), *out = rand_host(BTC, 1), *dout = rand_host(BTC, 1);
        float *dwte = (float*)mallocCheck((size_t)V * C * 4), *dwpe = (float*)mallocCheck((size_t)T * C * 4);
        encoder_forward(out, idx, wte, wpe, B, T, C);
        encoder_backward(dwte, dwpe, dout, idx, B, T, C);
        int* d_idx = (int*)to_gpu(idx, N * sizeof(int));
        float *d_wte = to_gpu(wte, (size_t)V * C * 4), *d_wpe = to_gpu(wpe, (size_t)T * C * 4), *d_out = to_gpu(out, BTC * 4);
        float *d_dout = to_gpu(dout, BTC * 4), *d_dwte, *d_dwpe;
        cudaCheck(cudaMalloc(&d_dwte, (size_t)V * C * 4));
        cudaCheck(cudaMalloc(&d_dwpe, (size_t)T * C * 4));
        cudaCheck(cudaMemset(d_dwte, 0, (size_t)V * C * 4));
        cudaCheck(cudaMemset(d_dwpe, 0, (size_t)T * C * 4));
        gpu::encoder_forward(d_out, d_idx, d_wte, d_wpe, B, T, C);
        gpu::encoder_backward(d_dwte, d_dwpe, d_dout, d_idx, B, T, C, V);
        check("encoder_forward (wte + wpe)", d_out, out, BTC, 1e-6);
        check("encoder_backward dwte", d_dwte, dwte, (size_t)V * C, 1e-5);
        check("encoder_backward dwpe", d_dwpe, dwpe, (size_t)T * C, 1e-5);
    }
    for (int Vs : {7, 5000}) { // encoder backward with a frequent token (half the positions: many rows per
      // partial sum) and more columns than one pass of the block; with 7 tokens the positions are
      // split over blocks (5 spans, the last one short), with 5000 the spans' scratch would be too
      // large, so one block per token lists more positions than one chunk
        int Bs = 2, Ts = 2500, Cs = 1100, Ns = Bs * Ts;
        int* idx = (int*)mallocCheck(Ns * sizeof(int));
        for (int i = 0; i < Ns; i++) idx[i] = rng_below(&rng, 2) ? 0 : (int)rng_below(&rng, Vs);
        float *dout = rand_host((size_t)Ns * Cs, 1), *dwte = (float*)mallocCheck((size_t)Vs * Cs * 4);
        encoder_backward(dwte, NULL, dout, idx, Bs, Ts, Cs);
        int* d_idx = (int*)to_gpu(idx, Ns * sizeof(int));
        float *d_dout = to_gpu(dout, (size_t)Ns * Cs * 4), *d_dwte;
        cudaCheck(cudaMalloc(&d_dwte, (size_t)Vs * Cs * 4));
        cudaCheck(cudaMemset(d_dwte, 0, (size_t)Vs * Cs * 4));
        gpu::encoder_backward(d_dwte, NULL, d_dout, d_idx, Bs, Ts, Cs, Vs);
        char what[96];
        snprintf(what, sizeof(what), "encoder_backward dwte (a token at half the positions, N 5000, C 1100, V %d)", Vs);
        check(what, d_dwte, dwte, (size_t)Vs * Cs, 1e-5);
    }
    { // linear forward / backward through cuBLAS, odd output width, with bias
        int Cin = 96, OC = 259;
        float *x = rand_host((size_t)N * Cin, 1), *W = rand_host((size_t)OC * Cin, 0.1), *bias = rand_host(OC, 1), *dout = rand_host((size_t)N * OC, 1);
        float *out = (float*)mallocCheck((size_t)N * OC * 4), *dx = (float*)mallocCheck((size_t)N * Cin * 4);
        float *dW = (float*)mallocCheck((size_t)OC * Cin * 4), *db = (float*)mallocCheck(OC * 4);
        linear_forward(out, x, W, bias, N, Cin, OC);
        linear_backward(dx, dW, db, dout, x, W, N, Cin, OC);
        float *d_x = to_gpu(x, (size_t)N * Cin * 4), *d_W = to_gpu(W, (size_t)OC * Cin * 4), *d_b = to_gpu(bias, OC * 4);
        float *d_dout = to_gpu(dout, (size_t)N * OC * 4), *d_out, *d_dx, *d_dW, *d_db;
        cudaCheck(cudaMalloc(&d_out, (size_t)N * OC * 4)); cudaCheck(cudaMalloc(&d_dx, (size_t)N * Cin * 4));
        cudaCheck(cudaMalloc(&d_dW, (size_t)OC * Cin * 4)); cudaCheck(cudaMalloc(&d_db, OC * 4));
        cudaCheck(cudaMemset(d_dx, 0, (size_t)N * Cin * 4)); cudaCheck(cudaMemset(d_dW, 0, (size_t)OC * Cin * 4)); cudaCheck(cudaMemset(d_db, 0, OC * 4));
        gpu::linear_forward(d_out, d_x, d_W, d_b, N, Cin, OC);
        gpu::linear_backward(d_dx, d_dW, d_db, d_dout, d_x, d_W, N, Cin, OC);
        check("linear_forward (cuBLAS fp32) + bias", d_out, out, (size_t)N * OC, 1e-5);
        check("linear_backward dinp", d_dx, dx, (size_t)N * Cin, 1e-5);
        check("linear_backward dW", d_dW, dW, (size_t)OC * Cin, 1e-5);
        check("linear_backward dbias", d_db, db, OC, 1e-5);
        gpu::use_fp32 = 0; // the same on the tensor cores (bf16 products, fp32 accumulation)
        cudaCheck(cudaMemset(d_dx, 0, (size_t)N * Cin * 4)); cudaCheck(cudaMemset(d_dW, 0, (size_t)OC * Cin * 4));
        gpu::linear_forward(d_out, d_x, d_W, d_b, N, Cin, OC);
        gpu::linear_backward(d_dx, d_dW, NULL, d_dout, d_x, d_W, N, Cin, OC);
        check("linear_forward (cuBLAS bf16) + bias", d_out, out, (size_t)N * OC, 1e-2);
        check("linear_backward dinp (bf16)", d_dx, dx, (size_t)N * Cin, 1e-2);
        check("linear_backward dW (bf16)", d_dW, dW, (size_t)OC * Cin, 1e-2);
        gpu::use_fp32 = 1;
    }
    { // swiglu, rope
        size_t n = BTC * 3;
        float *g = rand_host(n, 4), *u = rand_host(n, 1), *dout = rand_host(n, 1);
        float *out = (float*)mallocCheck(n * 4), *dg = (float*)mallocCheck(n * 4), *du = (float*)mallocCheck(n * 4);
        swiglu_forward(out, g, u, n);
        swiglu_backward(dg, du, dout, g, u, n);
        float *d_g = to_gpu(g, n * 4), *d_u = to_gpu(u, n * 4), *d_dout = to_gpu(dout, n * 4), *d_out, *d_dg, *d_du;
        cudaCheck(cudaMalloc(&d_out, n * 4)); cudaCheck(cudaMalloc(&d_dg, n * 4)); cudaCheck(cudaMalloc(&d_du, n * 4));
        cudaCheck(cudaMemset(d_dg, 0, n * 4)); cudaCheck(cudaMemset(d_du, 0, n * 4));
        gpu::swiglu_forward(d_out, d_g, d_u, n);
        gpu::swiglu_backward(d_dg, d_du, d_dout, d_g, d_u, n);
        check("swiglu_forward", d_out, out, n, 1e-5);
        check("swiglu_backward dgate", d_dg, dg, n, 1e-5);
        check("swiglu_backward dup", d_du, du, n, 1e-5);
        // rope on a (B,T,3C) buffer with H = 3 heads of 32, forward then backward (the inverse)
        float* qkv = rand_host(n, 1);
        float* d_qkv = to_gpu(qkv, n * 4);
        rope_forward(qkv, B, T, C, 3);
        gpu::rope_forward(d_qkv, B, T, C, 3);
        check("rope_forward (q, k rotated, v untouched)", d_qkv, qkv, n, 1e-5);
        rope_backward(qkv, B, T, C, 3);
        gpu::rope_backward(d_qkv, B, T, C, 3);
        check("rope_backward", d_qkv, qkv, n, 1e-5);
    }
    for (int pos = 0; pos < POS_COUNT; pos++) { // attention, every position variant's bias
        gpu::use_fp32 = 1;
        test_attention(B, T, 96, 4, pos, 1e-5, 1e-4);   // row kernels: 4 heads of 24, fp32
        gpu::use_fp32 = 0;
        test_attention(2, 200, 128, 2, pos, 1e-2, 2e-2); // tiled bf16 kernels: heads of 64, T not a tile multiple
        test_attention(B, T, 96, 4, pos, 1e-2, 2e-2);    // bf16 mode, other head sizes: row kernels, bf16 output
    }
    gpu::use_fp32 = 1; // attention-probability dropout: the same hash masks as the CPU
    test_attention(B, T, 96, 4, POS_ALIBI, 1e-5, 1e-4, 0.2f);
    gpu::use_fp32 = 0;
    test_attention(2, 200, 128, 2, POS_ALIBI, 1e-2, 2e-2, 0.2f);
    test_attention(2, 200, 128, 2, POS_HARD_ALIBI, 1e-2, 2e-2, 0.2f);
    gpu::use_fp32 = 1;
    // LayerNorm and RMSNorm: register rows (C % 4 == 0, C <= NORM_MAX_C; lanes left idle at 96, 640)
    // and the strided kernels (C 97, 1100)
    for (int rms = 0; rms <= 1; rms++) {
        test_norm(rms, N, C);
        test_norm(rms, 1000, 768);
        test_norm(rms, 203, 640);
        test_norm(rms, 130, 1024);
        test_norm(rms, 70, 97);
        test_norm(rms, 50, 1100);
    }
    { // gelu, residual
        size_t n = BTC * 4;
        float *u = rand_host(n, 4), *dout = rand_host(n, 1), *o2 = rand_host(n, 1);
        float *out = (float*)mallocCheck(n * 4), *du = (float*)mallocCheck(n * 4), *res = (float*)mallocCheck(n * 4);
        memset(du, 0, n * 4);
        gelu_forward(out, u, n);
        gelu_backward(du, u, dout, n);
        residual_forward(res, u, o2, n);
        float *d_u = to_gpu(u, n * 4), *d_dout = to_gpu(dout, n * 4), *d_o2 = to_gpu(o2, n * 4), *d_out, *d_du, *d_res;
        cudaCheck(cudaMalloc(&d_out, n * 4)); cudaCheck(cudaMalloc(&d_du, n * 4)); cudaCheck(cudaMalloc(&d_res, n * 4));
        cudaCheck(cudaMemset(d_du, 0, n * 4));
        gpu::gelu_forward(d_out, d_u, n);
        gpu::gelu_backward(d_du, d_u, d_dout, n);
        gpu::residual_forward(d_res, d_u, d_o2, n);
        check("gelu_forward", d_out, out, n, 1e-5);
        check("gelu_backward", d_du, du, n, 1e-5);
        check("residual_forward", d_res, res, n, 1e-7);
        // bf16 mode: the c_fc matmul writes u in bf16, GELU writes bf16 out and bf16 d(u)
        __nv_bfloat16 *d_u16 = round_to_gpu16(u, n), *d_out16, *d_du16;
        cudaCheck(cudaMalloc(&d_out16, n * 2)); cudaCheck(cudaMalloc(&d_du16, n * 2));
        memset(du, 0, n * 4);
        gelu_forward(out, u, n);
        gelu_backward(du, u, dout, n);
        gpu::gelu_forward(d_out16, d_u16, n);
        gpu::gelu_backward(d_du16, d_u16, d_dout, n);
        widen_on_gpu(d_out, d_out16, n);
        widen_on_gpu(d_du, d_du16, n);
        check("gelu_forward (bf16 in, bf16 out)", d_out, out, n, 1e-2);
        check("gelu_backward (bf16 in, bf16 out)", d_du, du, n, 1e-2);
        cudaCheck(cudaFree(d_u16)); cudaCheck(cudaFree(d_out16)); cudaCheck(cudaFree(d_du16));
        test_mlp_gelu_epilogues(0);
        test_mlp_gelu_epilogues(1);
        test_lt_same_bits();
        // dropout backward out of place (the residual branches' gradient): the CPU's masks
        uint64_t base = 777, site = 5;
        gpu::set_dropout_seed(base);
        cudaCheck(cudaMemset(d_res, 0xff, n * 4));
        const float* got = gpu::dropout_backward_to(d_res, d_dout, n, 0.3f, site);
        memcpy(res, dout, n * 4);
        dropout_backward(res, n, 0.3f, hash64(base * 1000003ull + site)); // = dropout_site_dev(site)
        check("dropout_backward_to (p 0.3, out of place)", got, res, n, 1e-7);
        got = gpu::dropout_backward_to(d_res, d_dout, n, 0.0f, site);
        printf("%-4s %s\n", got == d_dout ? "ok" : "FAIL", "dropout_backward_to (p 0): returns dout itself");
        got == d_dout ? n_pass++ : n_fail++;
    }
    { // fused cross-entropy (with a loss mask) vs crossentropy_forward + backward
        float* logits = rand_host((size_t)N * V, 5);
        int* tg = (int*)mallocCheck(N * sizeof(int));
        unsigned char* mask = (unsigned char*)mallocCheck(N);
        int scored = 0;
        for (int i = 0; i < N; i++) { tg[i] = (int)rng_below(&rng, V); mask[i] = i % 4 != 0; scored += mask[i]; }
        float *losses = (float*)mallocCheck(N * 4), *probs = (float*)mallocCheck((size_t)N * V * 4), *dl = (float*)mallocCheck((size_t)N * V * 4);
        crossentropy_forward(losses, probs, logits, tg, N, V);
        crossentropy_backward(dl, probs, tg, mask, 1.0 / scored, N, V);
        float *d_logits = to_gpu(logits, (size_t)N * V * 4), *d_losses, *d_dl;
        int* d_tg = (int*)to_gpu(tg, N * sizeof(int));
        unsigned char* d_mask = (unsigned char*)to_gpu(mask, N);
        cudaCheck(cudaMalloc(&d_losses, N * 4)); cudaCheck(cudaMalloc(&d_dl, (size_t)N * V * 4));
        float inv_scored = 1.0f / scored, *d_scale = to_gpu(&inv_scored, 4); // a device scalar, as in a training step
        gpu::crossentropy_fused(d_losses, d_dl, d_logits, d_tg, d_mask, d_scale, N, V);
        check("crossentropy_fused losses", d_losses, losses, N, 1e-5);
        check("crossentropy_fused dlogits (masked)", d_dl, dl, (size_t)N * V, 1e-5);
    }
    { // AdamW on a whole model's buffer, grad norm
        Config c = {0};
        strcpy(c.model, "gpt");
        c.vocab_size = 256; c.block_size = 32; c.n_layer = 2; c.n_head = 2; c.n_embd = 64; c.pos = POS_LEARNED; c.num_masked_heads = -1;
        Model m;
        if (model_build(&m, &c, 1, 32, 1)) sm_die("%s", sm_err);
        size_t P = m.pt.total;
        for (size_t i = 0; i < P; i++) { m.grads[i] = (float)(rng_uniform(&rng) - 0.5); m.adam_m[i] = (float)(0.01 * (rng_uniform(&rng) - 0.5)); m.adam_v[i] = (float)(1e-4 * rng_uniform(&rng)); }
        float *d_p = to_gpu(m.params, P * 4), *d_g = to_gpu(m.grads, P * 4), *d_m = to_gpu(m.adam_m, P * 4), *d_v = to_gpu(m.adam_v, P * 4);
        OptimConfig o = {.lr = 1e-3, .min_lr = 0, .warmup = 0, .decay_steps = 1, .beta1 = 0.9, .beta2 = 0.99, .eps = 1e-8, .weight_decay = 0.1, .grad_clip = 1};
        // CPU: norm, clip (the random gradients' norm is far above 1), AdamW
        double norm_cpu = grad_norm(m.grads, P);
        grad_clip(m.grads, P, norm_cpu, o.grad_clip);
        adamw_step(&m, &o, o.lr, 3);
        // GPU: the step's scalars in device memory, sum of squares, one AdamW launch with the clip folded in
        gpu::StepScalars s = {}, *d_s;
        gpu::step_scalars_set(&s, &o, o.lr, 3);
        d_s = (gpu::StepScalars*)to_gpu(&s, sizeof(s));
        double* d_partials;
        cudaCheck(cudaMalloc(&d_partials, SUMSQ_BLOCKS * sizeof(double)));
        gpu::grad_sumsq(&d_s->sumsq, d_g, (long)P, d_partials);
        int n_chunks;
        gpu::AdamChunk* chunks = gpu::adamw_chunks(&m.pt, &n_chunks);
        gpu::adamw_update(d_p, NULL, d_g, d_m, d_v, chunks, n_chunks, d_s);
        cudaCheck(cudaMemcpy(&s, d_s, sizeof(s), cudaMemcpyDeviceToHost));
        float nc = (float)norm_cpu, ng = (float)sqrt(s.sumsq), *d_nc = to_gpu(&ng, 4);
        check("grad_norm (whole buffer)", d_nc, &nc, 1, 1e-6);
        check("adamw params (step 3, clipped, decay on matrices only)", d_p, m.params, P, 1e-6);
        check("adamw m", d_m, m.adam_m, P, 1e-5);
        check("adamw v", d_v, m.adam_v, P, 1e-5);
        model_free(&m);
        // the sum of squares alone, over lengths that leave 0..3 floats past the last float4 (its
        // tail), against a double sum on the CPU
        for (long n : {4000000L, 4000001L, 4000003L, 7L}) {
            float* h = rand_host((size_t)n, 1);
            double want = 0;
            for (long i = 0; i < n; i++) want += (double)h[i] * h[i];
            float* d_h = to_gpu(h, (size_t)n * 4);
            gpu::grad_sumsq(&d_s->sumsq, d_h, n, d_partials);
            cudaCheck(cudaMemcpy(&s, d_s, sizeof(s), cudaMemcpyDeviceToHost));
            float got = (float)(s.sumsq / want), one = 1.0f, *d_got = to_gpu(&got, 4);
            char name[64];
            snprintf(name, sizeof name, "grad_sumsq, %ld floats (sum / CPU sum)", n);
            check(name, d_got, &one, 1, 1e-7);
            free(h); cudaCheck(cudaFree(d_h)); cudaCheck(cudaFree(d_got));
        }
    }
    // SSM kernels (fp32: tight; bf16 activations: loose)
    test_conv1d<float>(2, 37, 80, 4);
    test_conv1d<float>(1, 9, 64, 7);
    test_conv1d<float>(2, 300, 48, 4); // several segments (CONV_FWD_SEG, CONV_BWD_SEG)
    test_conv1d<__nv_bfloat16>(2, 150, 48, 4);
    test_conv1d<__nv_bfloat16>(2, 70, 36, 3); // rows not 16-byte aligned: one channel per thread
    test_conv1d<float>(1, 130, 24, 2);
    // dt_rank 6 (and 3, 2): the forward's plain-load path; dt_rank 8 or 4 with E a multiple of 8:
    // its cp.async path (E 88: a last warp of 8 channels); T not a multiple of the 16-step chunks
    for (int lh = 0; lh <= 1; lh++) {
        test_ssm_scan<float>(lh, 2, 100, 80, 16, 6);
        test_ssm_scan<float>(lh, 2, 33, 64, 8, 4);
        test_ssm_scan<float>(lh, 2, 100, 88, 16, 8);
        test_ssm_scan<__nv_bfloat16>(lh, 2, 100, 80, 16, 6);
        test_ssm_scan<__nv_bfloat16>(lh, 2, 100, 88, 16, 8);
        test_ssm_scan<__nv_bfloat16>(lh, 1, 50, 96, 4, 4);
        test_ssm_scan<float>(lh, 1, 37, 85, 16, 5); // E odd: plain loads, a last warp of 5 channels
    }
    test_ssm_scan<float>(0, 1, 40, 32, 32, 3);
    test_ssm_scan<float>(1, 1, 20, 40, 4, 2);
    for (int fp32 = 1; fp32 >= 0; fp32--) {
        compare_model("mamba", POS_NOPE, 0, 0.0f, fp32);
        compare_model("longhorn", POS_NOPE, 0, 0.0f, fp32);
        compare_model("gpt", POS_LEARNED, 1, 0.1f, fp32);
        compare_model("gpt", POS_ALIBI, 1, 0.0f, fp32); // biases with no dropout: bf16 mode feeds the bias grads from the norms' bf16 dx
        compare_model("gpt", POS_HARD_ALIBI, 0, 0.0f, fp32);
        compare_model("llama", POS_ROPE, 0, 0.1f, fp32);
        compare_model("llama", POS_NOPE, 0, 0.0f, fp32);
    }
    for (int r = 0; r <= 2; r += 2) { // --recompute 0 (keep everything) and 2 (the norms' outputs too); 1 above
        gpu::recompute = r;
        compare_model("gpt", POS_LEARNED, 1, 0.1f, 0);
        compare_model("llama", POS_ROPE, 0, 0.1f, 0);
        compare_model("gpt", POS_ALIBI, 0, 0.0f, 1);
        gpu::recompute = 1;
    }
    test_train_step_sets_grads("gpt", POS_LEARNED, 1, 1);
    test_train_step_sets_grads("gpt", POS_LEARNED, 0, 0);
    test_train_step_sets_grads("llama", POS_ROPE, 0, 0);
    test_train_step_graph("gpt", 1);
    test_train_step_graph("mamba", 1);
    test_train_step_graph("gpt", 0);
    test_train_step_graph("mamba", 0);
    cudaCheck(cudaDeviceSynchronize());
    printf("%d passed, %d failed\n", n_pass, n_fail);
    return n_fail != 0;
}
