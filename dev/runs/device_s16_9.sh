#!/usr/bin/env bash
# session 16, call 9 (final): make cuda; test_gpu; grad_sumsq's float4 form against .base (HEAD~1)
# on GPT (b), alternating; Shakespeare defaults: gpt and longhorn (its state update changed rounding)
set -u
export STB_INCLUDE=$PWD/.stb PYTHONUNBUFFERED=1
nvidia-smi --query-gpu=name --format=csv,noheader
(make -s -j10 cuda STB_INCLUDE=$STB_INCLUDE >/tmp/build.log 2>&1; echo $? > /tmp/build.rc) &
(cd .base && make -s -j6 train_gpu STB_INCLUDE=$STB_INCLUDE) >/tmp/build_base.log 2>&1 || { tail -30 /tmp/build_base.log; exit 1; }
wait; [ "$(cat /tmp/build.rc)" = 0 ] || { tail -30 /tmp/build.log; exit 1; }
timeout 400 ./test_gpu.out > $OUT/test_gpu.log 2>&1; echo "test_gpu rc $?"; grep -E "FAIL|grad_sumsq|grad_norm|lt_matmul" $OUT/test_gpu.log | head; tail -1 $OUT/test_gpu.log
med() { grep -E '^step ([1-5][0-9]|60)/' $1 | sed -E 's/.*\| ([0-9.]+) ms.*/\1/' | sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
B="-b 16 -t 1024 -n 60 --eval_every 0 --sample_len 0 -L 12 -H 12 -C 768 --dropout 0 --attn_dropout 0 --embd_dropout 0"
for i in 1 2 3; do
  .base/train_gpu -m gpt $B > /tmp/bb.log 2>&1; echo "b base: median ms $(med /tmp/bb.log) | $(grep '^step 60/' /tmp/bb.log)"
  ./train_gpu -m gpt $B > /tmp/bn.log 2>&1; echo "b new: median ms $(med /tmp/bn.log) | $(grep '^step 60/' /tmp/bn.log)"
done
./train_gpu -m gpt > $OUT/gpt_shakespeare.log 2>&1; echo "gpt default rc $?"; grep -E "val|wall|took|best" $OUT/gpt_shakespeare.log | tail -6
./train_gpu -m longhorn --log $OUT/longhorn.csv > /tmp/longhorn.log 2>&1; echo "longhorn default rc $?"; grep -E "val|wall|took|best" /tmp/longhorn.log | tail -6; grep -E "^step (1|5000)/" /tmp/longhorn.log | head -3
