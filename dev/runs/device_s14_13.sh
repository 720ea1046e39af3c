#!/usr/bin/env bash
# session 14, call 13 (issue 4): the GPT benchmark on this session's kernels, on an H100 (the
# README's table is session 11's H200): ours vs PyTorch eager and torch.compile, configs a and b
set -u
export STB_INCLUDE=$PWD/.stb PYTHONUNBUFFERED=1
nvidia-smi --query-gpu=name --format=csv,noheader
make -s -j16 train_gpu STB_INCLUDE=$STB_INCLUDE >/tmp/build.log 2>&1 || { tail -30 /tmp/build.log; exit 1; }
dev/bench/bench_gpu --configs a,b --steps 50 --no-build 2>&1 | tee $OUT/bench_gpu.txt | tail -30
