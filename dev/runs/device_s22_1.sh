#!/usr/bin/env bash
# session 22, call 1 (H100): make test_gpu on session 22's code (the CPU reference changed: the
# matmul's GELU-gradient prefetch, thread-local scratch, model_backward_scaled), and the headline
# command's default run (`./train_gpu -m longhorn`, Shakespeare), its tail
set -u
. dev/runs/ab.sh
nvidia-smi --query-gpu=name --format=csv,noheader
build . 16 train_gpu test_gpu.out
timeout 300 ./test_gpu.out > $OUT/test_gpu.log 2>&1; echo "test_gpu rc $?"; grep -E "FAIL" $OUT/test_gpu.log | head; tail -1 $OUT/test_gpu.log
timeout 200 ./train_gpu -m longhorn > $OUT/longhorn_default.log 2>&1; echo "longhorn rc $?"; grep -E "best|final val" $OUT/longhorn_default.log
