#!/usr/bin/env bash
# session 15, call 17 (review, no behaviour change intended): the tile products' synchronous forms
# built from the issue/wait ones, the forward's rescale skip removed, whole-tile loads through
# cp_async16; test_gpu; bench_attn and GPT (b) against .prev (68820b5); torch_attn.py with the shared timer
set -u
export STB_INCLUDE=$PWD/.stb PYTHONUNBUFFERED=1
nvidia-smi --query-gpu=name --format=csv,noheader
(make -s -j10 cuda STB_INCLUDE=$STB_INCLUDE >/tmp/build.log 2>&1; echo $? > /tmp/build.rc) &
(cd .prev && make -s -j6 train_gpu dev/bench/bench_attn_cuda STB_INCLUDE=$STB_INCLUDE) >/tmp/build_prev.log 2>&1 || { tail -30 /tmp/build_prev.log; exit 1; }
wait; [ "$(cat /tmp/build.rc)" = 0 ] || { tail -30 /tmp/build.log; exit 1; }
timeout 300 ./test_gpu.out > $OUT/test_gpu.log 2>&1; echo "test_gpu rc $?"; grep -E "FAIL" $OUT/test_gpu.log | head; grep -E "attention_backward tiled.*learned|gpt bf16: graph" $OUT/test_gpu.log; tail -1 $OUT/test_gpu.log
for i in 1 2; do
  echo "== new $i"; dev/bench/bench_attn_cuda | grep -E "^\| ours (forward|backward)"
  echo "== prev $i"; .prev/dev/bench/bench_attn_cuda | grep -E "^\| ours (forward|backward)"
done
python3 dev/bench/torch_attn.py 2>&1 | grep -E "default|Error"
med() { grep -E '^step ([12][0-9]|30)/' $1 | sed -E 's/.*\| ([0-9.]+) ms.*/\1/' | sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
B="-b 16 -t 1024 -n 30 --eval_every 0 --sample_len 0 -L 12 -H 12 -C 768 --dropout 0 --attn_dropout 0 --embd_dropout 0"
./train_gpu -m gpt $B > /tmp/bn.log 2>&1; echo "b new: median ms $(med /tmp/bn.log) | $(grep '^step 30/' /tmp/bn.log)"
.prev/train_gpu -m gpt $B > /tmp/bp.log 2>&1; echo "b prev: median ms $(med /tmp/bp.log) | $(grep '^step 30/' /tmp/bp.log)"
