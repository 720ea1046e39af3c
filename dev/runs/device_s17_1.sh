#!/usr/bin/env bash
# session 17, call 1: Longhorn's scan forward with 4 lanes per 2 channels (4 states of each per
# lane: half the k/q row reads per state). test_gpu; bench_scan new vs .prev (484ea11) vs a build
# that gives Mamba the same layout (-DSSM_FWD_CPL2_MAMBA=1), alternating; whole longhorn new vs prev
set -u
export STB_INCLUDE=$PWD/.stb PYTHONUNBUFFERED=1
nvidia-smi --query-gpu=name --format=csv,noheader
(make -s -j10 cuda STB_INCLUDE=$STB_INCLUDE >/tmp/build.log 2>&1; echo $? > /tmp/build.rc) &
(nvcc -O3 -arch=sm_90a --default-stream per-thread -std=c++17 -Xcompiler -fopenmp,-Wno-unused-function -diag-suppress 177,550 \
   -DSSM_FWD_CPL2_MAMBA=1 -o /tmp/bench_scan_cpl2 dev/bench/bench_scan.cu -lcublasLt -lcublas -lm >/tmp/build_cpl2.log 2>&1; echo $? > /tmp/cpl2.rc) &
(cd .prev && make -s -j6 train_gpu dev/bench/bench_scan_cuda STB_INCLUDE=$STB_INCLUDE) >/tmp/build_prev.log 2>&1 || { tail -30 /tmp/build_prev.log; exit 1; }
wait; [ "$(cat /tmp/build.rc)" = 0 ] || { tail -30 /tmp/build.log; exit 1; }
[ "$(cat /tmp/cpl2.rc)" = 0 ] || tail -20 /tmp/build_cpl2.log
timeout 400 ./test_gpu.out > $OUT/test_gpu.log 2>&1; echo "test_gpu rc $?"; grep -E "FAIL" $OUT/test_gpu.log | head; grep -E "ssm_scan_forward|train_step (mamba|longhorn)" $OUT/test_gpu.log | head -40; tail -1 $OUT/test_gpu.log
for i in 1 2 3; do
  echo "== new $i"; dev/bench/bench_scan_cuda > /tmp/sn.txt 2>&1; grep -E "^\| (mamba|longhorn)" /tmp/sn.txt
  echo "== prev $i"; .prev/dev/bench/bench_scan_cuda > /tmp/sp.txt 2>&1; grep -E "^\| (mamba|longhorn)" /tmp/sp.txt
  [ -x /tmp/bench_scan_cpl2 ] && { echo "== cpl2-mamba $i"; /tmp/bench_scan_cpl2 > /tmp/sc.txt 2>&1; grep -E "^\| (mamba|longhorn)" /tmp/sc.txt; }
done
cp /tmp/sn.txt $OUT/bench_scan_new.txt
med() { grep -E '^step ([12][0-9]|30)/' $1 | sed -E 's/.*\| ([0-9.]+) ms.*/\1/' | sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
M="-m longhorn -L 24 -C 768 -b 16 -t 1024 -n 30 --eval_every 0 --sample_len 0"
for i in 1 2; do
  .prev/train_gpu $M > /tmp/lp.log 2>&1; echo "longhorn prev: median ms $(med /tmp/lp.log) | $(grep '^step 30/' /tmp/lp.log)"
  ./train_gpu $M > /tmp/ln.log 2>&1; echo "longhorn new: median ms $(med /tmp/ln.log) | $(grep '^step 30/' /tmp/ln.log)"
done
