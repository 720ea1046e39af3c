/*
 * train_cpu.c -- train, evaluate and sample any seqmodels architecture on the CPU (OpenMP).
 *
 *   make train_cpu && ./train_cpu -m gpt        # nanoGPT's CPU Shakespeare config, ~2000 steps
 *   ./train_cpu -h                              # every flag with its default
 *
 * The model, the ops, the data, the checkpoint format and the training loop (train_main, section
 * 11) all live in seqmodels.h; this file picks the CPU backend and the CPU-sized defaults.
 */
#include "seqmodels.h"

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

int main(int argc, char** argv) {
    Args defaults = cpu_defaults();
    return train_main(argc, argv, &defaults, &CPU_BACKEND);
}
