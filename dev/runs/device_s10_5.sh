#!/usr/bin/env bash
# session 10, call 5: attention kernels without the dropout code (DROP template), backward with
# fewer registers (fragments re-read from shared memory): 2 vs 3 dK/dV blocks per SM
set -u
export STB_INCLUDE=$PWD/.stb
make -s -j8 cuda STB_INCLUDE=$STB_INCLUDE >/tmp/build.log 2>&1 || { tail -30 /tmp/build.log; exit 1; }
nvcc -O3 -arch=sm_90a --default-stream per-thread -std=c++17 -Xcompiler -fopenmp,-Wno-unused-function -diag-suppress 177,550 \
     -DSM_PLOTS -I$STB_INCLUDE -DFA_DKDV_MIN_BLOCKS=2 -o /tmp/train_gpu_b2 train_gpu.cu -lcublas -lm 2>&1 | tail -3 &
./test_gpu.out > $OUT/test_gpu.log 2>&1; echo "test_gpu rc $?"; grep -v "^ok" $OUT/test_gpu.log | tail -4; grep "attention.*tiled" $OUT/test_gpu.log | head -4
wait
B="-m gpt -L 12 -H 12 -C 768 -b 16 -t 1024 --dropout 0 --attn_dropout 0 --embd_dropout 0"
for bin in ./train_gpu /tmp/train_gpu_b2 ./train_gpu /tmp/train_gpu_b2; do
  $bin $B -n 30 --eval_every 0 --sample_len 0 > $OUT/b_gpt.log 2>&1; echo "config b $bin: $(grep '^step 30/' $OUT/b_gpt.log)"
done
for k in dkdv dq; do
  for bin in ./train_gpu /tmp/train_gpu_b2; do
  ncu --kernel-name regex:flash_attention_.*$k --launch-skip 12 --launch-count 1 --section SpeedOfLight --section Occupancy \
      --section WarpStateStats $bin $B -n 2 --eval_every 0 --sample_len 0 > $OUT/ncu_$k.txt 2>&1
  grep -E "Duration|Achieved Occupancy|Warp Cycles Per Issued|Executed Ipc|Est. Speedup" $OUT/ncu_$k.txt | head -8 | sed "s|^|$k $bin: |"
  grep -A3 "Est. Speedup" $OUT/ncu_$k.txt | head -12
  done
done
dev/bench/profile_gpu -L 12 -H 12 -C 768 -b 16 -t 1024 --dropout 0 --attn_dropout 0 --embd_dropout 0 > $OUT/profile_b.txt 2>&1
head -24 $OUT/profile_b.txt; grep "total" $OUT/profile_b.txt
