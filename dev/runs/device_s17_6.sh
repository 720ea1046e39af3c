#!/usr/bin/env bash
# session 17, call 6: scan_ksq1 on a lane pair per row. test_gpu (new); bench_scan new / mid
# (call 5's build) / prev (484ea11) alternating; whole longhorn 24x768 new vs prev, mamba and gpt
# (b) new; the Shakespeare defaults of longhorn and mamba (the rounding changed)
set -u
export STB_INCLUDE=$PWD/.stb PYTHONUNBUFFERED=1
nvidia-smi --query-gpu=name --format=csv,noheader
(make -s -j8 cuda STB_INCLUDE=$STB_INCLUDE >/tmp/build.log 2>&1; echo $? > /tmp/build.rc) &
(cd .mid && make -s -j3 dev/bench/bench_scan_cuda STB_INCLUDE=$STB_INCLUDE >/tmp/build_mid.log 2>&1; echo $? > /tmp/mid.rc) &
(cd .prev && make -s -j5 train_gpu dev/bench/bench_scan_cuda STB_INCLUDE=$STB_INCLUDE) >/tmp/build_prev.log 2>&1 || { tail -30 /tmp/build_prev.log; exit 1; }
wait; [ "$(cat /tmp/build.rc)" = 0 ] || { tail -30 /tmp/build.log; exit 1; }
[ "$(cat /tmp/mid.rc)" = 0 ] || tail -20 /tmp/build_mid.log
timeout 400 ./test_gpu.out > $OUT/test_gpu.log 2>&1; echo "test_gpu rc $?"; grep -E "FAIL" $OUT/test_gpu.log | head; grep -E "ssm_scan_forward longhorn|train_step longhorn" $OUT/test_gpu.log | head -20; tail -1 $OUT/test_gpu.log
for i in 1 2 3; do
  for v in new mid prev; do
    b=dev/bench/bench_scan_cuda; [ $v = new ] || b=.$v/$b
    echo "== $v $i"; $b > /tmp/s_$v.txt 2>&1; grep -E "^\| (mamba|longhorn)" /tmp/s_$v.txt
  done
done
cp /tmp/s_new.txt $OUT/bench_scan_new.txt
med() { grep -E '^step ([12][0-9]|30)/' $1 | sed -E 's/.*\| ([0-9.]+) ms.*/\1/' | sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
M="-m longhorn -L 24 -C 768 -b 16 -t 1024 -n 30 --eval_every 0 --sample_len 0"
for i in 1 2; do
  .prev/train_gpu $M > /tmp/lp.log 2>&1; echo "longhorn prev: median ms $(med /tmp/lp.log) | $(grep '^step 30/' /tmp/lp.log)"
  ./train_gpu $M > /tmp/ln.log 2>&1; echo "longhorn new: median ms $(med /tmp/ln.log) | $(grep '^step 30/' /tmp/ln.log)"
done
./train_gpu ${M/longhorn/mamba} > /tmp/mn.log 2>&1; echo "mamba new: median ms $(med /tmp/mn.log) | $(grep '^step 30/' /tmp/mn.log)"
./train_gpu -m gpt -L 12 -H 12 -C 768 -b 16 -t 1024 -n 30 --dropout 0 --eval_every 0 --sample_len 0 > /tmp/gn.log 2>&1; echo "gpt new: median ms $(med /tmp/gn.log) | $(grep '^step 30/' /tmp/gn.log)"
for m in longhorn mamba; do
  ./train_gpu -m $m --log $OUT/$m.csv > /tmp/$m.log 2>&1; echo "$m default rc $?"; grep -E "val|wall|took|best" /tmp/$m.log | tail -5; grep -E "^step 5000/" /tmp/$m.log
  tail -40 /tmp/$m.log > $OUT/${m}_shakespeare_tail.log
done
