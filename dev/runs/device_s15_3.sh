#!/usr/bin/env bash
# session 15, call 3 (issue 4): Nsight Compute (full set) of the three wgmma attention kernels at
# config (b)'s shape (dev/bench/bench_attn_cuda), for where their time goes
set -u
export STB_INCLUDE=$PWD/.stb
nvidia-smi --query-gpu=name --format=csv,noheader
make -s -j10 dev/bench/bench_attn_cuda STB_INCLUDE=$STB_INCLUDE >/tmp/build.log 2>&1 || { tail -30 /tmp/build.log; exit 1; }
for k in forward backward_dkdv backward_dq; do
  timeout 150 ncu --set full --kernel-name regex:flash_attention_${k}_kernel --launch-skip 3 --launch-count 1 dev/bench/bench_attn_cuda > $OUT/ncu_$k.txt 2>&1
  echo "== $k rc $?"
  grep -E "^\s+(Duration|Compute \(SM\) Throughput|Memory Throughput|L2 Cache Throughput|L1/TEX Cache Throughput|DRAM Throughput|Achieved Occupancy|Theoretical Occupancy|Registers Per Thread|Block Limit (Registers|Shared Mem)|Issue Slots Busy|Executed Ipc Active|No Eligible|One or More Eligible|Active Warps Per Scheduler|Eligible Warps Per Scheduler|Warp Cycles Per Issued Instruction)" $OUT/ncu_$k.txt
  grep -E "Stall|stall" $OUT/ncu_$k.txt | grep -v "^\s*$" | head -12
done
