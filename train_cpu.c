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

/* CPU defaults: nanoGPT's "baby" Shakespeare config (nanoGPT README, CPU section), no dropout */
static Args cpu_defaults(void) {
    Args a = args_defaults();
    a.model.n_layer = 4;
    a.model.n_head = 4;
    a.model.n_embd = 128;
    a.batch = 12;
    a.seq_len = 64;
    a.steps = 2000;
    return a;
}

int main(int argc, char** argv) {
    Args defaults = cpu_defaults();
    return train_main(argc, argv, &defaults, &CPU_BACKEND);
}
