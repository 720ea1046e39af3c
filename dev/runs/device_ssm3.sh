#!/usr/bin/env bash
# device call 3 (issue 6): pair-split scan kernels; register-bound variants; torch reference;
# whole-model step times at 12 x 768 (B16 T1024)
set -u
make clean >/dev/null
( make -j4 cuda >/tmp/build.log 2>&1 && nvcc -O3 -arch=sm_90a -std=c++17 -DSSM_MIN_BLOCKS=10 -Xcompiler -fopenmp -o /tmp/bench10 dev/bench/bench_scan.cu -lcublas -lm >>/tmp/build.log 2>&1 ) || { tail -30 /tmp/build.log; exit 1; }
./test_gpu.out >$OUT/test_gpu.log 2>&1; rc=$?
grep -v "^ok" $OUT/test_gpu.log | tail -5
echo "== min blocks 1"; ./dev/bench/bench_scan_cuda | tail -2; ./dev/bench/bench_scan_cuda 64 256 768 16 | tail -2
echo "== min blocks 10"; /tmp/bench10 | tail -2; /tmp/bench10 64 256 768 16 | tail -2
for m in "mamba -L 24" "longhorn -L 24" "gpt -L 12 -H 12 --dropout 0"; do
  ./train_gpu -m $m -C 768 -b 16 -t 1024 -n 30 --eval_every 0 --sample_len 0 | grep "^step 30/" | sed "s/^/$m: /"
done
./train_gpu -m longhorn -n 60 --eval_every 0 --sample_len 0 | grep "^step 60/"
timeout 300 dev/bench/bench_scan > $OUT/bench_scan.log 2>&1; tail -6 $OUT/bench_scan.log
