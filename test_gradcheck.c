/*
 * test_gradcheck.c -- every op and every architecture against finite differences, in double
 * precision (built with -DSM_DOUBLE), plus the file formats and the optimizer.
 *
 * Gradient checks: L = sum(out * R) for a fixed random R, so dL/dout = R; the analytic gradient
 * (the op's backward fed with R) is compared with central differences (L(x+h) - L(x-h)) / 2h on
 * every input element. Reported error: max |analytic - numeric| / max(max |numeric|, 1e-6).
 * Prints one line per check and ends with "N passed, N failed".
 */
#include "seqmodels.h"

static int n_pass = 0, n_fail = 0;
static void report(const char* what, double err, double tol) {
    int ok = err <= tol && isfinite(err);
    printf("%-4s %-60s rel err %.2e (tol %.0e)\n", ok ? "ok" : "FAIL", what, err, tol);
    ok ? n_pass++ : n_fail++;
}
static void expect(const char* what, int ok) {
    printf("%-4s %s\n", ok ? "ok" : "FAIL", what);
    ok ? n_pass++ : n_fail++;
}
/* for "bad input is rejected" checks: rc must be -1 and sm_err must mention `needle` */
static void expect_error(const char* what, int rc, const char* needle) {
    int ok = rc == -1 && strstr(sm_err, needle) != NULL;
    printf("%-4s %-60s -> \"%s\"\n", ok ? "ok" : "FAIL", what, rc == -1 ? sm_err : "(accepted!)");
    ok ? n_pass++ : n_fail++;
}

static uint64_t rng = 42;
static real* rand_array(size_t n, double scale) {
    real* a = (real*)mallocCheck(n * sizeof(real));
    for (size_t i = 0; i < n; i++) a[i] = (real)(scale * (2 * rng_uniform(&rng) - 1));
    return a;
}
static double max_rel_diff(const real* a, const real* b, size_t n) {
    double num = 0, den = 1e-6;
    for (size_t i = 0; i < n; i++) {
        num = fmax(num, fabs((double)a[i] - b[i]));
        den = fmax(den, fabs((double)b[i]));
    }
    return num / den;
}

/* ---- op-level checks: an op is a forward closure returning sum(out*R) and a backward closure
 * that accumulates dL/d(input) into the grads given dout = R ---- */
typedef struct OpCase OpCase;
struct OpCase {
    int n_in;
    real* in[4];
    real* gin[4];
    size_t in_n[4];
    double (*loss)(OpCase*);
    void (*backward)(OpCase*);
    int B, T, C, OC, H, pos; /* sizes of the op under test */
    real *out, *R, *aux1, *aux2;
};
static double sum_out_R(const real* out, const real* R, size_t n) {
    double s = 0;
    for (size_t i = 0; i < n; i++) s += (double)out[i] * R[i];
    return s;
}
static void gradcheck_op(const char* name, OpCase* oc, double tol) {
    for (int k = 0; k < oc->n_in; k++) memset(oc->gin[k], 0, oc->in_n[k] * sizeof(real));
    oc->loss(oc);
    oc->backward(oc);
    for (int k = 0; k < oc->n_in; k++) {
        real* num = (real*)mallocCheck(oc->in_n[k] * sizeof(real));
        for (size_t i = 0; i < oc->in_n[k]; i++) {
            real x = oc->in[k][i], h = 1e-6 * fmax(1.0, fabs(x));
            oc->in[k][i] = x + h;
            double lp = oc->loss(oc);
            oc->in[k][i] = x - h;
            double lm = oc->loss(oc);
            oc->in[k][i] = x;
            num[i] = (real)((lp - lm) / (2 * h));
        }
        char what[128];
        snprintf(what, sizeof(what), "gradcheck %s: input %d (%zu elements)", name, k, oc->in_n[k]);
        report(what, max_rel_diff(oc->gin[k], num, oc->in_n[k]), tol);
        free(num);
    }
}
static void opcase_inputs(OpCase* oc, int n_in, const size_t* sizes) {
    oc->n_in = n_in;
    for (int k = 0; k < n_in; k++) {
        oc->in_n[k] = sizes[k];
        oc->in[k] = rand_array(sizes[k], 1.0);
        oc->gin[k] = (real*)mallocCheck(sizes[k] * sizeof(real));
    }
}
static void opcase_free(OpCase* oc) {
    for (int k = 0; k < oc->n_in; k++) { free(oc->in[k]); free(oc->gin[k]); }
    free(oc->out); free(oc->R); free(oc->aux1); free(oc->aux2);
}

/* linear: inputs x (N,C), W (OC,C), b (OC) */
static double linear_loss(OpCase* o) {
    linear_forward(o->out, o->in[0], o->in[1], o->in[2], o->B, o->C, o->OC);
    return sum_out_R(o->out, o->R, (size_t)o->B * o->OC);
}
static void linear_bwd(OpCase* o) { linear_backward(o->gin[0], o->gin[1], o->gin[2], o->R, o->in[0], o->in[1], o->B, o->C, o->OC); }

static double layernorm_loss(OpCase* o) {
    layernorm_forward(o->out, o->aux1, o->aux2, o->in[0], o->in[1], o->in[2], o->B, o->C);
    return sum_out_R(o->out, o->R, (size_t)o->B * o->C);
}
static void layernorm_bwd(OpCase* o) {
    layernorm_forward(o->out, o->aux1, o->aux2, o->in[0], o->in[1], o->in[2], o->B, o->C);
    layernorm_backward(o->gin[0], o->gin[1], o->gin[2], o->R, o->in[0], o->in[1], o->aux1, o->aux2, o->B, o->C);
}
static double rmsnorm_loss(OpCase* o) {
    rmsnorm_forward(o->out, o->aux1, o->in[0], o->in[1], o->B, o->C, 1e-5);
    return sum_out_R(o->out, o->R, (size_t)o->B * o->C);
}
static void rmsnorm_bwd(OpCase* o) {
    rmsnorm_forward(o->out, o->aux1, o->in[0], o->in[1], o->B, o->C, 1e-5);
    rmsnorm_backward(o->gin[0], o->gin[1], o->R, o->in[0], o->in[1], o->aux1, o->B, o->C);
}
static double gelu_loss(OpCase* o) { gelu_forward(o->out, o->in[0], o->in_n[0]); return sum_out_R(o->out, o->R, o->in_n[0]); }
static void gelu_bwd(OpCase* o) { gelu_backward(o->gin[0], o->in[0], o->R, o->in_n[0]); }
static double silu_loss(OpCase* o) { silu_forward(o->out, o->in[0], o->in_n[0]); return sum_out_R(o->out, o->R, o->in_n[0]); }
static void silu_bwd(OpCase* o) { silu_backward(o->gin[0], o->in[0], o->R, o->in_n[0]); }
static double swiglu_loss(OpCase* o) { swiglu_forward(o->out, o->in[0], o->in[1], o->in_n[0]); return sum_out_R(o->out, o->R, o->in_n[0]); }
static void swiglu_bwd(OpCase* o) { swiglu_backward(o->gin[0], o->gin[1], o->R, o->in[0], o->in[1], o->in_n[0]); }
/* causal depthwise conv1d: inputs x (B,T,E), weight (E,1,W), bias (E); E = C, W = OC */
static double conv1d_loss(OpCase* o) {
    conv1d_forward(o->out, o->in[0], o->in[1], o->in[2], o->B, o->T, o->C, o->OC);
    return sum_out_R(o->out, o->R, (size_t)o->B * o->T * o->C);
}
static void conv1d_bwd(OpCase* o) { conv1d_backward(o->gin[0], o->gin[1], o->gin[2], o->R, o->in[0], o->in[1], o->B, o->T, o->C, o->OC); }
/* RoPE works in place: copy the input first */
static double rope_loss(OpCase* o) {
    memcpy(o->out, o->in[0], o->in_n[0] * sizeof(real));
    rope_forward(o->out, o->B, o->T, o->C, o->H);
    return sum_out_R(o->out, o->R, o->in_n[0]);
}
static void rope_bwd(OpCase* o) {
    memcpy(o->aux1, o->R, o->in_n[0] * sizeof(real));
    rope_backward(o->aux1, o->B, o->T, o->C, o->H);
    for (size_t i = 0; i < o->in_n[0]; i++) o->gin[0][i] += o->aux1[i];
}
/* attention: input qkv (B,T,3C); pos selects the bias; attention-probability dropout p_attn */
static float p_attn = 0;
static double attention_loss(OpCase* o) {
    Config c = {.n_head = o->H, .num_masked_heads = -1};
    attention_forward(o->out, o->aux1, o->in[0], o->B, o->T, o->C, o->H, o->pos, hard_alibi_heads(&c), p_attn, 77);
    return sum_out_R(o->out, o->R, (size_t)o->B * o->T * o->C);
}
static void attention_bwd(OpCase* o) {
    attention_loss(o);
    attention_backward(o->gin[0], o->R, o->in[0], o->aux1, o->B, o->T, o->C, o->H, p_attn, 77);
}
/* cross-entropy: input logits (N,V); loss = mean over scored positions, as model_forward does */
static int ce_targets[64];
static uint8_t ce_mask[64];
static double ce_loss(OpCase* o) {
    crossentropy_forward(o->aux1, o->aux2, o->in[0], ce_targets, o->B, o->C);
    double s = 0;
    int n = 0;
    for (int i = 0; i < o->B; i++) if (ce_mask[i]) { s += o->aux1[i]; n++; }
    return s / n;
}
static void ce_bwd(OpCase* o) {
    int n = 0;
    for (int i = 0; i < o->B; i++) n += ce_mask[i];
    ce_loss(o);
    crossentropy_backward(o->gin[0], o->aux2, ce_targets, ce_mask, 1.0 / n, o->B, o->C);
}
static double encoder_loss(OpCase* o) {
    encoder_forward(o->out, ce_targets, o->in[0], o->in[1], o->B, o->T, o->C);
    return sum_out_R(o->out, o->R, (size_t)o->B * o->T * o->C);
}
static void encoder_bwd(OpCase* o) { encoder_backward(o->gin[0], o->gin[1], o->R, ce_targets, o->B, o->T, o->C); }
static double dropout_loss(OpCase* o) {
    memcpy(o->out, o->in[0], o->in_n[0] * sizeof(real));
    dropout_forward(o->out, o->in_n[0], 0.3f, 777);
    return sum_out_R(o->out, o->R, o->in_n[0]);
}
static void dropout_bwd(OpCase* o) {
    memcpy(o->aux1, o->R, o->in_n[0] * sizeof(real));
    dropout_backward(o->aux1, o->in_n[0], 0.3f, 777);
    for (size_t i = 0; i < o->in_n[0]; i++) o->gin[0][i] += o->aux1[i];
}

static void test_ops(void) {
    printf("== ops: finite differences ==\n");
    int B = 2, T = 5, C = 8, H = 2, OC = 37, N = B * T;
    { // linear, with sizes that leave partial matmul tiles
        OpCase o = {0};
        size_t s[3] = {(size_t)N * 13, (size_t)OC * 13, (size_t)OC};
        opcase_inputs(&o, 3, s);
        o.B = N; o.C = 13; o.OC = OC; o.loss = linear_loss; o.backward = linear_bwd;
        o.out = rand_array((size_t)N * OC, 1); o.R = rand_array((size_t)N * OC, 1);
        gradcheck_op("linear (x, W, b)", &o, 1e-7);
        opcase_free(&o);
    }
    { OpCase o = {0};
        size_t s[3] = {(size_t)N * C, (size_t)C, (size_t)C};
        opcase_inputs(&o, 3, s);
        o.B = N; o.C = C; o.loss = layernorm_loss; o.backward = layernorm_bwd;
        o.out = rand_array((size_t)N * C, 1); o.R = rand_array((size_t)N * C, 1); o.aux1 = rand_array(N, 1); o.aux2 = rand_array(N, 1);
        gradcheck_op("layernorm (x, w, b)", &o, 1e-7);
        opcase_free(&o);
    }
    { OpCase o = {0};
        size_t s[2] = {(size_t)N * C, (size_t)C};
        opcase_inputs(&o, 2, s);
        o.B = N; o.C = C; o.loss = rmsnorm_loss; o.backward = rmsnorm_bwd;
        o.out = rand_array((size_t)N * C, 1); o.R = rand_array((size_t)N * C, 1); o.aux1 = rand_array(N, 1);
        gradcheck_op("rmsnorm (x, w)", &o, 1e-7);
        opcase_free(&o);
    }
    { OpCase o = {0};
        size_t s[1] = {64};
        opcase_inputs(&o, 1, s);
        for (int i = 0; i < 64; i++) o.in[0][i] *= 4; // cover the tails of GELU
        o.loss = gelu_loss; o.backward = gelu_bwd; o.out = rand_array(64, 1); o.R = rand_array(64, 1);
        gradcheck_op("gelu (tanh)", &o, 1e-7);
        opcase_free(&o);
    }
    { OpCase o = {0};
        size_t s[1] = {64};
        opcase_inputs(&o, 1, s);
        for (int i = 0; i < 64; i++) o.in[0][i] *= 4;
        o.loss = silu_loss; o.backward = silu_bwd; o.out = rand_array(64, 1); o.R = rand_array(64, 1);
        gradcheck_op("silu", &o, 1e-7);
        opcase_free(&o);
    }
    { OpCase o = {0};
        size_t s[2] = {64, 64};
        opcase_inputs(&o, 2, s);
        for (int i = 0; i < 64; i++) o.in[0][i] *= 4;
        o.loss = swiglu_loss; o.backward = swiglu_bwd; o.out = rand_array(64, 1); o.R = rand_array(64, 1);
        gradcheck_op("swiglu (gate, up)", &o, 1e-7);
        opcase_free(&o);
    }
    { OpCase o = {0};
        size_t s[1] = {(size_t)N * 3 * C};
        opcase_inputs(&o, 1, s);
        o.B = B; o.T = T; o.C = C; o.H = H; o.loss = rope_loss; o.backward = rope_bwd;
        o.out = rand_array(s[0], 1); o.R = rand_array(s[0], 1); o.aux1 = rand_array(s[0], 1);
        gradcheck_op("rope (qkv)", &o, 1e-7);
        opcase_free(&o);
    }
    { OpCase o = {0}; // causal depthwise conv1d, W = 4 > T-steps at the start (the zero padding)
        int E = 5, W = 4;
        size_t s[3] = {(size_t)N * E, (size_t)E * W, (size_t)E};
        opcase_inputs(&o, 3, s);
        o.B = B; o.T = T; o.C = E; o.OC = W; o.loss = conv1d_loss; o.backward = conv1d_bwd;
        o.out = rand_array(s[0], 1); o.R = rand_array(s[0], 1);
        gradcheck_op("conv1d causal depthwise (x, w, b)", &o, 1e-7);
        opcase_free(&o);
    }
    const char* pos_names[] = {"attention, causal (learned/rope/nope)", "attention + alibi", "attention + hard_alibi",
                               "attention + dropout 0.3 on P"};
    int pos_vals[] = {POS_NOPE, POS_ALIBI, POS_HARD_ALIBI, POS_ALIBI};
    for (int v = 0; v < 4; v++) {
        p_attn = v == 3 ? 0.3f : 0.0f;
        OpCase o = {0};
        int Hh = v == 2 ? 3 : H, Cc = v == 2 ? 12 : C; // 3 heads: 2 windowed + 1 full
        size_t s[1] = {(size_t)N * 3 * Cc};
        opcase_inputs(&o, 1, s);
        o.B = B; o.T = T; o.C = Cc; o.H = Hh; o.pos = pos_vals[v]; o.loss = attention_loss; o.backward = attention_bwd;
        o.out = rand_array((size_t)N * Cc, 1); o.R = rand_array((size_t)N * Cc, 1); o.aux1 = rand_array((size_t)B * Hh * T * T, 1);
        gradcheck_op(pos_names[v], &o, 1e-7);
        opcase_free(&o);
    }
    p_attn = 0;
    { OpCase o = {0};
        int V = 7;
        size_t s[1] = {(size_t)N * V};
        opcase_inputs(&o, 1, s);
        for (int i = 0; i < N; i++) { ce_targets[i] = (int)rng_below(&rng, V); ce_mask[i] = i % 3 != 1; }
        o.B = N; o.C = V; o.loss = ce_loss; o.backward = ce_bwd; o.aux1 = rand_array(N, 1); o.aux2 = rand_array(s[0], 1);
        gradcheck_op("cross-entropy with loss mask (logits)", &o, 1e-7);
        opcase_free(&o);
    }
    { OpCase o = {0};
        int V = 7;
        size_t s[2] = {(size_t)V * C, (size_t)T * C};
        opcase_inputs(&o, 2, s);
        for (int i = 0; i < N; i++) ce_targets[i] = (int)rng_below(&rng, V);
        o.B = B; o.T = T; o.C = C; o.loss = encoder_loss; o.backward = encoder_bwd;
        o.out = rand_array((size_t)N * C, 1); o.R = rand_array((size_t)N * C, 1);
        gradcheck_op("embedding (wte, wpe)", &o, 1e-7);
        opcase_free(&o);
    }
    { OpCase o = {0};
        size_t s[1] = {200};
        opcase_inputs(&o, 1, s);
        o.loss = dropout_loss; o.backward = dropout_bwd; o.out = rand_array(200, 1); o.R = rand_array(200, 1); o.aux1 = rand_array(200, 1);
        gradcheck_op("dropout p=0.3", &o, 1e-7);
        opcase_free(&o);
    }
}

/* ---- forward checks against direct formulas ---- */
static void test_forward_values(void) {
    printf("== ops: forward values ==\n");
    // matmul tiles vs a naive triple loop, odd sizes and a transposed A; K = 600 also walks K in
    // blocks of MM_KC (256, 256, then 88) with partial tiles at the edges
    for (int K = 41; K <= 600; K += 559) {
        int M = 67, N = 150; // large enough to run on all threads
        real *A = rand_array((size_t)M * K, 1), *Bm = rand_array((size_t)K * N, 1), *Cm = rand_array((size_t)M * N, 1);
        real* ref = (real*)mallocCheck((size_t)M * N * sizeof(real));
        char name[96];
        memcpy(ref, Cm, (size_t)M * N * sizeof(real));
        for (int i = 0; i < M; i++) for (int j = 0; j < N; j++) for (int k = 0; k < K; k++) ref[i * N + j] += A[k * M + i] * Bm[k * N + j];
        matmul_acc(Cm, N, A, 1, M, Bm, N, 1, M, N, K); // A given as (K,M): element (i,k) at k*M + i
        snprintf(name, sizeof(name), "matmul_acc (%dx%dx%d, transposed A, threaded) vs naive", M, N, K);
        report(name, max_rel_diff(Cm, ref, (size_t)M * N), 1e-13);
        // plain A, transposed B (linear_forward's W^T): Bm given as (N,K), element (k,j) at j*K + k
        memcpy(ref, Cm, (size_t)M * N * sizeof(real));
        for (int i = 0; i < M; i++) for (int j = 0; j < N; j++) for (int k = 0; k < K; k++) ref[i * N + j] += A[i * K + k] * Bm[j * K + k];
        matmul_acc(Cm, N, A, K, 1, Bm, 1, K, M, N, K);
        snprintf(name, sizeof(name), "matmul_acc (%dx%dx%d, transposed B, threaded) vs naive", M, N, K);
        report(name, max_rel_diff(Cm, ref, (size_t)M * N), 1e-13);
        free(A); free(Bm); free(Cm); free(ref);
    }
    { // ALiBi slopes: H=8 is 1/2, 1/4, ... 1/256; H=6 takes 4 from P=4 and 2 from 2P=8 (odd ones)
        double want8[8] = {0.5, 0.25, 0.125, 0.0625, 0.03125, 0.015625, 0.0078125, 0.00390625}, e = 0;
        for (int h = 0; h < 8; h++) e = fmax(e, fabs(alibi_slope(h, 8) - want8[h]));
        double want6[6] = {0.25, 0.0625, 0.015625, 0.00390625, 0.5, 0.125};
        for (int h = 0; h < 6; h++) e = fmax(e, fabs(alibi_slope(h, 6) - want6[h]));
        report("alibi slopes for H=8 and H=6 (Press et al.)", e, 1e-15);
    }
    { // RoPE: the score q(t1).k(t2) depends only on t1 - t2
        int T = 8, C = 8, H = 1;
        real* base = rand_array(3 * C, 1);
        real* qkv = (real*)mallocCheck((size_t)T * 3 * C * sizeof(real));
        for (int t = 0; t < T; t++) memcpy(qkv + t * 3 * C, base, 3 * C * sizeof(real));
        rope_forward(qkv, 1, T, C, H);
        double d1 = 0, d2 = 0;
        for (int c = 0; c < C; c++) { d1 += qkv[5 * 3 * C + c] * qkv[2 * 3 * C + C + c]; d2 += qkv[6 * 3 * C + c] * qkv[3 * 3 * C + C + c]; }
        report("rope: q(5).k(2) == q(6).k(3) (relative positions)", fabs(d1 - d2) / fabs(d1), 1e-12);
        free(base); free(qkv);
    }
    { // Hard-ALiBi: head 0 sees only its own position, so its output equals v at that position
        int B = 1, T = 6, C = 6, H = 3;
        real *qkv = rand_array((size_t)T * 3 * C, 1), *out = rand_array((size_t)T * C, 1), *att = rand_array((size_t)H * T * T, 1);
        attention_forward(out, att, qkv, B, T, C, H, POS_HARD_ALIBI, 2, 0, 0);
        double e = 0;
        for (int t = 0; t < T; t++) for (int d = 0; d < 2; d++) e = fmax(e, fabs(out[t * C + d] - qkv[t * 3 * C + 2 * C + d]));
        for (int t = 2; t < T; t++) e = fmax(e, att[(1 * T + t) * T + t - 2]); // head 1 never sees t-2
        report("hard_alibi: head 0 copies v_t, head 1 ignores t-2", e, 1e-15);
        free(qkv); free(out); free(att);
    }
    { // attention dropout: a zero mask rate changes nothing; 0.5 drops about half of P, and the
      // output is the mean over masks of the dropped outputs (inverted dropout is unbiased)
        int B = 1, T = 16, C = 4, H = 1, n_masks = 20000;
        real *qkv = rand_array((size_t)T * 3 * C, 1), *out0 = rand_array((size_t)T * C, 1), *out = rand_array((size_t)T * C, 1);
        real *att = rand_array((size_t)H * T * T, 1), *mean = (real*)calloc((size_t)T * C, sizeof(real));
        attention_forward(out0, att, qkv, B, T, C, H, POS_NOPE, 0, 0, 0);
        size_t kept = 0, total = 0;
        for (int s = 0; s < n_masks; s++) {
            attention_forward(out, att, qkv, B, T, C, H, POS_NOPE, 0, 0.5f, hash64(s));
            for (int i = 0; i < T * C; i++) mean[i] += out[i] / n_masks;
            for (int i = 0; i < T; i++) for (int j = 0; j <= i; j++) { kept += dropout_keep(hash64(s), (size_t)i * T + j, 0.5f); total++; }
        }
        double e = fabs((double)kept / total - 0.5), e2 = 0, scale = 0;
        for (int i = 0; i < T * C; i++) { e2 = fmax(e2, fabs(mean[i] - out0[i])); scale = fmax(scale, fabs(out0[i])); }
        report("attention dropout 0.5: kept fraction - 0.5", e, 0.01);
        report("attention dropout: mean over 20000 masks vs no dropout (rel)", e2 / scale, 0.05);
        free(qkv); free(out0); free(out); free(att); free(mean);
    }
    { // cross-entropy equals -log of the softmax computed directly
        real logits[5] = {1, -2, 3, 0.5, 0}, probs[5], loss;
        int target = 3;
        crossentropy_forward(&loss, probs, logits, &target, 1, 5);
        double z = 0;
        for (int i = 0; i < 5; i++) z += exp(logits[i]);
        report("cross-entropy value vs -log softmax", fabs(loss + log(exp(logits[3]) / z)), 1e-14);
    }
    { // schedule: warmup ramp, cosine middle, floor at the end (nanoGPT get_lr)
        OptimConfig o = {.lr = 1e-3, .min_lr = 1e-4, .warmup = 10, .decay_steps = 110};
        double e = fabs(lr_at(&o, 0) - 1e-3 / 11) + fabs(lr_at(&o, 60) - 5.5e-4) + fabs(lr_at(&o, 200) - 1e-4) + fabs(lr_at(&o, 10) - 1e-3);
        report("lr schedule: warmup, cosine midpoint, floor", e, 1e-15);
    }
}

/* ---- whole models: every parameter's gradient against finite differences ---- */
static Config small_config(const char* model, int pos, int bias, float dropout) {
    Config c = {0};
    snprintf(c.model, sizeof(c.model), "%s", model);
    c.vocab_size = 11; c.block_size = 6; c.n_layer = 2; c.n_head = 3; c.n_embd = 12;
    c.pos = pos; c.bias = bias; c.dropout = dropout; c.embd_dropout = -1; c.num_masked_heads = -1;
    return c;
}
static void gradcheck_model(const Config* cfg, const char* label) {
    int B = 2, T = 6;
    Model m;
    if (model_build(&m, cfg, B, T, 7)) { printf("FAIL build %s: %s\n", label, sm_err); n_fail++; return; }
    for (size_t i = 0; i < m.pt.total; i++) m.params[i] += (real)(0.1 * (2 * rng_uniform(&rng) - 1)); // norms != 1, biases != 0
    for (int t = 0; t < m.pt.n; t++) { // SSMs: steps dt ~ 1 and larger B, C (k, q), so that the step size's
        const TensorInfo* ti = &m.pt.t[t]; // gradients are not lost in the finite differences' rounding
        for (size_t j = 0; j < ti->numel; j++) {
            if (ends_with(ti->name, "x_proj.weight")) m.params[ti->offset + j] *= 4;
            if (ends_with(ti->name, "dt_proj.bias")) m.params[ti->offset + j] += 5;
        }
    }
    int inputs[12], targets[12];
    uint8_t mask[12];
    for (int i = 0; i < B * T; i++) { inputs[i] = (int)rng_below(&rng, cfg->vocab_size); targets[i] = (int)rng_below(&rng, cfg->vocab_size); mask[i] = i % 5 != 2; }
    m.training = 1; // dropout masks are a fixed function of the seed: the loss stays differentiable
    m.dropout_seed = 99;
    model_zero_grad(&m);
    model_forward(&m, inputs, targets, mask, B, T);
    model_backward(&m, inputs, targets, mask, B, T);
    real* num = (real*)mallocCheck(m.pt.total * sizeof(real));
    for (size_t i = 0; i < m.pt.total; i++) {
        real x = m.params[i], h = 1e-5; // rounding noise ~ 1e-16 L / h stays far below the small SSM step-size gradients
        m.params[i] = x + h;
        double lp = model_forward(&m, inputs, targets, mask, B, T);
        m.params[i] = x - h;
        double lm = model_forward(&m, inputs, targets, mask, B, T);
        m.params[i] = x;
        num[i] = (real)((lp - lm) / (2 * h));
    }
    double worst = 0;
    const char* worst_name = "";
    for (int t = 0; t < m.pt.n; t++) {
        const TensorInfo* ti = &m.pt.t[t];
        double e = max_rel_diff(m.grads + ti->offset, num + ti->offset, ti->numel);
        if (e > worst) { worst = e; worst_name = ti->name; }
    }
    char what[160];
    snprintf(what, sizeof(what), "gradcheck model %s (%d tensors; worst %s)", label, m.pt.n, worst_name);
    report(what, worst, 1e-6);
    free(num);
    model_free(&m);
}
static void test_models(void) {
    printf("== architectures: every parameter vs finite differences ==\n");
    for (int arch = 0; arch < 2; arch++)
        for (int pos = 0; pos < POS_COUNT; pos++) {
            const char* name = arch ? "llama" : "gpt";
            char label[64];
            snprintf(label, sizeof(label), "%s --pos %s", name, POS_NAMES[pos]);
            Config c = small_config(name, pos, 0, 0);
            gradcheck_model(&c, label);
        }
    Config c = small_config("gpt", POS_LEARNED, 1, 0.2f);
    gradcheck_model(&c, "gpt --bias 1 --dropout 0.2");
    c = small_config("llama", POS_ROPE, 0, 0.2f);
    gradcheck_model(&c, "llama --dropout 0.2");
    c = small_config("gpt", POS_ALIBI, 0, 0.1f);
    c.attn_dropout = 0.25f;
    gradcheck_model(&c, "gpt --pos alibi --dropout 0.1 --attn_dropout 0.25");
    c = small_config("gpt", POS_LEARNED, 0, 0.0f); // seq_icl's Transformer: embedding and attention dropout only
    c.embd_dropout = 0.1f;
    c.attn_dropout = 0.1f;
    gradcheck_model(&c, "gpt --dropout 0 --embd_dropout 0.1 --attn_dropout 0.1");
    c = small_config("mamba", POS_NOPE, 0, 0.0f); // E = 24, N = 4, R = 1, W = 4
    c.d_state = 4;
    gradcheck_model(&c, "mamba (2 blocks, d_state 4)");
    c = small_config("longhorn", POS_NOPE, 0, 0.0f);
    c.d_state = 4;
    c.dt_rank = 2;
    gradcheck_model(&c, "longhorn (2 blocks, d_state 4, dt_rank 2)");
    for (int k = 0; k < 2; k++) { // the chunked scan (the GPU's form) = the step-by-step recurrence
        int B = 2, T = 37, E = 5, N = 4, R = 2, XD = R + 2 * N;
        real *xc = rand_array((size_t)B * T * E, 1), *dt = rand_array((size_t)B * T * E, 1), *xdbl = rand_array((size_t)B * T * XD, 1);
        real *A_log = rand_array((size_t)E * N, 1), *D = rand_array(E, 1), *h = rand_array((size_t)B * T * E * N, 1);
        real *y = rand_array((size_t)B * T * E, 1), *y2 = rand_array((size_t)B * T * E, 1);
        for (int i = 0; i < B * T * E; i++) dt[i] = 0.3 * fabs(dt[i]); // steps keep a in (0, 1] for both models
        for (int i = 0; i < B * T * XD; i++) xdbl[i] *= 0.8;
        ssm_scan_forward(h, y, xc, dt, xdbl, k ? NULL : A_log, D, k, B, T, E, N, R);
        double e = 0;
        for (int K = 1; K <= 16; K *= 4) { // chunks of 1, 4, 16 (37 steps: a partial last chunk)
            ssm_scan_chunked_forward(y2, xc, dt, xdbl, k ? NULL : A_log, D, k, B, T, E, N, R, K);
            e = fmax(e, max_rel_diff(y2, y, (size_t)B * T * E));
        }
        char what[96];
        snprintf(what, sizeof(what), "%s scan: chunked (K = 1, 4, 16) = recurrence, T = 37", k ? "longhorn" : "mamba");
        report(what, e, 1e-12);
        free(xc); free(dt); free(xdbl); free(A_log); free(D); free(h); free(y); free(y2);
    }
    for (int k = 0; k < 2; k++) { // recurrent decoding (one token at a time, O(1) state) = the full forward
        Config sc = small_config(k ? "longhorn" : "mamba", POS_NOPE, 0, 0.0f);
        sc.d_state = 4;
        Model m;
        int T = 6, idx[6];
        if (model_build(&m, &sc, 1, T, 3)) sm_die("%s", sm_err);
        for (int t = 0; t < T; t++) idx[t] = (int)rng_below(&rng, sc.vocab_size);
        m.training = 0;
        m.arch->forward(&m, idx, 1, T);
        real* state = (real*)calloc(m.arch->state_size(&m.cfg), sizeof(real));
        real* row = (real*)mallocCheck(sc.vocab_size * sizeof(real));
        double num = 0, den = 0;
        for (int t = 0; t < T; t++) {
            m.arch->step(&m, state, idx[t], row);
            for (int v = 0; v < sc.vocab_size; v++) {
                num = fmax(num, fabs(row[v] - m.logits[t * sc.vocab_size + v]));
                den = fmax(den, fabs(m.logits[t * sc.vocab_size + v]));
            }
        }
        char what[96];
        snprintf(what, sizeof(what), "%s: step-by-step decoding = full forward (logits, 6 tokens)", sc.model);
        report(what, num / den, 1e-12);
        free(state);
        free(row);
        model_free(&m);
    }
}

/* ---- the CPU training step's batch split over threads = the whole batch at once ---- */
static void test_batch_split(void) {
    printf("== data-parallel training step (batch split over replicas) ==\n");
    const char* models[] = {"gpt", "llama", "mamba"};
    for (int k = 0; k < 3; k++) {
        Config c = small_config(models[k], k == 0 ? POS_LEARNED : k == 1 ? POS_ROPE : POS_NOPE, k == 0, 0);
        c.d_state = 4;
        int B = 5, T = 6, inputs[30], targets[30];
        uint8_t mask[30] = {0};
        Model m;
        if (model_build(&m, &c, B, T, 11)) sm_die("%s", sm_err);
        for (int i = 0; i < B * T; i++) { inputs[i] = (int)rng_below(&rng, c.vocab_size); targets[i] = (int)rng_below(&rng, c.vocab_size); mask[i] = i % 4 != 1; }
        m.training = 1;
        m.dropout_seed = 5;
        model_zero_grad(&m);
        double loss = model_forward(&m, inputs, targets, mask, B, T);
        model_backward(&m, inputs, targets, mask, B, T);
        real* g = (real*)mallocCheck(m.pt.total * sizeof(real));
        memcpy(g, m.grads, m.pt.total * sizeof(real));
        for (int R = 2; R <= 5; R += 3) { // rows {0,1} {2,3,4}; one row per replica
            CpuReplicas rp = {0};
            for (size_t i = 0; i < m.pt.total; i++) m.grads[i] = (real)1e30; // the split sets, as zero_grad + backward
            double loss_split = cpu_forward_backward_split(&rp, &m, inputs, targets, mask, B, T, R);
            char what[128];
            snprintf(what, sizeof(what), "%s, B 5 split over %d replicas (masked): loss and every gradient", models[k], R);
            report(what, fmax(fabs(loss_split - loss) / fabs(loss), max_rel_diff(m.grads, g, m.pt.total)), 1e-12);
            cpu_replicas_free(&rp);
        }
        free(g);
        model_free(&m);
    }
    // dropout: each replica draws its own masks. The same two rows in both halves of the batch
    // get the same losses without dropout, and different ones with it (the masks do not repeat)
    for (int drop = 0; drop < 2; drop++) {
        Config c = small_config("gpt", POS_LEARNED, 0, drop ? 0.5f : 0);
        int B = 4, T = 6, inputs[24], targets[24];
        Model m;
        if (model_build(&m, &c, B, T, 13)) sm_die("%s", sm_err);
        for (int i = 0; i < 2 * T; i++) {
            inputs[i] = inputs[i + 2 * T] = (int)rng_below(&rng, c.vocab_size);
            targets[i] = targets[i + 2 * T] = (int)rng_below(&rng, c.vocab_size);
        }
        m.training = 1;
        m.dropout_seed = 21;
        CpuReplicas rp = {0};
        cpu_forward_backward_split(&rp, &m, inputs, targets, NULL, B, T, 2);
        double d = max_rel_diff(m.losses, rp.view[1].losses, (size_t)2 * T);
        cpu_replicas_free(&rp);
        if (drop)
            expect("dropout 0.5, the same rows in both replicas: their masks differ (losses differ)", d > 1e-3);
        else
            report("no dropout, the same rows in both replicas: the same losses", d, 1e-15);
        model_free(&m);
    }
}

/* ---- optimizer: one AdamW step against the formula, and the decay rule ---- */
static void test_adamw(void) {
    printf("== optimizer ==\n");
    Config c = small_config("gpt", POS_LEARNED, 1, 0);
    Model m;
    model_build(&m, &c, 1, 2, 3);
    for (size_t i = 0; i < m.pt.total; i++) m.grads[i] = (real)(rng_uniform(&rng) - 0.5);
    real* p0 = (real*)mallocCheck(m.pt.total * sizeof(real));
    memcpy(p0, m.params, m.pt.total * sizeof(real));
    OptimConfig o = {.lr = 1e-2, .beta1 = 0.9, .beta2 = 0.99, .eps = 1e-8, .weight_decay = 0.1};
    adamw_step(&m, &o, o.lr, 1);
    double e = 0;
    for (int t = 0; t < m.pt.n; t++) {
        const TensorInfo* ti = &m.pt.t[t];
        for (size_t i = ti->offset; i < ti->offset + ti->numel; i++) {
            double g = m.grads[i], mm = 0.1 * g / 0.1, vv = 0.01 * g * g / 0.01; // bias-corrected, t = 1
            double want = p0[i] * (ti->decay ? 1 - 1e-2 * 0.1 : 1) - 1e-2 * mm / (sqrt(vv) + 1e-8);
            e = fmax(e, fabs(m.params[i] - want));
        }
    }
    report("adamw step 1 vs formula (decay on matrices only)", e, 1e-12);
    int ok = 1;
    for (int t = 0; t < m.pt.n; t++) ok &= m.pt.t[t].decay == (m.pt.t[t].ndim >= 2);
    expect("weight decay only on tensors with >= 2 dims (not norms, biases)", ok);
    double n = grad_norm(m.grads, m.pt.total);
    grad_clip(m.grads, m.pt.total, n, 0.5);
    report("grad clip scales the norm to the clip value", fabs(grad_norm(m.grads, m.pt.total) - 0.5), 1e-6);
    free(p0);
    model_free(&m);
}

/* ---- checkpoints: round trip, resume bit-exactly, corrupt files rejected ---- */
static double train_steps(Model* m, TrainState* ts, const Shard* s, int from, int to, int B, int T, OptimConfig* o) {
    int *in = (int*)mallocCheck(B * T * sizeof(int)), *tg = (int*)mallocCheck(B * T * sizeof(int));
    double loss = 0;
    for (int step = from; step < to; step++) {
        shard_random_batch(s, &ts->data_rng, B, T, in, tg, NULL);
        m->training = 1;
        m->dropout_seed = hash64(5 + step);
        model_zero_grad(m);
        loss = model_forward(m, in, tg, NULL, B, T);
        model_backward(m, in, tg, NULL, B, T);
        grad_clip(m->grads, m->pt.total, grad_norm(m->grads, m->pt.total), o->grad_clip);
        adamw_step(m, o, lr_at(o, step), step + 1);
        ts->step = step + 1;
    }
    free(in); free(tg);
    return loss;
}
static void write_bytes(const char* path, const void* data, size_t n) {
    FILE* f = fopen(path, "wb");
    fwrite(data, 1, n, f);
    fclose(f);
}
static size_t read_file(const char* path, uint8_t** out) {
    FILE* f = fopen(path, "rb");
    fseek(f, 0, SEEK_END);
    size_t n = ftell(f);
    fseek(f, 0, SEEK_SET);
    *out = (uint8_t*)mallocCheck(n + 64);
    if (fread(*out, 1, n, f) != n) n = 0;
    fclose(f);
    return n;
}
/* write a safetensors file whose header is `hdr` followed by `data_bytes` zero bytes */
static void write_st(const char* path, const char* hdr, size_t data_bytes) {
    size_t n = strlen(hdr);
    uint8_t* buf = (uint8_t*)mallocCheck(8 + n + data_bytes);
    uint64_t len = n;
    memcpy(buf, &len, 8);
    memcpy(buf + 8, hdr, n);
    write_bytes(path, buf, 8 + n + data_bytes);
    free(buf);
}

static void test_files(void) {
    printf("== files: shards, checkpoints, resume ==\n");
    mkdir("tests/tmp", 0755);
    // a small text corpus -> shards
    char text[4000];
    for (int i = 0; i < 3999; i++) text[i] = "the quick brown fox jumps over the lazy dog. "[i % 45];
    write_bytes("tests/tmp/corpus.txt", text, 3999);
    expect("prep_text writes train/val shards", prep_text("tests/tmp/corpus.txt", "tests/tmp/c_train.bin", "tests/tmp/c_val.bin") == 0);
    Shard s;
    int rc = shard_open(&s, "tests/tmp/c_train.bin");
    expect("shard reads back: 90% of the bytes, vocab 256, same tokens", rc == 0 && s.n == 3599 && s.vocab_size == 256 && shard_token(&s, 4) == 'q');

    // corrupted shards
    uint8_t* raw;
    size_t n = read_file("tests/tmp/c_train.bin", &raw);
    Shard bad;
    write_bytes("tests/tmp/bad.bin", raw, n - 100);
    expect_error("truncated shard rejected", shard_open(&bad, "tests/tmp/bad.bin"), "truncated or corrupt");
    write_bytes("tests/tmp/bad.bin", raw, 30);
    expect_error("shard shorter than its header rejected", shard_open(&bad, "tests/tmp/bad.bin"), "truncated");
    raw[0] = 'X';
    write_bytes("tests/tmp/bad.bin", raw, n);
    expect_error("shard with bad magic rejected", shard_open(&bad, "tests/tmp/bad.bin"), "bad magic");
    raw[0] = 'S';
    raw[28] = 100; raw[29] = 0; // vocab 100 < the bytes in the text
    write_bytes("tests/tmp/bad.bin", raw, n);
    expect_error("shard with a token outside its vocab rejected", shard_open(&bad, "tests/tmp/bad.bin"), "out of vocab");
    raw[28] = 0; raw[29] = 1; raw[24] = 3; // vocab 256 again, but 3 bytes per token
    write_bytes("tests/tmp/bad.bin", raw, n);
    expect_error("shard with 3 bytes per token rejected", shard_open(&bad, "tests/tmp/bad.bin"), "bytes per token");
    free(raw);
    expect_error("missing shard rejected", shard_open(&bad, "tests/tmp/nope.bin"), "cannot open");
    { // a masked shard with 2-byte tokens round-trips
        int tok[6] = {1, 300, 2, 299, 0, 7};
        uint8_t mk[6] = {1, 0, 1, 1, 0, 1};
        shard_write("tests/tmp/m.bin", tok, 6, 301, mk);
        Shard ms;
        int r = shard_open(&ms, "tests/tmp/m.bin");
        expect("2-byte shard with loss mask round-trips", r == 0 && ms.bpt == 2 && shard_token(&ms, 1) == 300 && ms.mask && ms.mask[1] == 0 && ms.mask[5] == 1);
        if (!r) shard_close(&ms);
    }

    // checkpoint round trip: weights and AdamW state, then bit-exact resume
    Config c = small_config("llama", POS_ROPE, 0, 0.1f);
    c.vocab_size = 256; c.block_size = 8;
    OptimConfig o = {.lr = 3e-3, .min_lr = 3e-4, .warmup = 2, .decay_steps = 12, .beta1 = 0.9, .beta2 = 0.99, .eps = 1e-8, .weight_decay = 0.1, .grad_clip = 1.0};
    Model a, b;
    model_build(&a, &c, 3, 8, 11);
    TrainState ta = {0, 1234}, tb;
    double loss_a = train_steps(&a, &ta, &s, 0, 12, 3, 8, &o); // uninterrupted: 12 steps
    model_build(&b, &c, 3, 8, 11);
    tb = (TrainState){0, 1234};
    train_steps(&b, &tb, &s, 0, 6, 3, 8, &o); // interrupted after 6...
    rc = checkpoint_save("tests/tmp/ck.safetensors", &b, &tb);
    expect("checkpoint written", rc == 0);
    model_free(&b);
    SafeTensors st;
    Config c2;
    rc = checkpoint_open(&st, "tests/tmp/ck.safetensors", &c2);
    expect("checkpoint config round-trips", rc == 0 && !strcmp(c2.model, "llama") && c2.pos == POS_ROPE && c2.n_embd == 12 && c2.dropout == 0.1f && c2.vocab_size == 256);
    model_build(&b, &c2, 3, 8, 999); // different init seed: everything must come from the file
    tb = (TrainState){0, 0};
    rc = checkpoint_load(&st, "tests/tmp/ck.safetensors", &b, &tb);
    safetensors_close(&st);
    expect("checkpoint loads weights, AdamW state, step and data position", rc == 0 && tb.step == 6);
    double loss_b = train_steps(&b, &tb, &s, tb.step, 12, 3, 8, &o); // ...and resumed for 6 more
    int same = loss_a == loss_b && !memcmp(a.params, b.params, a.pt.total * sizeof(real)) &&
               !memcmp(a.adam_v, b.adam_v, a.pt.total * sizeof(real));
    printf("     uninterrupted loss %.17g, resumed loss %.17g\n", loss_a, loss_b);
    expect("resume is bit-exact: 12 steps == 6 + save/load + 6 (loss, params, AdamW v)", same);

    // corrupted checkpoints
    n = read_file("tests/tmp/ck.safetensors", &raw);
    write_bytes("tests/tmp/bad.safetensors", raw, n - 10);
    expect_error("truncated checkpoint rejected", checkpoint_open(&st, "tests/tmp/bad.safetensors", &c2), "outside the file");
    memcpy(raw + 8, "{garbage", 8);
    write_bytes("tests/tmp/bad.safetensors", raw, n);
    expect_error("garbage header rejected", checkpoint_open(&st, "tests/tmp/bad.safetensors", &c2), "corrupt safetensors header");
    uint64_t huge = (uint64_t)1 << 40;
    memcpy(raw, &huge, 8);
    write_bytes("tests/tmp/bad.safetensors", raw, n);
    expect_error("header length beyond the file rejected", checkpoint_open(&st, "tests/tmp/bad.safetensors", &c2), "does not fit the file");
    free(raw);
    write_bytes("tests/tmp/bad.safetensors", "abc", 3);
    expect_error("3-byte file rejected", checkpoint_open(&st, "tests/tmp/bad.safetensors", &c2), "not a safetensors");
    write_st("tests/tmp/bad.safetensors", "{\"a\":{\"dtype\":\"F32\",\"shape\":[2,2],\"data_offsets\":[0,12]}}", 16);
    expect_error("shape x dtype != byte range rejected", safetensors_open(&st, "tests/tmp/bad.safetensors"), "byte range");
    write_st("tests/tmp/bad.safetensors", "{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},\"b\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[4,12]}}", 16);
    expect_error("overlapping tensors rejected", safetensors_open(&st, "tests/tmp/bad.safetensors"), "overlap");
    write_st("tests/tmp/bad.safetensors", "{\"a\":{\"dtype\":\"Q7\",\"shape\":[2],\"data_offsets\":[0,8]}}", 8);
    expect_error("unknown dtype rejected", safetensors_open(&st, "tests/tmp/bad.safetensors"), "dtype");
    write_st("tests/tmp/bad.safetensors", "{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}", 8);
    expect_error("unterminated JSON rejected", safetensors_open(&st, "tests/tmp/bad.safetensors"), "JSON");
    write_st("tests/tmp/bad.safetensors", "{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}}", 8);
    expect_error("safetensors without seqmodels metadata rejected", checkpoint_open(&st, "tests/tmp/bad.safetensors", &c2), "not a seqmodels checkpoint");
    { // a checkpoint whose tensor has the wrong shape: a model with a wider MLP
        Config c3 = c;
        c3.mlp_hidden = 512;
        Model w;
        model_build(&w, &c3, 1, 8, 1);
        checkpoint_save("tests/tmp/wide.safetensors", &w, NULL);
        model_free(&w);
        Config c4;
        checkpoint_open(&st, "tests/tmp/wide.safetensors", &c4);
        c4.mlp_hidden = 256; // the model we build expects 256
        model_build(&w, &c4, 1, 8, 1);
        expect_error("tensor with the wrong shape rejected", checkpoint_load(&st, "tests/tmp/wide.safetensors", &w, NULL), "has shape");
        safetensors_close(&st);
        model_free(&w);
        checkpoint_open(&st, "tests/tmp/wide.safetensors", &c4);
        model_build(&w, &c4, 1, 8, 1);
        expect_error("weights-only checkpoint cannot be resumed", checkpoint_load(&st, "tests/tmp/wide.safetensors", &w, &tb), "no optimizer state");
        safetensors_close(&st);
        model_free(&w);
    }
    { // impossible configs
        Config z = c;
        z.n_head = 5;
        Model w;
        expect_error("n_embd not a multiple of n_head rejected", model_build(&w, &z, 1, 8, 1), "multiple of n_head");
        z = c; z.n_layer = 0;
        expect_error("zero layers rejected", model_build(&w, &z, 1, 8, 1), "n_layer");
        z = c; snprintf(z.model, sizeof(z.model), "transformerxl");
        expect_error("unknown model rejected", model_build(&w, &z, 1, 8, 1), "unknown model");
        z = c;
        expect_error("sequence longer than block_size rejected", model_build(&w, &z, 1, 9, 1), "exceeds block_size");
    }
    model_free(&a);
    model_free(&b);
    shard_close(&s);
}

int main(void) {
    double t0 = wall_ms();
    test_ops();
    test_forward_values();
    test_models();
    test_batch_split();
    test_adamw();
    test_files();
    printf("test_gradcheck: %.1f s\n", (wall_ms() - t0) / 1e3);
    printf("%d passed, %d failed\n", n_pass, n_fail);
    return n_fail != 0;
}
