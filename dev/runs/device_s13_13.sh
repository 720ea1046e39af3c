#!/usr/bin/env bash
# session 13, call 13 (issue 6): as call 12 (which failed: ScanBwdShared<N, 0> became 10244 bytes, so the per-warp structs after it were misaligned for cp.async; the structs are now __align__(16)); Longhorn's k_t[n]^2 computed once per chunk row and shared by all
# channels (forward and backward): test_gpu, the scan bench, whole longhorn and mamba
set -u
export STB_INCLUDE=$PWD/.stb
nvidia-smi --query-gpu=name --format=csv,noheader
make -s -j16 test_gpu.out train_gpu dev/bench/bench_scan_cuda STB_INCLUDE=$STB_INCLUDE >/tmp/build.log 2>&1 || { tail -30 /tmp/build.log; exit 1; }
./test_gpu.out > $OUT/test_gpu.log 2>&1; echo "test_gpu rc $?"; grep -E "FAIL|ssm_scan_(forward|backward) longhorn .*N 16 T 100 E 88: (g|dxc|d x_proj)|model (fp32|bf16) longhorn.*gradients" $OUT/test_gpu.log; tail -1 $OUT/test_gpu.log
dev/bench/bench_scan_cuda > $OUT/bench_scan.txt 2>&1; grep -E "^\| (mamba|longhorn)" $OUT/bench_scan.txt
B="-b 16 -t 1024 -n 30 --eval_every 0 --sample_len 0"
for m in longhorn mamba; do ./train_gpu -m $m -L 24 -C 768 $B > $OUT/b_$m.log 2>&1; echo "$m: $(grep '^step 30/' $OUT/b_$m.log)"; done
