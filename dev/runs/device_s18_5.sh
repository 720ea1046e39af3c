#!/usr/bin/env bash
# session 18, call 5: the matmul tuner's choices on GPT (b) (SEQM_LT_VERBOSE=1); per-kernel profile
# of mamba 24x768 B16 T1024
set -u
. dev/runs/ab.sh
nvidia-smi --query-gpu=name --format=csv,noheader
build . 10 train_gpu
G="-m gpt -L 12 -H 12 -C 768 -b 16 -t 1024 --dropout 0 --attn_dropout 0 --embd_dropout 0"
SEQM_LT_VERBOSE=1 ./train_gpu $G -n 5 --eval_every 0 --sample_len 0 > $OUT/lt_verbose_b.log 2>&1
grep "^matmul" $OUT/lt_verbose_b.log
timeout 200 dev/bench/profile_gpu -m mamba -L 24 -C 768 -b 16 -t 1024 > $OUT/profile_mamba.txt 2>&1; echo "profile rc $?"
head -45 $OUT/profile_mamba.txt
rm -f $OUT/profile_gpu/ncu.csv
