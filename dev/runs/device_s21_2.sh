#!/usr/bin/env bash
# session 21, call 2 (HEAD 8ae507f, H100): bench_gpu a,b (ours vs torch eager and compile);
# per-kernel table of ours on (b)
set -u
. dev/runs/ab.sh
nvidia-smi --query-gpu=name --format=csv,noheader
build . 16 train_gpu
timeout 360 dev/bench/bench_gpu --configs a,b --steps 50 --no-build > $OUT/bench_gpu.txt 2>&1; echo "bench rc $?"; grep -A6 "^### config" $OUT/bench_gpu.txt
timeout 150 dev/bench/profile_gpu -L 12 -H 12 -C 768 -b 16 -t 1024 --dropout 0 --attn_dropout 0 --embd_dropout 0 > $OUT/profile_b.txt 2>&1; echo "profile rc $?"; head -40 $OUT/profile_b.txt
rm -f $OUT/profile_gpu/ncu.csv
