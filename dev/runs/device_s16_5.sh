#!/usr/bin/env bash
# session 16, call 5 (same H100 as call 4): lt_matmul timing in interleaved rounds; GPT (b), (a) and
# mamba against .prev (3ab8235), alternating, 60 steps, median of 11..60
set -u
export STB_INCLUDE=$PWD/.stb PYTHONUNBUFFERED=1
nvidia-smi --query-gpu=name --format=csv,noheader
make -s -j16 train_gpu STB_INCLUDE=$STB_INCLUDE >/tmp/build.log 2>&1 || { tail -30 /tmp/build.log; exit 1; }
[ -x .prev/train_gpu ] || (cd .prev && make -s -j16 train_gpu STB_INCLUDE=$STB_INCLUDE) >/tmp/build_prev.log 2>&1
med() { grep -E '^step ([1-5][0-9]|60)/' $1 | sed -E 's/.*\| ([0-9.]+) ms.*/\1/' | sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
B="-b 16 -t 1024 -n 60 --eval_every 0 --sample_len 0 -L 12 -H 12 -C 768 --dropout 0 --attn_dropout 0 --embd_dropout 0"
A="-b 64 -t 256 -n 60 --eval_every 0 --sample_len 0 -L 6 -H 6 -C 384 --dropout 0 --attn_dropout 0 --embd_dropout 0"
SEQM_LT_VERBOSE=1 ./train_gpu -m gpt $B > $OUT/b_verbose.log 2>&1; echo "b new (verbose): median ms $(med $OUT/b_verbose.log) | $(grep '^step 60/' $OUT/b_verbose.log)"; grep "^matmul" $OUT/b_verbose.log | grep -v "n 12288"
for i in 1 2 3; do
  .prev/train_gpu -m gpt $B > /tmp/bp.log 2>&1; echo "b prev: median ms $(med /tmp/bp.log) | $(grep '^step 60/' /tmp/bp.log)"
  ./train_gpu -m gpt $B > /tmp/bn.log 2>&1; echo "b new: median ms $(med /tmp/bn.log) | $(grep '^step 60/' /tmp/bn.log)"
done
SEQM_LT_VERBOSE=1 ./train_gpu -m gpt $A > $OUT/a_verbose.log 2>&1; grep "^matmul" $OUT/a_verbose.log | grep -v "n 12288"
for i in 1 2 3; do
  .prev/train_gpu -m gpt $A > /tmp/ap.log 2>&1; echo "a prev: median ms $(med /tmp/ap.log) | $(grep '^step 60/' /tmp/ap.log)"
  ./train_gpu -m gpt $A > /tmp/an.log 2>&1; echo "a new: median ms $(med /tmp/an.log) | $(grep '^step 60/' /tmp/an.log)"
done
M="-m mamba -L 24 -C 768 -b 16 -t 1024 -n 60 --eval_every 0 --sample_len 0"
.prev/train_gpu $M > /tmp/mp.log 2>&1; echo "mamba prev: median ms $(med /tmp/mp.log) | $(grep '^step 60/' /tmp/mp.log)"
./train_gpu $M > /tmp/mn.log 2>&1; echo "mamba new: median ms $(med /tmp/mn.log) | $(grep '^step 60/' /tmp/mn.log)"
