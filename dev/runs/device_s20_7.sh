#!/usr/bin/env bash
# session 20, call 7: dg staged in sm.dt's bytes (working tree) against the separate dg array
# (.cur = 3bfedf2) and fp32 dg/dxc (.prev = db34919's parent state): test_gpu; bench_scan
# alternating; mamba, longhorn 24x768 and the GPT (b) for the ratio, B16 T1024
set -u
. dev/runs/ab.sh
nvidia-smi --query-gpu=name --format=csv,noheader
(build . 6 train_gpu test_gpu.out dev/bench/bench_scan_cuda; echo ok > /tmp/b1) &
(build .cur 5 train_gpu dev/bench/bench_scan_cuda; echo ok > /tmp/b2) &
(build .prev 5 train_gpu dev/bench/bench_scan_cuda; echo ok > /tmp/b3) & wait
ls /tmp/b1 /tmp/b2 /tmp/b3 || exit 1
timeout 240 ./test_gpu.out > $OUT/test_gpu.log 2>&1; echo "test_gpu rc $?"; grep -E "FAIL" $OUT/test_gpu.log | head; tail -1 $OUT/test_gpu.log
for i in 1 2; do for tree in . .cur .prev; do echo "== $tree $i"; timeout 60 $tree/dev/bench/bench_scan_cuda > /tmp/s.txt 2>&1; grep -E "^\| (mamba|longhorn) " /tmp/s.txt; done; done
cp /tmp/s.txt $OUT/bench_scan_prev.txt
ab_model 2 "-m mamba -L 24 -C 768 -b 16 -t 1024" . .cur .prev
ab_model 1 "-m longhorn -L 24 -C 768 -b 16 -t 1024" . .prev
ab_model 1 "-m gpt -L 12 -H 12 -C 768 -b 16 -t 1024 --dropout 0 --attn_dropout 0 --embd_dropout 0" .
