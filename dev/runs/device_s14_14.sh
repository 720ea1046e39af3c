#!/usr/bin/env bash
# session 14, call 14 (issue 6): conv1d backward segments of 128 steps (the forward keeps 64):
# test_gpu, the scan/conv bench, whole mamba
set -u
export STB_INCLUDE=$PWD/.stb
nvidia-smi --query-gpu=name --format=csv,noheader
make -s -j16 test_gpu.out dev/bench/bench_scan_cuda train_gpu STB_INCLUDE=$STB_INCLUDE >/tmp/build.log 2>&1 || { tail -30 /tmp/build.log; exit 1; }
./test_gpu.out > $OUT/test_gpu.log 2>&1; echo "test_gpu rc $?"; grep -E "FAIL" $OUT/test_gpu.log | head; grep -E "conv1d" $OUT/test_gpu.log | head -12; tail -1 $OUT/test_gpu.log
dev/bench/bench_scan_cuda > $OUT/bench_scan.txt 2>&1; grep -E "^\| (mamba|longhorn)|^conv1d" $OUT/bench_scan.txt
B="-b 16 -t 1024 -n 30 --eval_every 0 --sample_len 0"
./train_gpu -m mamba -L 24 -C 768 $B > $OUT/b_mamba.log 2>&1; echo "mamba: $(grep '^step 30/' $OUT/b_mamba.log)"
