#!/usr/bin/env bash
# session 17, call 8: the scan backward's per-step sums (y, S, Q) in two chains each. test_gpu
# (new); bench_scan new / mid (call 7's build) alternating; whole mamba and
# longhorn 24x768 new vs mid; GPT (b) for the ratio
set -u
export STB_INCLUDE=$PWD/.stb PYTHONUNBUFFERED=1
nvidia-smi --query-gpu=name --format=csv,noheader
(make -s -j10 cuda STB_INCLUDE=$STB_INCLUDE >/tmp/build.log 2>&1; echo $? > /tmp/build.rc) &
(cd .mid && make -s -j6 train_gpu dev/bench/bench_scan_cuda STB_INCLUDE=$STB_INCLUDE) >/tmp/build_mid.log 2>&1 || { tail -30 /tmp/build_mid.log; exit 1; }
wait; [ "$(cat /tmp/build.rc)" = 0 ] || { tail -30 /tmp/build.log; exit 1; }
timeout 400 ./test_gpu.out > $OUT/test_gpu.log 2>&1; echo "test_gpu rc $?"; grep -E "FAIL" $OUT/test_gpu.log | head; tail -1 $OUT/test_gpu.log
for i in 1 2 3; do
  for v in new mid; do
    b=dev/bench/bench_scan_cuda; [ $v = new ] || b=.$v/$b
    echo "== $v $i"; $b > /tmp/s_$v.txt 2>&1; grep -E "^\| (mamba|longhorn)" /tmp/s_$v.txt
  done
done
cp /tmp/s_new.txt $OUT/bench_scan_new.txt
med() { grep -E '^step ([12][0-9]|30)/' $1 | sed -E 's/.*\| ([0-9.]+) ms.*/\1/' | sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
for m in mamba longhorn; do
  M="-m $m -L 24 -C 768 -b 16 -t 1024 -n 30 --eval_every 0 --sample_len 0"
  for i in 1; do
    .mid/train_gpu $M > /tmp/lp.log 2>&1; echo "$m mid: median ms $(med /tmp/lp.log) | $(grep '^step 30/' /tmp/lp.log)"
    ./train_gpu $M > /tmp/ln.log 2>&1; echo "$m new: median ms $(med /tmp/ln.log) | $(grep '^step 30/' /tmp/ln.log)"
  done
done
