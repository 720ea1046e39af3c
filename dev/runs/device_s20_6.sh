#!/usr/bin/env bash
# session 20, call 6: which of bf16 dg (in) and bf16 dxc (out) slowed the scan backward: bench_scan
# of the working tree (both bf16), .prev (both fp32), and two mixed copies made by
# dev/runs/s20_scan_types.py (dg fp32 / dxc fp32), alternating
set -u
. dev/runs/ab.sh
nvidia-smi --query-gpu=name --format=csv,noheader
for v in dg:1:0 dxc:0:1; do
    n=${v%%:*}; r=${v#*:}; mkdir -p /tmp/v_$n/dev/bench /tmp/v_$n/data
    cp Makefile seqmodels.h kernels.cuh plot.h train_gpu.cu /tmp/v_$n/; cp data/*.h /tmp/v_$n/data/
    cp dev/bench/bench_scan.cu dev/bench/bench_util.cuh /tmp/v_$n/dev/bench/
    python3 dev/runs/s20_scan_types.py /tmp/v_$n ${r%%:*} ${r#*:} || exit 1
done
(build . 4 dev/bench/bench_scan_cuda; echo ok > /tmp/b1) & (build .prev 4 dev/bench/bench_scan_cuda; echo ok > /tmp/b2) &
(build /tmp/v_dg 4 dev/bench/bench_scan_cuda; echo ok > /tmp/b3) & (build /tmp/v_dxc 4 dev/bench/bench_scan_cuda; echo ok > /tmp/b4) & wait
ls /tmp/b1 /tmp/b2 /tmp/b3 /tmp/b4 || exit 1
for i in 1 2; do for tree in . .prev /tmp/v_dg /tmp/v_dxc; do echo "== $tree $i"; timeout 60 $tree/dev/bench/bench_scan_cuda > /tmp/s.txt 2>&1; grep -E "^\| (mamba|longhorn) " /tmp/s.txt; done; done
