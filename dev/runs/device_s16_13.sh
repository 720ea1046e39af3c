#!/usr/bin/env bash
# session 16, call 13 (review commit): the row attention backward's row dots in the caller's scratch; test_gpu
set -u
export STB_INCLUDE=$PWD/.stb
nvidia-smi --query-gpu=name --format=csv,noheader
make -s -j16 test_gpu.out train_gpu STB_INCLUDE=$STB_INCLUDE >/tmp/build.log 2>&1 || { tail -30 /tmp/build.log; exit 1; }
timeout 300 ./test_gpu.out > $OUT/test_gpu.log 2>&1; echo "test_gpu rc $?"; grep -E "FAIL" $OUT/test_gpu.log | head; grep -E "rows (fp32|bf16).*(learned|hard_alibi)|graph vs eager, params" $OUT/test_gpu.log | head -12; tail -1 $OUT/test_gpu.log
