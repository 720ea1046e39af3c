#!/usr/bin/env bash
# session 19, call 1: dev/bench/gemm_tma (TMA-fed, warp-specialized DGELU matmul) in five
# configurations, each against cuBLASLt in the same run
set -u
export STB_INCLUDE=$PWD/.stb
nvidia-smi --query-gpu=name --format=csv,noheader
F="-O3 -arch=sm_90a --default-stream per-thread -std=c++17 -Xcompiler -fopenmp,-Wno-unused-function -diag-suppress 177,550 -I$STB_INCLUDE -DSM_PLOTS"
v() { nvcc $F $2 -o /tmp/gt_$1 dev/bench/gemm_tma.cu -lcublasLt -lcublas -lm > /tmp/gt_$1.log 2>&1 || { echo "build $1 failed"; tail -5 /tmp/gt_$1.log; }; }
v a "-DGT_BN=128 -DGT_STAGES=3 -DGT_PERSIST=0" & v b "-DGT_BN=128 -DGT_STAGES=3 -DGT_PERSIST=1" & v c "-DGT_BN=256 -DGT_STAGES=4 -DGT_PERSIST=0" &
v d "-DGT_BN=256 -DGT_STAGES=4 -DGT_PERSIST=1" & v e "-DGT_BN=128 -DGT_STAGES=6 -DGT_PERSIST=1" & wait
for x in a b c d e; do echo "=== $x"; [ -x /tmp/gt_$x ] && timeout 60 /tmp/gt_$x 2>&1 | tee $OUT/gemm_tma_$x.txt | grep -v "^$"; done
