#!/usr/bin/env bash
# session 16, call 7 (same H100 as call 6): the tuner's choice against the heuristic's first kernel,
# same binary (SEQM_LT_TUNE=1 / 0): GPT (b) alternating, 60 steps; per-kernel tables of both
set -u
export STB_INCLUDE=$PWD/.stb PYTHONUNBUFFERED=1
nvidia-smi --query-gpu=name --format=csv,noheader
[ -x ./train_gpu ] || make -s -j16 train_gpu STB_INCLUDE=$STB_INCLUDE >/tmp/build.log 2>&1 || { tail -30 /tmp/build.log; exit 1; }
med() { grep -E '^step ([1-5][0-9]|60)/' $1 | sed -E 's/.*\| ([0-9.]+) ms.*/\1/' | sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
B="-b 16 -t 1024 -n 60 --eval_every 0 --sample_len 0 -L 12 -H 12 -C 768 --dropout 0 --attn_dropout 0 --embd_dropout 0"
for i in 1 2 3; do
  SEQM_LT_TUNE=0 ./train_gpu -m gpt $B > /tmp/b0.log 2>&1; echo "b tune 0: median ms $(med /tmp/b0.log) | $(grep '^step 60/' /tmp/b0.log)"
  SEQM_LT_TUNE=1 ./train_gpu -m gpt $B > /tmp/b1.log 2>&1; echo "b tune 1: median ms $(med /tmp/b1.log) | $(grep '^step 60/' /tmp/b1.log)"
done
P="-L 12 -H 12 -C 768 -b 16 -t 1024 --dropout 0 --attn_dropout 0 --embd_dropout 0"
SEQM_LT_TUNE=0 timeout 200 dev/bench/profile_gpu $P > $OUT/profile_b_tune0.txt 2>&1; echo "profile 0 rc $?"
SEQM_LT_TUNE=1 timeout 200 dev/bench/profile_gpu $P > $OUT/profile_b_tune1.txt 2>&1; echo "profile 1 rc $?"
paste -d'|' <(grep -E "nvjet|xmma|total" $OUT/profile_b_tune0.txt | cut -c1-60,75-100) <(grep -E "nvjet|xmma|total" $OUT/profile_b_tune1.txt | cut -c1-60,75-100)
