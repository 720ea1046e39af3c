#!/usr/bin/env bash
# session 18, call 1: make test_gpu of 4e8873d's kernels (the scan backward's prefetch helper, untested
# on a GPU at the end of session 17); bench_lt_search (every cuBLASLt configuration for the GELU
# epilogue matmuls; residual-branch matmuls fp32 + beta 1 vs bf16); GPT (b) baseline ms/step
set -u
. dev/runs/ab.sh
nvidia-smi --query-gpu=name --format=csv,noheader
build . 10 cuda
timeout 300 ./test_gpu.out > $OUT/test_gpu.log 2>&1; echo "test_gpu rc $?"; grep -E "FAIL" $OUT/test_gpu.log | head; tail -1 $OUT/test_gpu.log
timeout 280 dev/bench/bench_lt_search > $OUT/bench_lt_search.txt 2>&1; echo "bench_lt_search rc $?"
grep -v "^<!--" $OUT/bench_lt_search.txt | head -120
G="-m gpt -L 12 -H 12 -C 768 -b 16 -t 1024 --dropout 0 --attn_dropout 0 --embd_dropout 0"
ab_model 2 "$G" .
