#!/usr/bin/env bash
# session 18, call 6: a Transformer's training step writes every gradient (grad_set) instead of
# clearing the 344 MB buffer first. test_gpu (new, with the NaN-filled check); GPT (b) and llama (b)
# new / prev (HEAD d7e0972) alternating
set -u
. dev/runs/ab.sh
nvidia-smi --query-gpu=name --format=csv,noheader
(build . 6 train_gpu test_gpu.out; echo ok > /tmp/b_new) &
(build .prev 6 train_gpu; echo ok > /tmp/b_prev) &
wait
ls /tmp/b_new /tmp/b_prev || exit 1
timeout 200 ./test_gpu.out > $OUT/test_gpu.log 2>&1; echo "test_gpu rc $?"; grep -E "FAIL|every gradient set|train_step" $OUT/test_gpu.log | head -20; tail -1 $OUT/test_gpu.log
G="-m gpt -L 12 -H 12 -C 768 -b 16 -t 1024 --dropout 0 --attn_dropout 0 --embd_dropout 0"
ab_model 3 "$G" . .prev
ab_model 2 "-m llama -L 12 -H 12 -C 768 -b 16 -t 1024 --dropout 0 --attn_dropout 0 --embd_dropout 0" . .prev
