#!/usr/bin/env bash
# device call 4 (issue 6): forward one lane per channel, backward lane pairs capped at 168 regs:
# test_gpu, scan timings vs torch, whole models at 12 x 768
set -u
make clean >/dev/null
( make -j4 cuda >/tmp/build.log 2>&1 ) || { tail -30 /tmp/build.log; exit 1; }
./test_gpu.out >$OUT/test_gpu.log 2>&1; rc=$?
grep -v "^ok" $OUT/test_gpu.log | tail -3
./dev/bench/bench_scan_cuda 64 256 768 16 | tail -2
for m in "mamba -L 24" "longhorn -L 24" "gpt -L 12 -H 12 --dropout 0"; do
  ./train_gpu -m $m -C 768 -b 16 -t 1024 -n 30 --eval_every 0 --sample_len 0 > /tmp/w.log 2>&1; grep "^step 30/" /tmp/w.log | sed "s/^/$m: /" | tee -a $OUT/whole_models.log
done
for m in longhorn mamba; do ./train_gpu -m $m -n 60 --eval_every 0 --sample_len 0 | grep "^step 60/" | sed "s/^/$m shakespeare: /"; done
timeout 330 dev/bench/bench_scan > $OUT/bench_scan.log 2>&1; echo "bench_scan rc $?"; tail -12 $OUT/bench_scan.log
