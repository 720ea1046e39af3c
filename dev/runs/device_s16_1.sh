#!/usr/bin/env bash
# session 16, call 1: the weight-gradient matmuls on a side stream. test_gpu; GPT (b), llama (b)
# and GPT (a) against .prev (3ab8235) alternating, same losses expected; bench_dgelu (every
# cuBLASLt candidate for the DGELU matmul)
set -u
export STB_INCLUDE=$PWD/.stb PYTHONUNBUFFERED=1
nvidia-smi --query-gpu=name --format=csv,noheader
(make -s -j10 cuda STB_INCLUDE=$STB_INCLUDE >/tmp/build.log 2>&1; echo $? > /tmp/build.rc) &
(cd .prev && make -s -j6 train_gpu STB_INCLUDE=$STB_INCLUDE) >/tmp/build_prev.log 2>&1 || { tail -30 /tmp/build_prev.log; exit 1; }
wait; [ "$(cat /tmp/build.rc)" = 0 ] || { tail -30 /tmp/build.log; exit 1; }
timeout 300 ./test_gpu.out > $OUT/test_gpu.log 2>&1; echo "test_gpu rc $?"; grep -E "FAIL" $OUT/test_gpu.log | head; grep -E "graph vs eager" $OUT/test_gpu.log; tail -1 $OUT/test_gpu.log
med() { grep -E '^step ([12][0-9]|30)/' $1 | sed -E 's/.*\| ([0-9.]+) ms.*/\1/' | sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
B="-b 16 -t 1024 -n 30 --eval_every 0 --sample_len 0 -L 12 -H 12 -C 768 --dropout 0 --attn_dropout 0 --embd_dropout 0"
A="-b 64 -t 256 -n 60 --eval_every 0 --sample_len 0 -L 6 -H 6 -C 384 --dropout 0 --attn_dropout 0 --embd_dropout 0"
for i in 1 2 3; do
  ./train_gpu -m gpt $B > /tmp/bn.log 2>&1; echo "b new: median ms $(med /tmp/bn.log) | $(grep '^step 30/' /tmp/bn.log)"
  .prev/train_gpu -m gpt $B > /tmp/bp.log 2>&1; echo "b prev: median ms $(med /tmp/bp.log) | $(grep '^step 30/' /tmp/bp.log)"
done
./train_gpu -m llama $B > /tmp/ln.log 2>&1; echo "llama new: median ms $(med /tmp/ln.log) | $(grep '^step 30/' /tmp/ln.log)"
.prev/train_gpu -m llama $B > /tmp/lp.log 2>&1; echo "llama prev: median ms $(med /tmp/lp.log) | $(grep '^step 30/' /tmp/lp.log)"
./train_gpu -m gpt $A > /tmp/an.log 2>&1; echo "a new: median ms $(med /tmp/an.log) | $(grep '^step 60/' /tmp/an.log)"
.prev/train_gpu -m gpt $A > /tmp/ap.log 2>&1; echo "a prev: median ms $(med /tmp/ap.log) | $(grep '^step 60/' /tmp/ap.log)"
./train_gpu -m gpt $A --dropout 0.2 -n 30 > /tmp/dn.log 2>&1; echo "a drop new: $(grep '^step 30/' /tmp/dn.log)"
.prev/train_gpu -m gpt $A --dropout 0.2 -n 30 > /tmp/dp.log 2>&1; echo "a drop prev: $(grep '^step 30/' /tmp/dp.log)"
dev/bench/bench_dgelu > $OUT/bench_dgelu.txt 2>&1; cat $OUT/bench_dgelu.txt
