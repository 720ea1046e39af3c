#!/usr/bin/env bash
# session 21, call 3 (HEAD, H100): how stable is lt_matmul's timed choice? GPT (b) four times with
# SEQM_LT_VERBOSE=1 (each run tunes afresh), twice with SEQM_LT_TUNE=0 (the heuristic's first)
set -u
. dev/runs/ab.sh
build . 16 train_gpu
F="-m gpt -L 12 -H 12 -C 768 -b 16 -t 1024 --dropout 0 --attn_dropout 0 --embd_dropout 0 -n 30 --eval_every 0 --sample_len 0"
for i in 1 2 3 4; do
  SEQM_LT_VERBOSE=1 ./train_gpu $F > $OUT/b_verbose_$i.log 2>&1
  echo "tuned run $i: median $(med $OUT/b_verbose_$i.log) ms"; grep "^matmul" $OUT/b_verbose_$i.log | sed -E 's/.*(m [0-9]+ n [0-9]+ k [0-9]+).*(epi [0-9]+).*took (#[0-9]+ \([0-9.]+ ms), the first ([0-9.]+)\)/\1 \2 \3 first \4/'
  SEQM_LT_TUNE=0 ./train_gpu $F > /tmp/untuned.log 2>&1; echo "untuned: median $(med /tmp/untuned.log) ms"
done
