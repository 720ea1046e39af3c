#!/usr/bin/env bash
# session 16, call 10: the scan forward's y halves and D x added in the gate phase (no per-step
# shuffle); test_gpu; bench_scan against .base (HEAD~1) alternating; whole mamba and longhorn
set -u
export STB_INCLUDE=$PWD/.stb PYTHONUNBUFFERED=1
nvidia-smi --query-gpu=name --format=csv,noheader
(make -s -j10 train_gpu test_gpu.out dev/bench/bench_scan_cuda STB_INCLUDE=$STB_INCLUDE >/tmp/build.log 2>&1; echo $? > /tmp/build.rc) &
(cd .base && make -s -j6 train_gpu dev/bench/bench_scan_cuda STB_INCLUDE=$STB_INCLUDE) >/tmp/build_base.log 2>&1 || { tail -30 /tmp/build_base.log; exit 1; }
wait; [ "$(cat /tmp/build.rc)" = 0 ] || { tail -30 /tmp/build.log; exit 1; }
timeout 400 ./test_gpu.out > $OUT/test_gpu.log 2>&1; echo "test_gpu rc $?"; grep -E "FAIL" $OUT/test_gpu.log | head; grep -E "ssm_scan_forward|model (fp32|bf16) (mamba|longhorn).*(loss|logits)" $OUT/test_gpu.log | head -24; tail -1 $OUT/test_gpu.log
for i in 1 2 3; do
  echo "== new $i"; dev/bench/bench_scan_cuda > /tmp/sn.txt 2>&1; grep -E "^\| (mamba|longhorn)" /tmp/sn.txt
  echo "== base $i"; .base/dev/bench/bench_scan_cuda > /tmp/sp.txt 2>&1; grep -E "^\| (mamba|longhorn)" /tmp/sp.txt
done
cp /tmp/sn.txt $OUT/bench_scan_new.txt
med() { grep -E '^step ([12][0-9]|30)/' $1 | sed -E 's/.*\| ([0-9.]+) ms.*/\1/' | sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
for m in mamba longhorn; do
  M="-m $m -L 24 -C 768 -b 16 -t 1024 -n 30 --eval_every 0 --sample_len 0"
  .base/train_gpu $M > /tmp/lp.log 2>&1; echo "$m base: median ms $(med /tmp/lp.log) | $(grep '^step 30/' /tmp/lp.log)"
  ./train_gpu $M > /tmp/ln.log 2>&1; echo "$m new: median ms $(med /tmp/ln.log) | $(grep '^step 30/' /tmp/ln.log)"
done
