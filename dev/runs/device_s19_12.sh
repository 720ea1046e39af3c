#!/usr/bin/env bash
# session 19, call 12: gemm_tma v4: the multiplying warps write the bf16 product (as without the
# epilogue); two warps scale it by GELU'(aux) under the next tile's main loop; 128x192 tiles,
# clusters of 2 (a) and 1 (b)
set -u
export STB_INCLUDE=$PWD/.stb
nvidia-smi --query-gpu=name --format=csv,noheader
F="-O3 -arch=sm_90a --default-stream per-thread -std=c++17 -Xcompiler -fopenmp,-Wno-unused-function -diag-suppress 177,550 -I$STB_INCLUDE -DSM_PLOTS"
v() { nvcc $F $2 -o /tmp/gt_$1 dev/bench/gemm_tma.cu -lcublasLt -lcublas -lm > /tmp/gt_$1.log 2>&1 || { echo "build $1 failed"; tail -5 /tmp/gt_$1.log; }; }
v a "" & v b "-DGT_CLUSTER=1" & wait
for x in a b; do echo "=== $x"; [ -x /tmp/gt_$x ] && timeout 25 /tmp/gt_$x 2>&1 | tee $OUT/gemm_tma_$x.txt | grep -v "^$\|^(gemm\|^device"; echo "rc $?"; done
