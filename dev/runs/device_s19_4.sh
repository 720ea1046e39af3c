#!/usr/bin/env bash
# session 19, call 4: gemm_tma's main loop: shared output buffer + 3 stages (a) against direct
# register epilogues with 4 stages (b), 3 stages (c), 4 stages without clusters (d)
set -u
export STB_INCLUDE=$PWD/.stb
nvidia-smi --query-gpu=name --format=csv,noheader
F="-O3 -arch=sm_90a --default-stream per-thread -std=c++17 -Xcompiler -fopenmp,-Wno-unused-function -diag-suppress 177,550 -I$STB_INCLUDE -DSM_PLOTS"
v() { nvcc $F $2 -o /tmp/gt_$1 dev/bench/gemm_tma.cu -lcublasLt -lcublas -lm > /tmp/gt_$1.log 2>&1 || { echo "build $1 failed"; tail -5 /tmp/gt_$1.log; }; }
v a "" & v b "-DGT_DIRECT=1 -DGT_STAGES=4" & v c "-DGT_DIRECT=1 -DGT_STAGES=3" & v d "-DGT_DIRECT=1 -DGT_STAGES=4 -DGT_CLUSTER=1" & wait
for x in a b c d; do echo "=== $x"; [ -x /tmp/gt_$x ] && timeout 60 /tmp/gt_$x 2>&1 | tee $OUT/gemm_tma_$x.txt | grep -v "^$\|^(gemm\|^device"; echo "rc $?"; done
