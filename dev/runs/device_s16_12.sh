#!/usr/bin/env bash
# session 16, call 12 (for the next session): Nsight Compute on the scan forwards after the
# 3-operation Longhorn update: where do they stall (Longhorn at 2.12x its bound, target 2x)?
set -u
export STB_INCLUDE=$PWD/.stb
nvidia-smi --query-gpu=name --format=csv,noheader
make -s -j16 dev/bench/bench_scan_cuda STB_INCLUDE=$STB_INCLUDE >/tmp/build.log 2>&1 || { tail -30 /tmp/build.log; exit 1; }
for lh in 0 1; do
  timeout 200 ncu --kernel-name-base demangled --kernel-name "regex:ssm_scan_forward_kernel<\\(int\\)16, \\(int\\)$lh" --launch-skip 3 --launch-count 1 \
      --section SpeedOfLight --section WarpStateStats --section SchedulerStats --section InstructionStats --section Occupancy \
      dev/bench/bench_scan_cuda > $OUT/ncu_forward_lh$lh.txt 2>&1; echo "ncu lh=$lh rc $?"
  grep -E "Duration|Issue Slots Busy|Issued Warp Per Scheduler|No Eligible|Active Warps Per Scheduler|Eligible Warps|Executed Instructions  |Achieved Occupancy|Memory Throughput|Compute \(SM\) Throughput|Warp Cycles Per Issued|Stall" $OUT/ncu_forward_lh$lh.txt | head -24
done
