#!/usr/bin/env bash
# session 20, call 5: bench_scan (scan forward, forward+backward, conv) with bf16 dg/dxc against
# the build before (HEAD .prev: fp32 dg/dxc), alternating on one GPU
set -u
. dev/runs/ab.sh
nvidia-smi --query-gpu=name --format=csv,noheader
(build . 8 dev/bench/bench_scan_cuda; echo ok > /tmp/b_new) &
(build .prev 8 dev/bench/bench_scan_cuda; echo ok > /tmp/b_prev) &
wait
ls /tmp/b_new /tmp/b_prev || exit 1
for i in 1 2 3; do for tree in . .prev; do echo "== $tree $i"; timeout 60 $tree/dev/bench/bench_scan_cuda > /tmp/s.txt 2>&1; grep -E "^\| (mamba|longhorn) |^conv1d" /tmp/s.txt; done; done
