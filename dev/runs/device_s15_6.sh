#!/usr/bin/env bash
# session 15, call 6 (issue 4): no row-dot pass in the attention backward (the attention projection's
# backward writes dO in bf16; the dQ kernel runs first and computes D from the bf16 dO and O tiles);
# test_gpu; attn_bwd_atomic (its accuracy table); bench_attn and GPT (b) against .prev (call 5's commit)
set -u
export STB_INCLUDE=$PWD/.stb PYTHONUNBUFFERED=1
nvidia-smi --query-gpu=name --format=csv,noheader
(make -s -j10 cuda STB_INCLUDE=$STB_INCLUDE >/tmp/build.log 2>&1; echo $? > /tmp/build.rc) &
(cd .prev && make -s -j6 train_gpu dev/bench/bench_attn_cuda STB_INCLUDE=$STB_INCLUDE) >/tmp/build_prev.log 2>&1 || { tail -30 /tmp/build_prev.log; exit 1; }
wait; [ "$(cat /tmp/build.rc)" = 0 ] || { tail -30 /tmp/build.log; exit 1; }
timeout 300 ./test_gpu.out > $OUT/test_gpu.log 2>&1; echo "test_gpu rc $?"; grep -E "FAIL" $OUT/test_gpu.log | head; grep -E "attention_(forward|backward) |model bf16 gpt.*gradients|graph" $OUT/test_gpu.log | head -40; tail -1 $OUT/test_gpu.log
timeout 120 dev/bench/attn_bwd_atomic > $OUT/attn_bwd_atomic.txt 2>&1; echo "attn_bwd_atomic rc $?"; grep -E "^(ok|FAIL)" $OUT/attn_bwd_atomic.txt | head -4; tail -8 $OUT/attn_bwd_atomic.txt
for i in 1 2; do
  echo "== new $i"; dev/bench/bench_attn_cuda | tee -a $OUT/bench_attn.txt | grep -E "^\| "
  echo "== prev $i"; .prev/dev/bench/bench_attn_cuda | tee -a $OUT/bench_attn_prev.txt | grep -E "^\| "
done
B="-b 16 -t 1024 -n 30 --eval_every 0 --sample_len 0 -L 12 -H 12 -C 768 --dropout 0 --attn_dropout 0 --embd_dropout 0"
med() { grep -E '^step ([12][0-9]|30)/' $1 | sed -E 's/.*\| ([0-9.]+) ms.*/\1/' | sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
for i in 1 2; do
  ./train_gpu -m gpt $B > $OUT/b_new$i.log 2>&1; echo "new $i: median ms $(med $OUT/b_new$i.log) | $(grep '^step 30/' $OUT/b_new$i.log)"
  .prev/train_gpu -m gpt $B > /tmp/b_prev$i.log 2>&1; echo "prev $i: median ms $(med /tmp/b_prev$i.log) | $(grep '^step 30/' /tmp/b_prev$i.log)"
done
