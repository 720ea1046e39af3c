#!/usr/bin/env bash
# session 16, call 11: the fp32 row attention backward without atomics. test_gpu twice (the graph vs
# eager checks now exact); --fp32 GPT (a) speed against .base (HEAD~1), same losses not expected
set -u
export STB_INCLUDE=$PWD/.stb PYTHONUNBUFFERED=1
nvidia-smi --query-gpu=name --format=csv,noheader
(make -s -j10 train_gpu test_gpu.out STB_INCLUDE=$STB_INCLUDE >/tmp/build.log 2>&1; echo $? > /tmp/build.rc) &
(cd .base && make -s -j6 train_gpu STB_INCLUDE=$STB_INCLUDE) >/tmp/build_base.log 2>&1 || { tail -30 /tmp/build_base.log; exit 1; }
wait; [ "$(cat /tmp/build.rc)" = 0 ] || { tail -30 /tmp/build.log; exit 1; }
for i in 1 2; do
  timeout 400 ./test_gpu.out > $OUT/test_gpu$i.log 2>&1; echo "test_gpu $i rc $?"; grep -E "FAIL" $OUT/test_gpu$i.log | head; grep -E "graph vs eager|rows fp32.*same bits" $OUT/test_gpu$i.log | head -14; tail -1 $OUT/test_gpu$i.log
done
med() { grep -E '^step ([12][0-9]|30)/' $1 | sed -E 's/.*\| ([0-9.]+) ms.*/\1/' | sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
A="-b 64 -t 256 -n 30 --eval_every 0 --sample_len 0 -L 6 -H 6 -C 384 --dropout 0 --attn_dropout 0 --embd_dropout 0 --fp32"
.base/train_gpu -m gpt $A > /tmp/ab.log 2>&1; echo "a fp32 base: median ms $(med /tmp/ab.log) | $(grep '^step 30/' /tmp/ab.log)"
./train_gpu -m gpt $A > /tmp/an.log 2>&1; echo "a fp32 new: median ms $(med /tmp/an.log) | $(grep '^step 30/' /tmp/an.log)"
./train_gpu -m gpt $A > /tmp/an2.log 2>&1; echo "a fp32 new again: $(grep '^step 30/' /tmp/an2.log)"
