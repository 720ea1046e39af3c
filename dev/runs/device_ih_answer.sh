#!/usr/bin/env bash
# IH diagnostic: the seq_icl IH runs of gpt and mamba with the loss on the answer only
# (--answer_loss), 24 epochs (15,000 steps) each, to see whether they learn the task that way.
set -u
make -s -j16 train_gpu STB_INCLUDE=$PWD/.stb >/tmp/build.log 2>&1 || { tail -30 /tmp/build.log; exit 1; }
F="-d induction -b 8 -n 15000 --lr 5e-4 --wd 0.1 --beta2 0.999 --warmup 1500 --min_lr 5e-5 --eval_every 1500 --sample_len 0 --answer_loss"
./train_gpu -m gpt -L 8 -C 128 -H 2 --dropout 0 --embd_dropout 0.1 --attn_dropout 0.1 $F > $OUT/ih_answer_gpt.log 2>&1
./train_gpu -m mamba -L 4 -C 128 --d_state 16 $F > $OUT/ih_answer_mamba.log 2>&1
for m in gpt mamba; do echo "$m: $(grep 'test loss' $OUT/ih_answer_$m.log | awk '{print $2":"$NF}' | tr '\n' ' ')"; grep "^final" $OUT/ih_answer_$m.log; done
