#!/usr/bin/env bash
# session 21, call 5 (HEAD, H100): make test_gpu on the final code (the CPU reference's matmul
# changed: dynamic schedule, K blocks); whole models mamba, longhorn 24x768 and GPT (b), twice
set -u
. dev/runs/ab.sh
nvidia-smi --query-gpu=name --format=csv,noheader
build . 16 train_gpu test_gpu.out
timeout 300 ./test_gpu.out > $OUT/test_gpu.log 2>&1; echo "test_gpu rc $?"; grep -E "FAIL" $OUT/test_gpu.log | head; tail -1 $OUT/test_gpu.log
for M in "-m mamba -L 24 -C 768 -b 16 -t 1024" "-m longhorn -L 24 -C 768 -b 16 -t 1024" "-m gpt -L 12 -H 12 -C 768 -b 16 -t 1024 --dropout 0 --attn_dropout 0 --embd_dropout 0"; do
  ab_model 2 "$M" .
done
