#!/usr/bin/env bash
# session 12, call 2 (issue 6): bf16 SSM activations (xz, xc, dtr, ddtr, dxz) and the scan forward
# with a lane pair per channel: test_gpu, the scan kernels alone (backward register cap 10 vs 12
# warps per SM), whole models at 12x768-equivalent B16 T1024, Shakespeare step time, a mamba profile
set -u
export STB_INCLUDE=$PWD/.stb
nvidia-smi --query-gpu=name --format=csv,noheader
make -s -j16 cuda STB_INCLUDE=$STB_INCLUDE >/tmp/build.log 2>&1 || { tail -30 /tmp/build.log; exit 1; }
nvcc -O3 -arch=sm_90a --default-stream per-thread -std=c++17 -Xcompiler -fopenmp,-Wno-unused-function -diag-suppress 177,550 \
  -DSSM_BWD_MIN_BLOCKS=12 -o /tmp/bench_scan12 dev/bench/bench_scan.cu -lcublasLt -lcublas -lm &
./test_gpu.out > $OUT/test_gpu.log 2>&1; echo "test_gpu rc $?"; grep -E "FAIL|ssm|conv1d|mamba|longhorn" $OUT/test_gpu.log | head -60; tail -1 $OUT/test_gpu.log
wait
dev/bench/bench_scan_cuda > $OUT/bench_scan.txt 2>&1; cat $OUT/bench_scan.txt
echo "--- backward capped for 12 warps/SM"; /tmp/bench_scan12 | tail -6 | tee $OUT/bench_scan_bwd12.txt
B="-b 16 -t 1024 -n 30 --eval_every 0 --sample_len 0"
for m in mamba longhorn; do ./train_gpu -m $m -L 24 -C 768 $B > $OUT/b_$m.log 2>&1; echo "$m: $(grep '^step 30/' $OUT/b_$m.log)"; done
./train_gpu -m gpt -L 12 -H 12 -C 768 --dropout 0 --attn_dropout 0 --embd_dropout 0 $B > $OUT/b_gpt.log 2>&1; echo "gpt: $(grep '^step 30/' $OUT/b_gpt.log)"
for m in longhorn mamba; do ./train_gpu -m $m -n 60 --eval_every 0 --sample_len 0 | grep "^step 60/" | sed "s/^/$m shakespeare: /"; done
dev/bench/profile_gpu -m mamba -L 24 -C 768 -b 16 -t 1024 > $OUT/profile_mamba.txt 2>&1; head -30 $OUT/profile_mamba.txt; grep total $OUT/profile_mamba.txt
