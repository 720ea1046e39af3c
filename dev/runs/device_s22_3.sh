#!/usr/bin/env bash
# session 22, call 3 (H100): make test_gpu on session 22's final code (after A = -exp(A_log) moved to a scratch slot in the CPU SSM reference)
set -u
. dev/runs/ab.sh
nvidia-smi --query-gpu=name --format=csv,noheader
build . 16 train_gpu test_gpu.out
timeout 300 ./test_gpu.out > $OUT/test_gpu.log 2>&1; echo "test_gpu rc $?"; grep -E "FAIL" $OUT/test_gpu.log | head; tail -1 $OUT/test_gpu.log
