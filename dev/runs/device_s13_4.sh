#!/usr/bin/env bash
# session 13, call 4 (issue 6): conv1d kernels with 8 (forward) / 4 (backward) channels per thread and
# 4 steps of loads in flight; the conv backward as one pass (no dxconv round trip); scan epilogues with
# store8: test_gpu, the scan bench, whole models, a mamba profile
set -u
export STB_INCLUDE=$PWD/.stb
nvidia-smi --query-gpu=name --format=csv,noheader
make -s -j16 cuda STB_INCLUDE=$STB_INCLUDE >/tmp/build.log 2>&1 || { tail -30 /tmp/build.log; exit 1; }
./test_gpu.out > $OUT/test_gpu.log 2>&1; echo "test_gpu rc $?"; grep -E "FAIL|conv1d|ssm_scan_forward mamba bf16 N 16 T 100 E 88|model bf16 (mamba|longhorn).*gradients|train_step mamba bf16: graph" $OUT/test_gpu.log; tail -1 $OUT/test_gpu.log
dev/bench/bench_scan_cuda > $OUT/bench_scan.txt 2>&1; tail -5 $OUT/bench_scan.txt
B="-b 16 -t 1024 -n 30 --eval_every 0 --sample_len 0"
for m in mamba longhorn; do ./train_gpu -m $m -L 24 -C 768 $B > $OUT/b_$m.log 2>&1; echo "$m: $(grep '^step 30/' $OUT/b_$m.log)"; done
dev/bench/profile_gpu -m mamba -L 24 -C 768 -b 16 -t 1024 > $OUT/profile_mamba.txt 2>&1; head -24 $OUT/profile_mamba.txt; grep total $OUT/profile_mamba.txt
