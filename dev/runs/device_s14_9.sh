#!/usr/bin/env bash
# session 14, call 9: conv1d segment length (steps per thread) 32 / 64 / 128 / 256, via bench_scan
# built with -DCONV_SEG (the conv table's shapes at each)
set -u
export STB_INCLUDE=$PWD/.stb
nvidia-smi --query-gpu=name --format=csv,noheader
F="-O3 -arch=sm_90a --default-stream per-thread -std=c++17 -Xcompiler -fopenmp,-Wno-unused-function -diag-suppress 177,550 -I$STB_INCLUDE"
for S in 32 64 128 256; do nvcc $F -DCONV_SEG=$S -o /tmp/bs_$S dev/bench/bench_scan.cu -lcublasLt -lcublas -lm & done; wait
for S in 32 64 128 256; do echo "== CONV_SEG $S"; /tmp/bs_$S > $OUT/bench_scan_seg$S.txt 2>&1; grep -E "^conv1d|\| (forward|backward)" $OUT/bench_scan_seg$S.txt; done
