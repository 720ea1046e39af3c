#!/usr/bin/env bash
# session 15, call 13 (issues 4, 6): the embedding backward split over position spans (a frequent
# token summed by many blocks, spans added in order); test_gpu; GPT (b) against .prev; a profile
set -u
export STB_INCLUDE=$PWD/.stb
nvidia-smi --query-gpu=name --format=csv,noheader
(make -s -j10 train_gpu test_gpu.out STB_INCLUDE=$STB_INCLUDE >/tmp/build.log 2>&1; echo $? > /tmp/build.rc) &
(cd .prev && make -s -j6 train_gpu STB_INCLUDE=$STB_INCLUDE) >/tmp/build_prev.log 2>&1 || { tail -30 /tmp/build_prev.log; exit 1; }
wait; [ "$(cat /tmp/build.rc)" = 0 ] || { tail -30 /tmp/build.log; exit 1; }
timeout 300 ./test_gpu.out > $OUT/test_gpu.log 2>&1; echo "test_gpu rc $?"; grep -E "FAIL" $OUT/test_gpu.log | head; grep -E "encoder|graph|bits" $OUT/test_gpu.log | head; tail -1 $OUT/test_gpu.log
med() { grep -E '^step ([12][0-9]|30)/' $1 | sed -E 's/.*\| ([0-9.]+) ms.*/\1/' | sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
B="-b 16 -t 1024 -n 30 --eval_every 0 --sample_len 0 -L 12 -H 12 -C 768 --dropout 0 --attn_dropout 0 --embd_dropout 0"
for i in 1 2; do
  ./train_gpu -m gpt $B > $OUT/b_new$i.log 2>&1; echo "b new $i: median ms $(med $OUT/b_new$i.log) | $(grep '^step 30/' $OUT/b_new$i.log)"
  .prev/train_gpu -m gpt $B > /tmp/b_prev$i.log 2>&1; echo "b prev $i: median ms $(med /tmp/b_prev$i.log) | $(grep '^step 30/' /tmp/b_prev$i.log)"
done
timeout 200 dev/bench/profile_gpu -L 12 -H 12 -C 768 -b 16 -t 1024 --dropout 0 --attn_dropout 0 --embd_dropout 0 > $OUT/profile_b.txt 2>&1; echo "profile rc $?"; grep -E "encoder|bias_grad_reduce|total" $OUT/profile_b.txt
