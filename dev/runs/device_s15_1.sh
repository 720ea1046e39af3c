#!/usr/bin/env bash
# session 15, call 1 (issue 4): the tiled attention kernels on wgmma (sm_90a) with 128-byte swizzled
# shared tiles; test_gpu, the attention backward bench and whole GPT (b) against .base (commit 4730270)
set -u
export STB_INCLUDE=$PWD/.stb
nvidia-smi --query-gpu=name --format=csv,noheader
(make -s -j12 cuda STB_INCLUDE=$STB_INCLUDE >/tmp/build.log 2>&1; echo $? > /tmp/build.rc) &
(cd .base && make -s -j4 train_gpu dev/bench/attn_bwd_atomic STB_INCLUDE=$STB_INCLUDE) >/tmp/build_base.log 2>&1 || { tail -30 /tmp/build_base.log; exit 1; }
wait; [ "$(cat /tmp/build.rc)" = 0 ] || { tail -30 /tmp/build.log; exit 1; }
timeout 300 ./test_gpu.out > $OUT/test_gpu.log 2>&1; echo "test_gpu rc $?"; grep -E "FAIL" $OUT/test_gpu.log | head; grep -E "attention_(forward|backward) tiled|model bf16 gpt" $OUT/test_gpu.log | head -30; tail -1 $OUT/test_gpu.log
timeout 120 dev/bench/attn_bwd_atomic > $OUT/attn_new.txt 2>&1; echo "attn new rc $?"; tail -6 $OUT/attn_new.txt
timeout 120 .base/dev/bench/attn_bwd_atomic > $OUT/attn_old.txt 2>&1; echo "attn old rc $?"; tail -4 $OUT/attn_old.txt
B="-b 16 -t 1024 -n 30 --eval_every 0 --sample_len 0 -L 12 -H 12 -C 768 --dropout 0 --attn_dropout 0 --embd_dropout 0"
med() { grep -E '^step ([12][0-9]|30)/' $1 | sed -E 's/.*\| ([0-9.]+) ms.*/\1/' | sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
for i in 1 2; do
  ./train_gpu -m gpt $B > $OUT/b_new$i.log 2>&1; echo "new $i: median ms $(med $OUT/b_new$i.log) | $(grep '^step 30/' $OUT/b_new$i.log)"
  .base/train_gpu -m gpt $B > /tmp/b_old$i.log 2>&1; echo "old $i: median ms $(med /tmp/b_old$i.log) | $(grep '^step 30/' /tmp/b_old$i.log)"
done
timeout 240 dev/bench/profile_gpu -L 12 -H 12 -C 768 -b 16 -t 1024 --dropout 0 --attn_dropout 0 --embd_dropout 0 > $OUT/profile_b.txt 2>&1; echo "profile rc $?"; head -20 $OUT/profile_b.txt
