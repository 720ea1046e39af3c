/*
 * train_cpu.c -- train, evaluate and sample any seqmodels architecture on the CPU (OpenMP).
 *
 *   make train_cpu && ./train_cpu -m gpt        # nanoGPT's CPU Shakespeare config, ~2000 steps
 *   ./train_cpu -h                              # every flag with its default
 *
 * The model, the ops, the data and the checkpoint format all live in seqmodels.h; this file is
 * the loop: batch -> forward -> backward -> clip -> AdamW, with evals, checkpoints and samples.
 */
#include "seqmodels.h"
#include <signal.h>

/* Ctrl-C / SIGTERM: finish the current step, write the checkpoint (-o), exit. A second Ctrl-C
 * kills at once. */
static volatile sig_atomic_t stop_requested = 0;
static void on_signal(int sig) {
    stop_requested = sig;
    signal(sig, SIG_DFL);
}

/* CPU defaults: nanoGPT's "baby" Shakespeare config (README of nanoGPT, CPU section) */
static Args cpu_defaults(void) {
    Args a;
    memset(&a, 0, sizeof(a));
    strcpy(a.model.model, "gpt");
    strcpy(a.data, "shakespeare");
    a.model.pos = -1;
    a.model.n_layer = 4;
    a.model.n_head = 4;
    a.model.n_embd = 128;
    a.model.num_masked_heads = -1;
    a.batch = 12;
    a.seq_len = 64;
    a.steps = 2000;
    a.stop_at = -1;
    a.optim = (OptimConfig){.lr = 1e-3, .min_lr = 1e-4, .warmup = 100, .decay_steps = -1, .beta1 = 0.9,
                            .beta2 = 0.99, .eps = 1e-8, .weight_decay = 0.1, .grad_clip = 1.0};
    a.seed = 1337;
    a.eval_every = 250;
    a.eval_batches = 20;
    a.sample_len = 300;
    a.temperature = 1.0;
    strcpy(a.prompt, "\n");
    return a;
}

/* mean loss over the evaluation windows of a shard (n_batches == 0: the whole shard) */
static double evaluate(Model* m, const Shard* s, int B, int T, int n_batches, int* inputs, int* targets, uint8_t* mask) {
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
        sum += model_forward(m, inputs, targets, mask, b, T) * n;
        scored += n;
    }
    return scored ? sum / scored : 0;
}

static void print_sample(Model* m, const Args* a, uint64_t* rng) {
    int n_prompt = (int)strlen(a->prompt);
    if (a->sample_len <= 0 || n_prompt == 0) return;
    int* buf = (int*)mallocCheck((size_t)(n_prompt + a->sample_len) * sizeof(int));
    for (int i = 0; i < n_prompt; i++) buf[i] = (unsigned char)a->prompt[i] % m->cfg.vocab_size;
    model_generate(m, buf, n_prompt, a->sample_len, a->temperature, a->top_k, rng);
    printf("---- sample (temperature %g, top_k %d) ----\n", a->temperature, a->top_k);
    for (int i = 0; i < n_prompt + a->sample_len; i++) putchar(buf[i] < 256 ? buf[i] : '?');
    printf("\n----\n");
    free(buf);
}

/* --eval: one fixed batch (the first B evenly spaced val windows), loss to 7 significant digits;
 * with --debug_out also the gradients, written as safetensors for outside checkers */
static int eval_mode(const Args* a, const Shard* val) {
    SafeTensors st;
    Config c;
    Model m;
    if (checkpoint_open(&st, a->eval_ckpt, &c)) sm_die("%s", sm_err);
    if (val->vocab_size > c.vocab_size) sm_die("data vocab %d is larger than the checkpoint's %d", val->vocab_size, c.vocab_size);
    int B = a->batch, T = a->seq_len;
    if (model_build(&m, &c, B, T, 0) || checkpoint_load(&st, a->eval_ckpt, &m, NULL)) sm_die("%s", sm_err);
    safetensors_close(&st);
    int* inputs = (int*)mallocCheck((size_t)B * T * sizeof(int));
    int* targets = (int*)mallocCheck((size_t)B * T * sizeof(int));
    size_t n_windows = eval_window_count(val, T, B);
    if (n_windows < (size_t)B) sm_die("val split too short for %d windows of %d tokens", B, T);
    for (int b = 0; b < B; b++) shard_window(val, eval_window_start(val, T, B, b), T, inputs + b * T, targets + b * T, NULL);
    m.training = 0;
    double loss = model_forward(&m, inputs, targets, NULL, B, T);
    printf("loss %.7g\n", loss);
    if (a->debug_out[0]) {
        model_zero_grad(&m);
        model_backward(&m, inputs, targets, NULL, B, T);
        int V = m.cfg.vocab_size, n = 0;
        float* logits0 = (float*)mallocCheck(V * sizeof(float));
        for (int i = 0; i < V; i++) logits0[i] = (float)m.logits[i];
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
    model_free(&m);
    return 0;
}

int main(int argc, char** argv) {
    Args defaults = cpu_defaults(), a = defaults;
    int rc = args_parse(&a, argc, argv);
    if (rc == 1) { args_usage(argv[0], &defaults); return 0; }
    if (rc < 0) sm_die("%s", sm_err);
#ifdef _OPENMP
    if (a.threads > 0) omp_set_num_threads(a.threads);
    int n_threads = omp_get_max_threads();
#else
    int n_threads = 1;
#endif
    setvbuf(stdout, NULL, _IOLBF, 0);

    // data
    char train_path[4200], val_path[4200];
    Shard train, val;
    if (data_resolve(a.data, train_path, val_path, sizeof(train_path), 1) || shard_open(&val, val_path)) sm_die("%s", sm_err);
    if (a.eval_ckpt[0]) {
        int rc_eval = eval_mode(&a, &val);
        shard_close(&val);
        return rc_eval;
    }
    if (shard_open(&train, train_path)) sm_die("%s", sm_err);
    if (train.vocab_size != val.vocab_size) sm_die("train and val shards disagree on vocab (%d vs %d)", train.vocab_size, val.vocab_size);
    int B = a.batch, T = a.seq_len;
    if ((size_t)T + 1 > train.n || (size_t)T + 1 > val.n)
        sm_die("sequence length %d is longer than the data (train %zu, val %zu tokens)", T, train.n, val.n);

    // model: fresh, or from a checkpoint with its optimizer state and data position
    Model m;
    TrainState ts = {0, hash64((uint64_t)a.seed ^ 0xDA7A)};
    if (a.resume[0]) {
        SafeTensors st;
        Config c;
        if (checkpoint_open(&st, a.resume, &c)) sm_die("%s", sm_err);
        if (c.vocab_size != train.vocab_size) sm_die("%s: vocab %d does not match the data's %d", a.resume, c.vocab_size, train.vocab_size);
        if (model_build(&m, &c, B, T, 0) || checkpoint_load(&st, a.resume, &m, &ts)) sm_die("%s", sm_err);
        safetensors_close(&st);
        printf("resumed %s at step %d (model flags come from the checkpoint)\n", a.resume, ts.step);
    } else {
        Config c = a.model;
        c.vocab_size = train.vocab_size;
        c.block_size = T;
        if (model_build(&m, &c, B, T, (uint64_t)a.seed)) sm_die("%s", sm_err);
    }
    char cfg_json[1024];
    config_to_json(&m.cfg, cfg_json, sizeof(cfg_json));
    printf("model %s: %.3fM parameters, %zu activation floats | %s\n", m.cfg.model, m.pt.total / 1e6, 2 * m.n_acts, cfg_json);
    printf("data %s: train %zu tokens, val %zu tokens, vocab %d | batch %d x %d | %d steps | %d threads\n", a.data,
           train.n, val.n, train.vocab_size, B, T, a.steps, n_threads);

    FILE* logf = NULL;
    if (a.log[0]) {
        logf = fopen(a.log, ts.step > 0 ? "a" : "w");
        if (!logf) sm_die("cannot write log %s: %s", a.log, strerror(errno));
        if (ts.step == 0) fprintf(logf, "step,split,loss,lr,grad_norm,ms\n");
    }
    int* inputs = (int*)mallocCheck((size_t)B * T * sizeof(int));
    int* targets = (int*)mallocCheck((size_t)B * T * sizeof(int));
    uint8_t* mask = (uint8_t*)mallocCheck((size_t)B * T);
    double t_start = wall_ms();
    int interrupted = 0;
    signal(SIGINT, on_signal);
    signal(SIGTERM, on_signal);
    for (int step = ts.step; step < a.steps; step++) {
        if ((a.stop_at >= 0 && step >= a.stop_at) || stop_requested) { interrupted = 1; break; }
        double t0 = wall_ms(), lr = lr_at(&a.optim, step);
        shard_random_batch(&train, &ts.data_rng, B, T, inputs, targets, mask);
        m.training = 1;
        m.dropout_seed = hash64((uint64_t)a.seed * 31 + step);
        model_zero_grad(&m);
        double loss = model_forward(&m, inputs, targets, mask, B, T);
        model_backward(&m, inputs, targets, mask, B, T);
        double norm = grad_norm(m.grads, m.pt.total);
        if (!isfinite(loss) || !isfinite(norm)) sm_die("loss is %g (grad norm %g) at step %d: diverged; try a lower --lr", loss, norm, step + 1);
        grad_clip(m.grads, m.pt.total, norm, a.optim.grad_clip);
        adamw_step(&m, &a.optim, lr, step + 1);
        ts.step = step + 1;
        double ms = wall_ms() - t0;
        printf("step %d/%d | loss %.4f | lr %.2e | norm %.3f | %.1f ms | %.0f tok/s\n", step + 1, a.steps, loss, lr, norm, ms, B * T / ms * 1e3);
        if (logf) fprintf(logf, "%d,train,%.6f,%.6e,%.6f,%.3f\n", step + 1, loss, lr, norm, ms);
        if (a.eval_every > 0 && ts.step % a.eval_every == 0 && ts.step < a.steps) {
            double vl = evaluate(&m, &val, B, T, a.eval_batches, inputs, targets, mask);
            printf("step %d | val loss %.4f (%d batches)\n", ts.step, vl, a.eval_batches);
            if (logf) fprintf(logf, "%d,val,%.6f,,,\n", ts.step, vl);
        }
        if (a.out[0] && a.save_every > 0 && ts.step % a.save_every == 0 && checkpoint_save(a.out, &m, &ts)) sm_die("%s", sm_err);
    }
    double train_s = (wall_ms() - t_start) / 1e3;
    if (a.out[0]) {
        if (checkpoint_save(a.out, &m, &ts)) sm_die("%s", sm_err);
        printf("saved %s (step %d)\n", a.out, ts.step);
    }
    if (!interrupted) {
        double vl = evaluate(&m, &val, B, T, 0, inputs, targets, mask);
        printf("final val loss %.4f (whole val split) after %d steps, %.1f s of training\n", vl, ts.step, train_s);
        if (logf) fprintf(logf, "%d,val_full,%.6f,,,\n", ts.step, vl);
        uint64_t sample_rng = hash64((uint64_t)a.seed ^ 0x5A3B1E);
        print_sample(&m, &a, &sample_rng);
    } else {
        if (a.out[0]) printf("stopped at step %d; resume with the same command plus --resume %s\n", ts.step, a.out);
        else printf("stopped at step %d; nothing saved (pass -o PATH to keep a checkpoint)\n", ts.step);
    }
    if (logf) fclose(logf);
    free(inputs); free(targets); free(mask);
    model_free(&m);
    shard_close(&train);
    shard_close(&val);
    return stop_requested ? 130 : 0;
}
