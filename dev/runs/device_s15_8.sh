#!/usr/bin/env bash
# session 15, call 8 (issues 4, 6): where config (b)'s time goes now (Nsight Compute), the default
# Shakespeare GPT run (issue 4's val-loss target) and whole mamba / longhorn at (b)'s size next to GPT
set -u
export STB_INCLUDE=$PWD/.stb PYTHONUNBUFFERED=1
nvidia-smi --query-gpu=name --format=csv,noheader
make -s -j16 cuda STB_INCLUDE=$STB_INCLUDE >/tmp/build.log 2>&1 || { tail -30 /tmp/build.log; exit 1; }
timeout 200 dev/bench/profile_gpu -L 12 -H 12 -C 768 -b 16 -t 1024 --dropout 0 --attn_dropout 0 --embd_dropout 0 > $OUT/profile_b.txt 2>&1; echo "profile rc $?"; head -24 $OUT/profile_b.txt
./train_gpu -m gpt --log $OUT/gpt_shakespeare.csv > $OUT/gpt_shakespeare.log 2>&1; echo "gpt default: rc $?"; grep -E "final val|best|^step 5000/" $OUT/gpt_shakespeare.log
B="-b 16 -t 1024 -n 30 --eval_every 0 --sample_len 0"
med() { grep -E '^step ([12][0-9]|30)/' $1 | sed -E 's/.*\| ([0-9.]+) ms.*/\1/' | sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
./train_gpu -m gpt -L 12 -H 12 -C 768 --dropout 0 --attn_dropout 0 --embd_dropout 0 $B > /tmp/b_gpt.log 2>&1; echo "gpt: median ms $(med /tmp/b_gpt.log) | $(grep '^step 30/' /tmp/b_gpt.log)"
for m in mamba longhorn; do ./train_gpu -m $m -L 24 -C 768 $B > /tmp/b_$m.log 2>&1; echo "$m: median ms $(med /tmp/b_$m.log) | $(grep '^step 30/' /tmp/b_$m.log)"; done
