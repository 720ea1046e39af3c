#!/usr/bin/env bash
# session 19, call 2: gemm_tma v2 (128x256 tiles, 2-block clusters sharing Bt by multicast, persistent,
# aux/D through shared memory by TMA), clusters of 2 and of 1, each against cuBLASLt in the same run
set -u
export STB_INCLUDE=$PWD/.stb
nvidia-smi --query-gpu=name --format=csv,noheader
F="-O3 -arch=sm_90a --default-stream per-thread -std=c++17 -Xcompiler -fopenmp,-Wno-unused-function -diag-suppress 177,550 -I$STB_INCLUDE -DSM_PLOTS"
v() { nvcc $F $2 -o /tmp/gt_$1 dev/bench/gemm_tma.cu -lcublasLt -lcublas -lm > /tmp/gt_$1.log 2>&1 || { echo "build $1 failed"; tail -5 /tmp/gt_$1.log; }; }
v a "-DGT_CLUSTER=2" & v b "-DGT_CLUSTER=1" & wait
for x in a b; do echo "=== $x"; [ -x /tmp/gt_$x ] && timeout 60 /tmp/gt_$x 2>&1 | tee $OUT/gemm_tma_$x.txt | grep -v "^$"; echo "rc $?"; done
