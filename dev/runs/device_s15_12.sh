#!/usr/bin/env bash
# session 15, call 12 (issue 4): the session's final build: test_gpu, the GPT benchmark (configs a and b,
# ours vs PyTorch eager and torch.compile) and the default Shakespeare GPT run
set -u
export STB_INCLUDE=$PWD/.stb PYTHONUNBUFFERED=1
nvidia-smi --query-gpu=name --format=csv,noheader
make -s -j16 cuda STB_INCLUDE=$STB_INCLUDE >/tmp/build.log 2>&1 || { tail -30 /tmp/build.log; exit 1; }
timeout 300 ./test_gpu.out > $OUT/test_gpu.log 2>&1; echo "test_gpu rc $?"; grep -E "FAIL" $OUT/test_gpu.log | head; tail -1 $OUT/test_gpu.log
dev/bench/bench_gpu --configs a,b --steps 50 --no-build 2>&1 | tee $OUT/bench_gpu.txt | grep -E "^\||^###|GPU:"
./train_gpu -m gpt --log $OUT/gpt_shakespeare.csv > $OUT/gpt_shakespeare.log 2>&1; echo "gpt default: rc $?"; grep -E "final val|best|^step 5000/" $OUT/gpt_shakespeare.log
