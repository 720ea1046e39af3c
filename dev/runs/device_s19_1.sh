#!/usr/bin/env bash
# session 19, call 1: dev/bench/gemm_tma (TMA-fed, warp-specialized DGELU matmul) in five
# configurations, each against cuBLASLt in the same run
. dev/runs/ab.sh
nvidia-smi --query-gpu=name --format=csv,noheader
variant a "-DGT_BN=128 -DGT_STAGES=3 -DGT_PERSIST=0" & variant b "-DGT_BN=128 -DGT_STAGES=3 -DGT_PERSIST=1" & variant c "-DGT_BN=256 -DGT_STAGES=4 -DGT_PERSIST=0" &
variant d "-DGT_BN=256 -DGT_STAGES=4 -DGT_PERSIST=1" & variant e "-DGT_BN=128 -DGT_STAGES=6 -DGT_PERSIST=1" & wait
run_variants 60 a b c d e
