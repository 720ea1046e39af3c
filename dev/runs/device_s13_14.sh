#!/usr/bin/env bash
# session 13, call 14 (review): one dsilu helper for the conv and the scan gate, one scan_ksq for both
# scans: test_gpu and the scan bench
set -u
export STB_INCLUDE=$PWD/.stb
nvidia-smi --query-gpu=name --format=csv,noheader
make -s -j16 test_gpu.out dev/bench/bench_scan_cuda STB_INCLUDE=$STB_INCLUDE >/tmp/build.log 2>&1 || { tail -30 /tmp/build.log; exit 1; }
./test_gpu.out > $OUT/test_gpu.log 2>&1; echo "test_gpu rc $?"; grep -E "FAIL|error" $OUT/test_gpu.log; grep -E "conv1d\+silu backward bf16 dx \(W 4\)|ssm_scan_backward (mamba|longhorn) fp32 N 16 T 100 E 88: dz" $OUT/test_gpu.log; tail -1 $OUT/test_gpu.log
dev/bench/bench_scan_cuda > $OUT/bench_scan.txt 2>&1; grep -E "^\| (mamba|longhorn)|^conv" $OUT/bench_scan.txt
