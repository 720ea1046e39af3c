#!/usr/bin/env bash
# session 18, call 4: the attention forward rescales O and l only when a row maximum rises by more
# than 2^8 (warp-uniform). test_gpu (new); bench_attn_cuda new / prev (HEAD) x3; GPT (b) new / prev x3
set -u
. dev/runs/ab.sh
nvidia-smi --query-gpu=name --format=csv,noheader
(build . 6 train_gpu test_gpu.out dev/bench/bench_attn_cuda; echo ok > /tmp/b_new) &
(build .prev 6 train_gpu dev/bench/bench_attn_cuda; echo ok > /tmp/b_prev) &
wait
ls /tmp/b_new /tmp/b_prev || exit 1
timeout 200 ./test_gpu.out > $OUT/test_gpu.log 2>&1; echo "test_gpu rc $?"; grep -E "FAIL" $OUT/test_gpu.log | head; grep -iE "attention" $OUT/test_gpu.log | head -30; tail -1 $OUT/test_gpu.log
for i in 1 2 3; do for t in . .prev; do echo "== $t $i"; $t/dev/bench/bench_attn_cuda | grep -E "^\| ours (forward|backward \(all)"; done; done
G="-m gpt -L 12 -H 12 -C 768 -b 16 -t 1024 --dropout 0 --attn_dropout 0 --embd_dropout 0"
ab_model 3 "$G" . .prev
ab_model 1 "-m llama -L 12 -H 12 -C 768 -b 16 -t 1024 --dropout 0 --attn_dropout 0 --embd_dropout 0" . .prev
