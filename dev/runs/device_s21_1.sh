#!/usr/bin/env bash
# session 21, call 1 (HEAD 8ae507f, H100): make test_gpu; the default Shakespeare GPT run;
# Nsight Compute's full sections for one mamba scan-backward launch (bench_scan's shape)
set -u
. dev/runs/ab.sh
nvidia-smi --query-gpu=name --format=csv,noheader
build . 16 train_gpu test_gpu.out dev/bench/bench_scan_cuda
timeout 240 ./test_gpu.out > $OUT/test_gpu.log 2>&1; echo "test_gpu rc $?"; grep -E "FAIL" $OUT/test_gpu.log | head; tail -1 $OUT/test_gpu.log
timeout 100 ncu --set full --kernel-name regex:ssm_scan_backward --launch-skip 3 --launch-count 1 dev/bench/bench_scan_cuda > $OUT/ncu_scan_bwd.txt 2>&1; echo "ncu rc $?"
grep -E "Duration|Warp Cycles Per Issued|Issue Slots Busy|Registers Per|Achieved Occupancy|Theoretical Occupancy|Memory Throughput|DRAM Throughput|Compute \(SM\)|Stall|Executed Ipc" $OUT/ncu_scan_bwd.txt | head -40
timeout 200 ./train_gpu -m gpt --log $OUT/gpt_shakespeare.csv > $OUT/gpt_shakespeare.log 2>&1; echo "train rc $?"
grep -E "val|wall|total" $OUT/gpt_shakespeare.log | tail -8
