#!/usr/bin/env bash
# session 10, call 7: the Shakespeare default GPT run (5000 steps, val loss, wall time) and whole
# mamba / longhorn at config (b) size next to gpt (issue 6's ratio)
set -u
export STB_INCLUDE=$PWD/.stb
[ -x ./train_gpu ] || make -s -j8 train_gpu STB_INCLUDE=$STB_INCLUDE >/tmp/build.log 2>&1 || { tail -30 /tmp/build.log; exit 1; }
./train_gpu -m gpt > $OUT/gpt_shakespeare.log 2>&1; echo "shakespeare rc $?"; tail -4 $OUT/gpt_shakespeare.log
B="-b 16 -t 1024 --eval_every 0 --sample_len 0 -n 30"
./train_gpu -m gpt -L 12 -H 12 -C 768 --dropout 0 --attn_dropout 0 --embd_dropout 0 $B > $OUT/b_gpt.log 2>&1; echo "gpt: $(grep '^step 30/' $OUT/b_gpt.log)"
./train_gpu -m mamba -L 24 -C 768 $B > $OUT/b_mamba.log 2>&1; echo "mamba: $(grep '^step 30/' $OUT/b_mamba.log)"
./train_gpu -m longhorn -L 24 -C 768 $B > $OUT/b_longhorn.log 2>&1; echo "longhorn: $(grep '^step 30/' $OUT/b_longhorn.log)"
