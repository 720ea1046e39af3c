#!/usr/bin/env bash
# session 14, call 11 (issue 6): the scan backward's step loop unrolled 1 / 2 / 4 / 8 (default)
# times (Nsight Compute saw instruction-fetch stalls in the fully unrolled loop), bench_scan builds
set -u
export STB_INCLUDE=$PWD/.stb
nvidia-smi --query-gpu=name --format=csv,noheader
F="-O3 -arch=sm_90a --default-stream per-thread -std=c++17 -Xcompiler -fopenmp,-Wno-unused-function -diag-suppress 177,550 -I$STB_INCLUDE"
for U in 1 2 4 8; do nvcc $F -DSSM_BWD_STEP_UNROLL=$U -o /tmp/bs_$U dev/bench/bench_scan.cu -lcublasLt -lcublas -lm & done; wait
for r in 1 2; do for U in 1 2 4 8; do /tmp/bs_$U > $OUT/bench_scan_u${U}_$r.txt 2>&1; echo "unroll $U run $r: $(grep -E '^\| (mamba|longhorn)' $OUT/bench_scan_u${U}_$r.txt | tr '\n' ' ')"; done; done
