#!/usr/bin/env bash
# session 12, call 14 (issue 6): why the prefetching scan backward (commit 5784000, reverted) was
# slower: Nsight Compute on its backward kernel and on the current one (stalls, L1, shared memory)
set -u
export STB_INCLUDE=$PWD/.stb
nvidia-smi --query-gpu=name --format=csv,noheader
make -s -j16 dev/bench/bench_scan_cuda STB_INCLUDE=$STB_INCLUDE >/tmp/build.log 2>&1 || { tail -20 /tmp/build.log; exit 1; }
(cd tmp_bwd && make -s -j16 dev/bench/bench_scan_cuda STB_INCLUDE=$STB_INCLUDE >/tmp/build2.log 2>&1) || { tail -20 /tmp/build2.log; exit 1; }
for v in current prefetch; do
  bin=dev/bench/bench_scan_cuda; [ $v = prefetch ] && bin=tmp_bwd/dev/bench/bench_scan_cuda
  ncu -k regex:ssm_scan_backward -c 1 --section WarpStateStats --section SchedulerStats --section Occupancy --section MemoryWorkloadAnalysis --section LaunchStats \
      --metrics regex:smsp__average_warps_issue_stalled_.*_per_issue_active\.ratio,smsp__inst_executed.sum,l1tex__data_bank_conflicts_pipe_lsu_mem_shared.sum,gpu__time_duration.sum \
      $bin > $OUT/ncu_bwd_$v.txt 2>&1
  echo "=== $v"; grep -E "gpu__time_duration|Registers Per|Achieved Active Warps|Issued Warp|Eligible Warps|inst_executed.sum|bank_conflicts|L1/TEX Hit|L2 Hit|Local Memory Spilling Req|Shared Memory Configuration|stalled_[a-z_]*_per_issue_active.ratio +[a-z]* +[0-9.]*[1-9]" $OUT/ncu_bwd_$v.txt | grep -v " 0$" | head -40
done
