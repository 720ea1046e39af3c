#!/usr/bin/env bash
# session 10, call 4: GELU 8-wide; where the attention backward kernels stall (ncu sections)
set -u
export STB_INCLUDE=$PWD/.stb
make -s -j8 cuda STB_INCLUDE=$STB_INCLUDE >/tmp/build.log 2>&1 || { tail -30 /tmp/build.log; exit 1; }
./test_gpu.out > $OUT/test_gpu.log 2>&1; echo "test_gpu rc $?"; grep -v "^ok" $OUT/test_gpu.log | tail -4; grep "gelu" $OUT/test_gpu.log
B="-m gpt -L 12 -H 12 -C 768 -b 16 -t 1024 --dropout 0 --attn_dropout 0 --embd_dropout 0"
./train_gpu $B -n 30 --eval_every 0 --sample_len 0 > $OUT/b_gpt.log 2>&1; echo "config b: $(grep '^step 30/' $OUT/b_gpt.log)"
for k in dkdv dq forward; do
  ncu --kernel-name regex:flash_attention_.*$k --launch-skip 12 --launch-count 1 --section SpeedOfLight --section Occupancy \
      --section WarpStateStats --section ComputeWorkloadAnalysis --section MemoryWorkloadAnalysis --section SchedulerStats \
      ./train_gpu $B -n 2 --eval_every 0 --sample_len 0 > $OUT/ncu_$k.txt 2>&1
  grep -E "Duration|Throughput|Achieved Occupancy|Theoretical Occupancy|Warp Cycles Per Issued|Stall|Issued Ipc|No Eligible|Eligible Warps|Registers|Block Limit|Bank|Executed Ipc|Pipe" $OUT/ncu_$k.txt | head -40 | sed "s/^/$k: /"
done
