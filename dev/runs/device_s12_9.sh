#!/usr/bin/env bash
# session 12, call 9 (issue 6): the scan kernels (bf16 inputs) against PyTorch's chunked scan,
# eager and torch.compile, same GPU, same run
set -u
export STB_INCLUDE=$PWD/.stb
nvidia-smi --query-gpu=name --format=csv,noheader
make -s -j16 dev/bench/bench_scan_cuda STB_INCLUDE=$STB_INCLUDE >/tmp/build.log 2>&1 || { tail -20 /tmp/build.log; exit 1; }
timeout 520 dev/bench/bench_scan > $OUT/bench_scan.log 2>&1; echo "bench_scan rc $?"; cat $OUT/bench_scan.log
# warp-stall breakdown of the current scan kernels (forward, backward), mamba at B16 T1024 E1536 N16
ncu -k regex:ssm_scan -c 2 --section WarpStateStats --section SchedulerStats --section Occupancy \
    --metrics regex:smsp__average_warps_issue_stalled_.*_per_issue_active\.ratio,smsp__inst_executed.sum,smsp__sass_thread_inst_executed_op_fp32_pred_on.sum \
    dev/bench/bench_scan_cuda > $OUT/ncu_scan.txt 2>&1
grep -E "ssm_scan_|Issued Warp|Eligible Warps|Active Warps Per|inst_executed|stalled_[a-z_]*_per_issue_active.ratio +[a-z]* +[0-9.]*[1-9]" $OUT/ncu_scan.txt | grep -v " 0$" | head -80
