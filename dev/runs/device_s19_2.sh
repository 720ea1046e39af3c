#!/usr/bin/env bash
# session 19, call 2: gemm_tma v2 (128x256 tiles, 2-block clusters sharing Bt by multicast, persistent,
# aux/D through shared memory by TMA), clusters of 2 and of 1, each against cuBLASLt in the same run
. dev/runs/ab.sh
nvidia-smi --query-gpu=name --format=csv,noheader
variant a "-DGT_CLUSTER=2" & variant b "-DGT_CLUSTER=1" & wait
run_variants 60 a b
