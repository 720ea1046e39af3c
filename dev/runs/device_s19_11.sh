#!/usr/bin/env bash
# session 19, call 11 (call 10 hung: with EPI 0 the scaling warps ran ahead of the tiles): gemm_tma v3, aux/GELU' and D in separate shared buffers (no store -> load chain):
# 128x192 tiles, 3 stages, clusters of 2 (a); 128x256, 2 stages (b); 128x192 without clusters (c)
set -u
export STB_INCLUDE=$PWD/.stb
nvidia-smi --query-gpu=name --format=csv,noheader
F="-O3 -arch=sm_90a --default-stream per-thread -std=c++17 -Xcompiler -fopenmp,-Wno-unused-function -diag-suppress 177,550 -I$STB_INCLUDE -DSM_PLOTS"
v() { nvcc $F $2 -o /tmp/gt_$1 dev/bench/gemm_tma.cu -lcublasLt -lcublas -lm > /tmp/gt_$1.log 2>&1 || { echo "build $1 failed"; tail -5 /tmp/gt_$1.log; }; }
v a "" & v b "-DGT_BN=256" & v c "-DGT_CLUSTER=1" & wait
for x in a b c; do echo "=== $x"; [ -x /tmp/gt_$x ] && timeout 25 /tmp/gt_$x 2>&1 | tee $OUT/gemm_tma_$x.txt | grep -v "^$\|^(gemm\|^device"; echo "rc $?"; done
