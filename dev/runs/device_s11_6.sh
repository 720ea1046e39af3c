#!/usr/bin/env bash
# session 11, call 6: the final build's per-kernel profile of config (b) (default --recompute 1)
set -u
export STB_INCLUDE=$PWD/.stb
nvidia-smi --query-gpu=name --format=csv,noheader
make -s -j8 train_gpu STB_INCLUDE=$STB_INCLUDE >/tmp/build.log 2>&1 || { tail -30 /tmp/build.log; exit 1; }
dev/bench/profile_gpu -L 12 -H 12 -C 768 -b 16 -t 1024 --dropout 0 --attn_dropout 0 --embd_dropout 0 > $OUT/profile_b.txt 2>&1
head -30 $OUT/profile_b.txt; grep "total" $OUT/profile_b.txt
