#!/usr/bin/env bash
# device call 7: Nsight Compute on the scan kernels (mamba, B16 T1024 E1536 N16): where they stall
set -u
make -s dev/bench/bench_scan_cuda >/tmp/build.log 2>&1 || { tail -20 /tmp/build.log; exit 1; }
./dev/bench/bench_scan_cuda | tail -2
ncu --kernel-name regex:ssm_scan --launch-skip 4 --launch-count 2 --section SpeedOfLight --section Occupancy \
    --section WarpStateStats --section SchedulerStats --section LaunchStats --section ComputeWorkloadAnalysis \
    ./dev/bench/bench_scan_cuda > $OUT/ncu_scan.txt 2>&1
echo "ncu rc $?"
grep -E "ssm_scan|Duration|Compute \(SM\) Throughput|Memory Throughput|Registers Per|Achieved Occupancy|Theoretical Occupancy|Issue Slots Busy|No Eligible|Active Warps Per Scheduler|Eligible Warps|Warp Cycles Per Issued|Block Limit|Executed Ipc|Stall|stall" $OUT/ncu_scan.txt | head -60
