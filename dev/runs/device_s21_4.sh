#!/usr/bin/env bash
# session 21, call 4 (H100): profile_gpu with the profiler started after the first step (the
# matmul kernels of a real run): GPT (b) and mamba 24x768; the scan backward's SASS with
# Nsight Compute's stall samples per instruction
set -u
. dev/runs/ab.sh
build . 16 train_gpu dev/bench/bench_scan_cuda
timeout 150 dev/bench/profile_gpu -L 12 -H 12 -C 768 -b 16 -t 1024 --dropout 0 --attn_dropout 0 --embd_dropout 0 > $OUT/profile_b.txt 2>&1; echo "profile rc $?"; head -24 $OUT/profile_b.txt; tail -2 $OUT/profile_b.txt
rm -f $OUT/profile_gpu/ncu.csv
timeout 200 dev/bench/profile_gpu -m mamba -L 24 -C 768 -b 16 -t 1024 > $OUT/profile_mamba.txt 2>&1; echo "profile rc $?"; head -12 $OUT/profile_mamba.txt; tail -2 $OUT/profile_mamba.txt
rm -f $OUT/profile_gpu/ncu.csv
timeout 150 ncu --set full --import-source yes --kernel-name regex:ssm_scan_backward --launch-skip 3 --launch-count 1 -o /tmp/scan_bwd dev/bench/bench_scan_cuda > /tmp/ncu1.txt 2>&1; echo "ncu rc $?"
ncu -i /tmp/scan_bwd.ncu-rep --page source --csv --print-source sass > $OUT/scan_bwd_sass.csv 2>&1; echo "sass rc $?"; head -c 600 $OUT/scan_bwd_sass.csv
ncu -i /tmp/scan_bwd.ncu-rep --page details --print-details all > $OUT/scan_bwd_details.txt 2>&1
grep -i -A30 "Warp State Statistics" $OUT/scan_bwd_details.txt | grep -i "stall\|cycles" | head -30
