#!/usr/bin/env bash
# session 14, call 10 (issue 6): the scan backward's dL/da a from dL/dh[t-1] (one multiply per
# state and step fewer); test_gpu's scan checks and the scan bench against .base (commit 3212372)
set -u
export STB_INCLUDE=$PWD/.stb
nvidia-smi --query-gpu=name --format=csv,noheader
make -s -j16 test_gpu.out dev/bench/bench_scan_cuda train_gpu STB_INCLUDE=$STB_INCLUDE >/tmp/build.log 2>&1 || { tail -30 /tmp/build.log; exit 1; }
(cd .base && make -s -j16 dev/bench/bench_scan_cuda STB_INCLUDE=$STB_INCLUDE) >/tmp/build_base.log 2>&1 || { tail -30 /tmp/build_base.log; exit 1; }
./test_gpu.out > $OUT/test_gpu.log 2>&1; echo "test_gpu rc $?"; grep -E "FAIL" $OUT/test_gpu.log | head; grep -E "ssm_scan_backward mamba (fp32|bf16) N 16 T 100 E 88: (dxc|dA_log|d dt_proj)|model (fp32|bf16) mamba" $OUT/test_gpu.log; tail -1 $OUT/test_gpu.log
for i in 1 2 3; do
  dev/bench/bench_scan_cuda > $OUT/bench_scan_new$i.txt 2>&1; echo "new $i: $(grep -E '^\| mamba' $OUT/bench_scan_new$i.txt)"
  .base/dev/bench/bench_scan_cuda > $OUT/bench_scan_old$i.txt 2>&1; echo "old $i: $(grep -E '^\| mamba' $OUT/bench_scan_old$i.txt)"
done
B="-b 16 -t 1024 -n 30 --eval_every 0 --sample_len 0"
./train_gpu -m mamba -L 24 -C 768 $B > $OUT/b_mamba.log 2>&1; echo "mamba: $(grep '^step 30/' $OUT/b_mamba.log)"
