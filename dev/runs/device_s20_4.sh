#!/usr/bin/env bash
# session 20, call 4: mamba/longhorn's gradients between the matmuls, the conv and the scan in
# bf16 (dg, dxc; were fp32). test_gpu (scan, conv, whole models vs CPU); bench_scan; mamba and
# longhorn 24x768 B16 T1024, new / prev (HEAD before the change) alternating
set -u
. dev/runs/ab.sh
nvidia-smi --query-gpu=name --format=csv,noheader
(build . 8 train_gpu test_gpu.out dev/bench/bench_scan_cuda; echo ok > /tmp/b_new) &
(build .prev 8 train_gpu; echo ok > /tmp/b_prev) &
wait
ls /tmp/b_new /tmp/b_prev || exit 1
timeout 240 ./test_gpu.out > $OUT/test_gpu.log 2>&1; echo "test_gpu rc $?"; grep -E "FAIL" $OUT/test_gpu.log | head -20; grep -E "conv1d|scan_backward .*dxc|mamba|longhorn" $OUT/test_gpu.log | head -40; tail -1 $OUT/test_gpu.log
timeout 60 dev/bench/bench_scan_cuda > $OUT/bench_scan.txt 2>&1; grep -E "^\| (mamba|longhorn)|conv1d" $OUT/bench_scan.txt
M="-m mamba -L 24 -C 768 -b 16 -t 1024"
ab_model 2 "$M" . .prev
ab_model 1 "-m longhorn -L 24 -C 768 -b 16 -t 1024" . .prev
