#!/usr/bin/env bash
# session 16, call 4: every bf16 matmul through lt_matmul (the heuristic's candidates timed once per
# shape, only those with the first candidate's bits). test_gpu; GPT (b) verbose (the per-shape
# table), then alternating with .prev (3ab8235): same losses expected; llama (b), mamba 24x768, (a)
set -u
export STB_INCLUDE=$PWD/.stb PYTHONUNBUFFERED=1
nvidia-smi --query-gpu=name --format=csv,noheader
(make -s -j10 cuda STB_INCLUDE=$STB_INCLUDE >/tmp/build.log 2>&1; echo $? > /tmp/build.rc) &
(cd .prev && make -s -j6 train_gpu STB_INCLUDE=$STB_INCLUDE) >/tmp/build_prev.log 2>&1 || { tail -30 /tmp/build_prev.log; exit 1; }
wait; [ "$(cat /tmp/build.rc)" = 0 ] || { tail -30 /tmp/build.log; exit 1; }
med() { grep -E '^step ([12][0-9]|30)/' $1 | sed -E 's/.*\| ([0-9.]+) ms.*/\1/' | sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
B="-b 16 -t 1024 -n 30 --eval_every 0 --sample_len 0 -L 12 -H 12 -C 768 --dropout 0 --attn_dropout 0 --embd_dropout 0"
A="-b 64 -t 256 -n 30 --eval_every 0 --sample_len 0 -L 6 -H 6 -C 384 --dropout 0 --attn_dropout 0 --embd_dropout 0"
SEQM_LT_VERBOSE=1 ./train_gpu -m gpt $B > $OUT/b_verbose.log 2>&1; echo "b new (verbose): median ms $(med $OUT/b_verbose.log) | $(grep '^step 30/' $OUT/b_verbose.log)"; grep "^matmul" $OUT/b_verbose.log
for i in 1 2; do
  .prev/train_gpu -m gpt $B > /tmp/bp.log 2>&1; echo "b prev: median ms $(med /tmp/bp.log) | $(grep '^step 30/' /tmp/bp.log)"
  ./train_gpu -m gpt $B > /tmp/bn.log 2>&1; echo "b new: median ms $(med /tmp/bn.log) | $(grep '^step 30/' /tmp/bn.log)"
done
SEQM_LT_TUNE=0 ./train_gpu -m gpt $B > /tmp/b0.log 2>&1; echo "b new, LT_TUNE=0: median ms $(med /tmp/b0.log) | $(grep '^step 30/' /tmp/b0.log)"
.prev/train_gpu -m llama $B > /tmp/lp.log 2>&1; echo "llama prev: median ms $(med /tmp/lp.log) | $(grep '^step 30/' /tmp/lp.log)"
./train_gpu -m llama $B > /tmp/ln.log 2>&1; echo "llama new: median ms $(med /tmp/ln.log) | $(grep '^step 30/' /tmp/ln.log)"
M="-m mamba -L 24 -C 768 -b 16 -t 1024 -n 30 --eval_every 0 --sample_len 0"
.prev/train_gpu $M > /tmp/mp.log 2>&1; echo "mamba prev: median ms $(med /tmp/mp.log) | $(grep '^step 30/' /tmp/mp.log)"
SEQM_LT_VERBOSE=1 ./train_gpu $M > $OUT/mamba_verbose.log 2>&1; echo "mamba new: median ms $(med $OUT/mamba_verbose.log) | $(grep '^step 30/' $OUT/mamba_verbose.log)"; grep "^matmul" $OUT/mamba_verbose.log
.prev/train_gpu -m gpt $A > /tmp/ap.log 2>&1; echo "a prev: median ms $(med /tmp/ap.log) | $(grep '^step 30/' /tmp/ap.log)"
./train_gpu -m gpt $A > /tmp/an.log 2>&1; echo "a new: median ms $(med /tmp/an.log) | $(grep '^step 30/' /tmp/an.log) | $(grep -i 'startup\|init' /tmp/an.log | head -2)"
timeout 400 ./test_gpu.out > $OUT/test_gpu.log 2>&1; echo "test_gpu rc $?"; grep -E "FAIL" $OUT/test_gpu.log | head; grep -E "graph vs eager" $OUT/test_gpu.log; tail -1 $OUT/test_gpu.log
