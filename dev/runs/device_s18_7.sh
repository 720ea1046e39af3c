#!/usr/bin/env bash
# session 18, call 7 (final build d103af9, H100): bench_gpu a,b (ours vs torch eager and compile);
# per-kernel table of ours on (b); whole mamba and longhorn 24x768 and GPT (b), one run each
set -u
. dev/runs/ab.sh
nvidia-smi --query-gpu=name --format=csv,noheader
build . 10 train_gpu
timeout 330 dev/bench/bench_gpu --configs a,b --steps 50 --no-build > $OUT/bench_gpu.txt 2>&1; echo "bench rc $?"; grep -A6 "^### config" $OUT/bench_gpu.txt
timeout 150 dev/bench/profile_gpu -L 12 -H 12 -C 768 -b 16 -t 1024 --dropout 0 --attn_dropout 0 --embd_dropout 0 > $OUT/profile_b.txt 2>&1; echo "profile rc $?"; head -40 $OUT/profile_b.txt
rm -f $OUT/profile_gpu/ncu.csv
for M in "-m mamba -L 24 -C 768 -b 16 -t 1024" "-m longhorn -L 24 -C 768 -b 16 -t 1024" "-m gpt -L 12 -H 12 -C 768 -b 16 -t 1024 --dropout 0 --attn_dropout 0 --embd_dropout 0"; do
  ab_model 1 "$M" .
done
