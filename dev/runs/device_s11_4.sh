#!/usr/bin/env bash
# session 11, call 4: one-layer gradient buffer with bf16 qkv/fch gradients (LAYOUT_GRADS), GELU
# epilogues, fch_act recomputed: test_gpu, bench_gpu a,b with torch in the same run, Shakespeare default run
set -u
export STB_INCLUDE=$PWD/.stb
nvidia-smi --query-gpu=name --format=csv,noheader
make -s -j8 cuda STB_INCLUDE=$STB_INCLUDE >/tmp/build.log 2>&1 || { tail -30 /tmp/build.log; exit 1; }
./test_gpu.out > $OUT/test_gpu.log 2>&1; echo "test_gpu rc $?"; grep -v "^ok" $OUT/test_gpu.log | tail -6
grep "model bf16 gpt\|model bf16 llama\|graph" $OUT/test_gpu.log | grep -v logits
dev/bench/bench_gpu --configs a,b --steps 50 --no-build > $OUT/bench_gpu.txt 2>&1; echo "bench rc $?"
grep "^|" $OUT/bench_gpu.txt
./train_gpu -m gpt > $OUT/gpt_shakespeare.log 2>&1; echo "shakespeare rc $?"; grep -i "best\|val" $OUT/gpt_shakespeare.log | tail -3; tail -3 $OUT/gpt_shakespeare.log
