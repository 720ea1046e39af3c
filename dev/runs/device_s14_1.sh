#!/usr/bin/env bash
# session 14, call 1 (issue 6): the scan backward with one lane per state (a group of N lanes per
# channel, channels walked in turn; sums over channels in registers): test_gpu, the scan bench
# against the previous kernels (.base = commit 3212372) in the same call, whole models
set -u
export STB_INCLUDE=$PWD/.stb
nvidia-smi --query-gpu=name --format=csv,noheader
make -s -j16 cuda STB_INCLUDE=$STB_INCLUDE >/tmp/build.log 2>&1 || { tail -30 /tmp/build.log; exit 1; }
(cd .base && make -s -j16 train_gpu dev/bench/bench_scan_cuda STB_INCLUDE=$STB_INCLUDE) >/tmp/build_base.log 2>&1 || { tail -30 /tmp/build_base.log; exit 1; }
./test_gpu.out > $OUT/test_gpu.log 2>&1; echo "test_gpu rc $?"; grep -E "FAIL" $OUT/test_gpu.log | head -30; grep -E "ssm_scan_backward (mamba|longhorn) (fp32|bf16) N 16 T 100 E 88: (dxc|dz|d x_proj)|model (fp32|bf16) (mamba|longhorn).*gradients" $OUT/test_gpu.log | head -12; tail -1 $OUT/test_gpu.log
for i in 1 2; do
  dev/bench/bench_scan_cuda > $OUT/bench_scan_new$i.txt 2>&1; echo "new $i"; grep -E "^\| (mamba|longhorn)" $OUT/bench_scan_new$i.txt
  .base/dev/bench/bench_scan_cuda > $OUT/bench_scan_old$i.txt 2>&1; echo "old $i"; grep -E "^\| (mamba|longhorn)" $OUT/bench_scan_old$i.txt
done
B="-b 16 -t 1024 -n 30 --eval_every 0 --sample_len 0"
for m in mamba longhorn; do ./train_gpu -m $m -L 24 -C 768 $B > $OUT/b_$m.log 2>&1; echo "new $m: $(grep '^step 30/' $OUT/b_$m.log)"; done
(cd .base && ./train_gpu -m mamba -L 24 -C 768 $B) > $OUT/b_mamba_old.log 2>&1; echo "old mamba: $(grep '^step 30/' $OUT/b_mamba_old.log)"
