#!/usr/bin/env bash
# session 13, call 5 (issue 6): the conv kernels' shape (channels per thread V, steps of loads in
# flight U) measured side by side; test_gpu with the default shape (forward V2 U8, backward V2 U8)
set -u
export STB_INCLUDE=$PWD/.stb
nvidia-smi --query-gpu=name --format=csv,noheader
make -s -j16 test_gpu.out dev/bench/bench_scan_cuda STB_INCLUDE=$STB_INCLUDE >/tmp/build.log 2>&1 || { tail -30 /tmp/build.log; exit 1; }
./test_gpu.out > $OUT/test_gpu.log 2>&1; echo "test_gpu rc $?"; grep -E "FAIL|conv1d.*bf16" $OUT/test_gpu.log; tail -1 $OUT/test_gpu.log
dev/bench/bench_scan_cuda > $OUT/bench_scan.txt 2>&1; tail -22 $OUT/bench_scan.txt
