#!/usr/bin/env bash
# session 12, call 9 (issue 6): the scan kernels (bf16 inputs) against PyTorch's chunked scan,
# eager and torch.compile, same GPU, same run
set -u
export STB_INCLUDE=$PWD/.stb
nvidia-smi --query-gpu=name --format=csv,noheader
make -s -j16 dev/bench/bench_scan_cuda STB_INCLUDE=$STB_INCLUDE >/tmp/build.log 2>&1 || { tail -20 /tmp/build.log; exit 1; }
timeout 520 dev/bench/bench_scan > $OUT/bench_scan.log 2>&1; echo "bench_scan rc $?"; cat $OUT/bench_scan.log
