#!/usr/bin/env bash
# session 11, call 1: the review commit (fa_scores shared by the three flash kernels, one ex2_approx)
# on a GPU for the first time: test_gpu, bench_gpu a,b, profile (b); the time-split scan forward prototype
set -u
export STB_INCLUDE=$PWD/.stb
nvidia-smi --query-gpu=name --format=csv,noheader
make -s -j8 cuda STB_INCLUDE=$STB_INCLUDE >/tmp/build.log 2>&1 || { tail -30 /tmp/build.log; exit 1; }
./test_gpu.out > $OUT/test_gpu.log 2>&1; echo "test_gpu rc $?"; grep -v "^ok" $OUT/test_gpu.log | tail -6
dev/bench/scan_fwd_variants > $OUT/scan_fwd_variants.txt 2>&1; echo "variants rc $?"; cat $OUT/scan_fwd_variants.txt | head -60
dev/bench/bench_gpu --configs a,b --steps 50 --no-build > $OUT/bench_gpu.txt 2>&1; echo "bench rc $?"
grep "^|" $OUT/bench_gpu.txt
dev/bench/profile_gpu -L 12 -H 12 -C 768 -b 16 -t 1024 --dropout 0 --attn_dropout 0 --embd_dropout 0 > $OUT/profile_b.txt 2>&1
head -24 $OUT/profile_b.txt; grep "total" $OUT/profile_b.txt
