#!/usr/bin/env bash
# session 17, call 5: call 4 without the one-load step inputs (its 16-byte entries cost Mamba an SM slot;
# both forwards were slower): Longhorn's 1 + |k|^2 per row and its bias inside the exponent's FMA only.
# test_gpu (new); bench_scan new / mid (call 3's build) / prev (484ea11) alternating; whole
# longhorn 24x768 new vs prev; the first 30 losses of longhorn and mamba, new vs prev, bf16 and fp32
set -u
export STB_INCLUDE=$PWD/.stb PYTHONUNBUFFERED=1
nvidia-smi --query-gpu=name --format=csv,noheader
(make -s -j8 cuda STB_INCLUDE=$STB_INCLUDE >/tmp/build.log 2>&1; echo $? > /tmp/build.rc) &
(cd .mid && make -s -j3 dev/bench/bench_scan_cuda STB_INCLUDE=$STB_INCLUDE >/tmp/build_mid.log 2>&1; echo $? > /tmp/mid.rc) &
(cd .prev && make -s -j5 train_gpu dev/bench/bench_scan_cuda STB_INCLUDE=$STB_INCLUDE) >/tmp/build_prev.log 2>&1 || { tail -30 /tmp/build_prev.log; exit 1; }
wait; [ "$(cat /tmp/build.rc)" = 0 ] || { tail -30 /tmp/build.log; exit 1; }
[ "$(cat /tmp/mid.rc)" = 0 ] || tail -20 /tmp/build_mid.log
timeout 400 ./test_gpu.out > $OUT/test_gpu.log 2>&1; echo "test_gpu rc $?"; grep -E "FAIL" $OUT/test_gpu.log | head; grep -E "ssm_scan_(forward|backward) longhorn (bf16|fp32) N 16 T 100 E 80|train_step longhorn" $OUT/test_gpu.log | head -40; tail -1 $OUT/test_gpu.log
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
cp /tmp/lp.log $OUT/longhorn_b_prev.log; cp /tmp/ln.log $OUT/longhorn_b_new.log
