#!/usr/bin/env bash
# session 13, call 3 (issue 6): the forward's y in two partial sums; Nsight Compute on the new scan
# backward and forward (stalls, pipes, occupancy)
set -u
export STB_INCLUDE=$PWD/.stb
nvidia-smi --query-gpu=name --format=csv,noheader
make -s -j16 test_gpu.out dev/bench/bench_scan_cuda STB_INCLUDE=$STB_INCLUDE >/tmp/build.log 2>&1 || { tail -30 /tmp/build.log; exit 1; }
./test_gpu.out > $OUT/test_gpu.log 2>&1; echo "test_gpu rc $?"; grep -E "FAIL|ssm_scan_forward .*N 16 T 100 E 88" $OUT/test_gpu.log; tail -1 $OUT/test_gpu.log
dev/bench/bench_scan_cuda > $OUT/bench_scan.txt 2>&1; grep -E "^\| (mamba|longhorn)" $OUT/bench_scan.txt
for k in backward forward; do
  ncu -k regex:ssm_scan_${k}_kernel -c 1 --section WarpStateStats --section SchedulerStats --section Occupancy --section ComputeWorkloadAnalysis --section LaunchStats --section InstructionStats \
      --metrics regex:smsp__average_warps_issue_stalled_.*_per_issue_active\.ratio,smsp__inst_executed.sum,l1tex__data_bank_conflicts_pipe_lsu_mem_shared.sum,gpu__time_duration.sum,regex:sm__inst_executed_pipe_.*\.avg\.pct_of_peak_sustained_active,sm__pipe_shared_cycles_active.avg.pct_of_peak_sustained_active,smsp__inst_executed_op_shfl.sum \
      dev/bench/bench_scan_cuda > $OUT/ncu_$k.txt 2>&1
  echo "=== $k"; grep -E "gpu__time_duration|Registers Per|Achieved Active Warps|Issued Warp|Eligible Warps|inst_executed.sum|op_shfl|bank_conflicts|stalled_[a-z_]*_per_issue_active.ratio +[a-z]* +[0-9.]*[1-9]|pipe_[a-z_]*\.avg\.pct.* [0-9.]*[1-9]" $OUT/ncu_$k.txt | grep -vE " 0$| 0\.0[0-9]$" | head -40
done
