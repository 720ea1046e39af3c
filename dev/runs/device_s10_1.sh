#!/usr/bin/env bash
# session 10, call 1: test_gpu after the review commit, bench_gpu a,b (torch side by side), profile (b)
set -u
export STB_INCLUDE=$PWD/.stb
nvidia-smi --query-gpu=name --format=csv,noheader
make -s -j8 cuda STB_INCLUDE=$STB_INCLUDE >/tmp/build.log 2>&1 || { tail -30 /tmp/build.log; exit 1; }
./test_gpu.out > $OUT/test_gpu.log 2>&1; echo "test_gpu rc $?"; grep -v "^ok" $OUT/test_gpu.log | tail -5
dev/bench/bench_gpu --configs a,b --steps 50 --no-build > $OUT/bench_gpu.txt 2>&1; echo "bench rc $?"
grep -v "^ *$" $OUT/bench_gpu.txt | tail -16
dev/bench/profile_gpu -L 12 -H 12 -C 768 -b 16 -t 1024 --dropout 0 > $OUT/profile_b.txt 2>&1
head -32 $OUT/profile_b.txt
