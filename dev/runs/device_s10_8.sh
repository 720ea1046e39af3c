#!/usr/bin/env bash
# session 10, call 8: bf16 dqkv from the attention backward (no fp32 -> bf16 copy for the QKV
# backward), branch outputs one layer (memory), the norm backward's aligned shared slices:
# test_gpu, bench_gpu a,b, profile (b)
set -u
export STB_INCLUDE=$PWD/.stb
nvidia-smi --query-gpu=name --format=csv,noheader
make -s -j8 train_gpu test_gpu.out STB_INCLUDE=$STB_INCLUDE >/tmp/build.log 2>&1 || { tail -30 /tmp/build.log; exit 1; }
./test_gpu.out > $OUT/test_gpu.log 2>&1; echo "test_gpu rc $?"; grep -v "^ok" $OUT/test_gpu.log | tail -6; grep "attention_backward" $OUT/test_gpu.log | head -8
dev/bench/bench_gpu --configs a,b --steps 50 --no-build > $OUT/bench_gpu.txt 2>&1; echo "bench rc $?"
grep "^|" $OUT/bench_gpu.txt
dev/bench/profile_gpu -L 12 -H 12 -C 768 -b 16 -t 1024 --dropout 0 --attn_dropout 0 --embd_dropout 0 > $OUT/profile_b.txt 2>&1
head -24 $OUT/profile_b.txt; grep "total" $OUT/profile_b.txt
