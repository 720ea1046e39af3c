#!/usr/bin/env bash
# session 13, call 11 (issue 6, final kernels): dev/bench/bench_scan (ours and PyTorch eager/compile,
# same run); ./train_gpu -m longhorn and -m mamba with defaults; their first 1000 steps, val every 50
set -u
export STB_INCLUDE=$PWD/.stb
nvidia-smi --query-gpu=name --format=csv,noheader
make -s -j16 train_gpu dev/bench/bench_scan_cuda STB_INCLUDE=$STB_INCLUDE >/tmp/build.log 2>&1 || { tail -30 /tmp/build.log; exit 1; }
dev/bench/bench_scan > $OUT/bench_scan.log 2>&1; echo "bench_scan rc $?"; grep -E "^\| (mamba|longhorn|torch)|^conv" $OUT/bench_scan.log
for m in longhorn mamba; do
  ./train_gpu -m $m --log $OUT/${m}_shakespeare.csv > $OUT/${m}_shakespeare.log 2>&1
  echo "$m rc $?"; grep -E "final val|best periodic|^step 5000/" $OUT/${m}_shakespeare.log
done
for m in longhorn mamba; do
  ./train_gpu -m $m --eval_every 50 --stop_at 1000 --sample_len 0 --log $OUT/${m}_first1000_eval50.csv > $OUT/${m}_first1000.log 2>&1
  echo "$m first 1000 rc $?"; grep "val loss" $OUT/${m}_first1000.log | head -5 | tr '\n' ' '; echo
done
