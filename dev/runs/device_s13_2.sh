#!/usr/bin/env bash
# session 13, call 2 (issue 6): the phased scan backward (inputs and per-step scalars in shared memory,
# sub-chunks of 8 recomputed into 9 slots, 12 warps per SM, 16-byte output rows): test_gpu, the scan
# bench (and the same with sub-chunks of 16, 8 warps per SM), whole models, a mamba profile
set -u
export STB_INCLUDE=$PWD/.stb
nvidia-smi --query-gpu=name --format=csv,noheader
make -s -j16 cuda STB_INCLUDE=$STB_INCLUDE >/tmp/build.log 2>&1 || { tail -30 /tmp/build.log; exit 1; }
nvcc -O3 -arch=sm_90a --default-stream per-thread -std=c++17 -Xcompiler -fopenmp,-Wno-unused-function -diag-suppress 177,550 -DSSM_BWD_SUB=16 \
  -o /tmp/bench_scan_sub16 dev/bench/bench_scan.cu -lcublasLt -lcublas -lm > /tmp/b16.log 2>&1 || tail -5 /tmp/b16.log
./test_gpu.out > $OUT/test_gpu.log 2>&1; echo "test_gpu rc $?"; grep -E "FAIL|ssm_scan_backward .*(fp32|bf16) N 16 T 100 E 88|ssm_scan_backward longhorn fp32 N 4 T 20|model bf16 (mamba|longhorn).*gradients|train_step mamba bf16: graph" $OUT/test_gpu.log; tail -1 $OUT/test_gpu.log
dev/bench/bench_scan_cuda > $OUT/bench_scan.txt 2>&1; tail -6 $OUT/bench_scan.txt
echo "sub-chunks of 16:"; /tmp/bench_scan_sub16 > $OUT/bench_scan_sub16.txt 2>&1; grep -E "^\| (mamba|longhorn)" $OUT/bench_scan_sub16.txt
B="-b 16 -t 1024 -n 30 --eval_every 0 --sample_len 0"
for m in mamba longhorn; do ./train_gpu -m $m -L 24 -C 768 $B > $OUT/b_$m.log 2>&1; echo "$m: $(grep '^step 30/' $OUT/b_$m.log)"; done
./train_gpu -m gpt -L 12 -H 12 -C 768 --dropout 0 --attn_dropout 0 --embd_dropout 0 $B > $OUT/b_gpt.log 2>&1; echo "gpt: $(grep '^step 30/' $OUT/b_gpt.log)"
dev/bench/profile_gpu -m mamba -L 24 -C 768 -b 16 -t 1024 > $OUT/profile_mamba.txt 2>&1; head -16 $OUT/profile_mamba.txt; grep total $OUT/profile_mamba.txt
