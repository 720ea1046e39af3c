#!/usr/bin/env bash
# session 11, call 5: --recompute 0/1/2 (the MLP activation, and the norms' outputs): test_gpu,
# bench_gpu a,b with every recompute level and torch in the same run
set -u
export STB_INCLUDE=$PWD/.stb
nvidia-smi --query-gpu=name --format=csv,noheader
make -s -j8 cuda STB_INCLUDE=$STB_INCLUDE >/tmp/build.log 2>&1 || { tail -30 /tmp/build.log; exit 1; }
./test_gpu.out > $OUT/test_gpu.log 2>&1; echo "test_gpu rc $?"; grep -v "^ok" $OUT/test_gpu.log | tail -6
grep "recompute" $OUT/test_gpu.log | grep -v logits
dev/bench/bench_gpu --configs a,b --steps 50 --no-build --recompute 0,2 > $OUT/bench_gpu.txt 2>&1; echo "bench rc $?"
grep "^|" $OUT/bench_gpu.txt
