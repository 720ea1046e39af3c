#!/usr/bin/env bash
# session 17, call 9: the conv1d backward issues the next group's loads before this group's math.
# test_gpu (new); bench_scan's conv lines new / mid (a23b0d9) alternating; whole mamba new vs mid
set -u
export STB_INCLUDE=$PWD/.stb PYTHONUNBUFFERED=1
nvidia-smi --query-gpu=name --format=csv,noheader
(make -s -j10 cuda STB_INCLUDE=$STB_INCLUDE >/tmp/build.log 2>&1; echo $? > /tmp/build.rc) &
(cd .mid && make -s -j6 train_gpu dev/bench/bench_scan_cuda STB_INCLUDE=$STB_INCLUDE) >/tmp/build_mid.log 2>&1 || { tail -30 /tmp/build_mid.log; exit 1; }
wait; [ "$(cat /tmp/build.rc)" = 0 ] || { tail -30 /tmp/build.log; exit 1; }
timeout 300 ./test_gpu.out > $OUT/test_gpu.log 2>&1; echo "test_gpu rc $?"; grep -E "FAIL" $OUT/test_gpu.log | head; grep -E "conv1d\+silu backward bf16" $OUT/test_gpu.log; tail -1 $OUT/test_gpu.log
for i in 1 2 3; do
  for v in new mid; do
    b=dev/bench/bench_scan_cuda; [ $v = new ] || b=.$v/$b
    echo "== $v $i"; $b > /tmp/s_$v.txt 2>&1; grep -E "^conv1d|^\| backward.*\| 2 \| 4 \|" /tmp/s_$v.txt
  done
done
cp /tmp/s_new.txt $OUT/bench_scan_new.txt
med() { grep -E '^step ([12][0-9]|30)/' $1 | sed -E 's/.*\| ([0-9.]+) ms.*/\1/' | sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
M="-m mamba -L 24 -C 768 -b 16 -t 1024 -n 30 --eval_every 0 --sample_len 0"
.mid/train_gpu $M > /tmp/lp.log 2>&1; echo "mamba mid: median ms $(med /tmp/lp.log) | $(grep '^step 30/' /tmp/lp.log)"
./train_gpu $M > /tmp/ln.log 2>&1; echo "mamba new: median ms $(med /tmp/ln.log) | $(grep '^step 30/' /tmp/ln.log)"
