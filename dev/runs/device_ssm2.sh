#!/usr/bin/env bash
# device call 2 (issue 6): the prefetching scan kernels: test_gpu, scan timings, step time
set -u
make clean >/dev/null
( make -j3 cuda >/tmp/build.log 2>&1 ) || { tail -30 /tmp/build.log; exit 1; }
./test_gpu.out >$OUT/test_gpu.log 2>&1; rc=$?
grep -v "^ok" $OUT/test_gpu.log | tail -5
./dev/bench/bench_scan_cuda | tee $OUT/bench_scan_cuda.log
./dev/bench/bench_scan_cuda 64 256 768 16 | tail -3
for m in longhorn mamba gpt; do
  ./train_gpu -m $m -n 60 --eval_every 0 --sample_len 0 > $OUT/$m.log 2>&1; echo "$m rc $?"; grep "^step 60/" $OUT/$m.log
done
./train_gpu -m mamba -L 24 -C 768 -b 16 -t 1024 -n 30 --eval_every 0 --sample_len 0 | grep "^step 30/"
./train_gpu -m gpt -L 12 -H 12 -C 768 -b 16 -t 1024 -n 30 --eval_every 0 --sample_len 0 --dropout 0 | grep "^step 30/"
