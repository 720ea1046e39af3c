#!/usr/bin/env bash
# session 15, call 10 (issue 4): the DGELU matmul (c_proj backward) as a "TN" product on a transposed copy of W;
# test_gpu (its epilogue checks); GPT (b), (a), llama against .prev (the commit of call 9), and a profile
set -u
export STB_INCLUDE=$PWD/.stb PYTHONUNBUFFERED=1
nvidia-smi --query-gpu=name --format=csv,noheader
(make -s -j10 cuda STB_INCLUDE=$STB_INCLUDE >/tmp/build.log 2>&1; echo $? > /tmp/build.rc) &
(cd .prev && make -s -j6 train_gpu STB_INCLUDE=$STB_INCLUDE) >/tmp/build_prev.log 2>&1 || { tail -30 /tmp/build_prev.log; exit 1; }
wait; [ "$(cat /tmp/build.rc)" = 0 ] || { tail -30 /tmp/build.log; exit 1; }
timeout 300 ./test_gpu.out > $OUT/test_gpu.log 2>&1; echo "test_gpu rc $?"; grep -E "FAIL" $OUT/test_gpu.log | head; grep -E "DGELU|epilogue|fused path|model bf16 (gpt|llama).*gradients" $OUT/test_gpu.log | head -40; tail -1 $OUT/test_gpu.log
med() { grep -E '^step ([12][0-9]|30)/' $1 | sed -E 's/.*\| ([0-9.]+) ms.*/\1/' | sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
B="-b 16 -t 1024 -n 30 --eval_every 0 --sample_len 0 -L 12 -H 12 -C 768 --dropout 0 --attn_dropout 0 --embd_dropout 0"
A="-b 64 -t 256 -n 30 --eval_every 0 --sample_len 0 -L 6 -H 6 -C 384 --dropout 0 --attn_dropout 0 --embd_dropout 0"
for i in 1 2; do
  ./train_gpu -m gpt $B > $OUT/b_new$i.log 2>&1; echo "b new $i: median ms $(med $OUT/b_new$i.log) | $(grep '^step 30/' $OUT/b_new$i.log)"
  .prev/train_gpu -m gpt $B > /tmp/b_prev$i.log 2>&1; echo "b prev $i: median ms $(med /tmp/b_prev$i.log) | $(grep '^step 30/' /tmp/b_prev$i.log)"
done
./train_gpu -m gpt $A > /tmp/a_new.log 2>&1; echo "a new: median ms $(med /tmp/a_new.log) | $(grep '^step 30/' /tmp/a_new.log)"
.prev/train_gpu -m gpt $A > /tmp/a_prev.log 2>&1; echo "a prev: median ms $(med /tmp/a_prev.log) | $(grep '^step 30/' /tmp/a_prev.log)"
./train_gpu -m llama -L 12 -H 12 -C 768 -b 16 -t 1024 -n 30 --eval_every 0 --sample_len 0 > /tmp/l_new.log 2>&1; echo "llama new: median ms $(med /tmp/l_new.log)"
.prev/train_gpu -m llama -L 12 -H 12 -C 768 -b 16 -t 1024 -n 30 --eval_every 0 --sample_len 0 > /tmp/l_prev.log 2>&1; echo "llama prev: median ms $(med /tmp/l_prev.log)"
timeout 200 dev/bench/profile_gpu -L 12 -H 12 -C 768 -b 16 -t 1024 --dropout 0 --attn_dropout 0 --embd_dropout 0 > $OUT/profile_b.txt 2>&1; echo "profile rc $?"; head -12 $OUT/profile_b.txt; grep -E "total|transpose" $OUT/profile_b.txt
