#!/usr/bin/env bash
# device call 1 (issue 6): build, test_gpu, scan benchmark, then the Shakespeare runs of
# longhorn and mamba if test_gpu passed. Logs to $OUT (6 files).
set -u
make clean >/dev/null
nvidia-smi --query-gpu=name,memory.total,clocks.max.sm --format=csv,noheader
( make -j3 cuda >/tmp/build.log 2>&1 ) || { tail -30 /tmp/build.log; exit 1; }
./test_gpu.out >$OUT/test_gpu.log 2>&1; rc=$?
grep -v "^ok" $OUT/test_gpu.log | tail -20
grep "ssm\|conv1d\|mamba\|longhorn" $OUT/test_gpu.log | head -60
timeout 240 dev/bench/bench_scan >$OUT/bench_scan.log 2>&1; echo "bench_scan rc $?"; cat $OUT/bench_scan.log
[ $rc -eq 0 ] || exit 1
for m in longhorn mamba; do
  timeout 200 ./train_gpu -m $m --log $OUT/${m}_shakespeare.csv --sample_len 200 >$OUT/${m}_shakespeare.log 2>&1
  echo "$m rc $?"; grep -E "^step (1|10|100|1000|2500|4000|5000)/|val|s of training" $OUT/${m}_shakespeare.log | tail -30
done
