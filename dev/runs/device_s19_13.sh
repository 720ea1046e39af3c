#!/usr/bin/env bash
# session 19, call 13: Nsight Compute on gemm_tma v4 (128x192, clusters of 2): the product (launch 0)
# and the DGELU (launch 1): throughput, memory, warp stall reasons
. dev/runs/ab.sh
nvidia-smi --query-gpu=name --format=csv,noheader
variant a -lineinfo; [ -x /tmp/gt_a ] || exit 1
timeout 150 ncu --clock-control none -k regex:gemm_tma --launch-skip 0 --launch-count 2 --section SpeedOfLight --section MemoryWorkloadAnalysis \
  --section WarpStateStats --section SchedulerStats --section Occupancy /tmp/gt_a > $OUT/ncu_gemm_tma.txt 2>&1; echo "ncu rc $?"
grep -E "gemm_tma_kernel|Duration|Memory Throughput|DRAM Throughput|Compute \(SM\)|L2 Cache Throughput|Stall|Warp Cycles Per Issued|Issued Warp|No Eligible|Active Warps" $OUT/ncu_gemm_tma.txt | head -60
