#!/usr/bin/env bash
# session 14, call 15 (issue 6): dxc (the gradient of the conv output) in bf16 in bf16 mode (the
# scan backward writes it, x_proj's backward adds to it in its fp32 accumulators, the conv
# backward reads it): test_gpu, the scan/conv bench, whole mamba and longhorn
set -u
export STB_INCLUDE=$PWD/.stb
nvidia-smi --query-gpu=name --format=csv,noheader
make -s -j16 test_gpu.out dev/bench/bench_scan_cuda train_gpu STB_INCLUDE=$STB_INCLUDE >/tmp/build.log 2>&1 || { tail -30 /tmp/build.log; exit 1; }
./test_gpu.out > $OUT/test_gpu.log 2>&1; echo "test_gpu rc $?"; grep -E "FAIL" $OUT/test_gpu.log | head; grep -E "ssm_scan_backward (mamba|longhorn) bf16 N 16 T 100 E 88: dxc|conv1d\+silu backward bf16|model (fp32|bf16) (mamba|longhorn).*gradients|train_step mamba" $OUT/test_gpu.log | head -12; tail -1 $OUT/test_gpu.log
dev/bench/bench_scan_cuda > $OUT/bench_scan.txt 2>&1; grep -E "^\| (mamba|longhorn)|^conv1d" $OUT/bench_scan.txt
B="-b 16 -t 1024 -n 30 --eval_every 0 --sample_len 0"
for m in mamba longhorn; do ./train_gpu -m $m -L 24 -C 768 $B > $OUT/b_$m.log 2>&1; echo "$m: $(grep '^step 30/' $OUT/b_$m.log)"; done
