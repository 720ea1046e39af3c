#!/usr/bin/env bash
# session 20, call 1: gemm_tma's GT_SCALE_IN_MMA (the multiplying warps scale the last tile's product
# between k-steps) against v4 (warps 10-11 scale) and cuBLASLt, tiles 128x192 and 128x256
. dev/runs/ab.sh
nvidia-smi --query-gpu=name --format=csv,noheader
variant a "" & variant b "-DGT_SCALE_IN_MMA=1" & variant c "-DGT_SCALE_IN_MMA=1 -DGT_BN=256" & variant d "-DGT_SCALE_IN_MMA=1 -DGT_CLUSTER=1" & wait
run_variants 40 a b c d
run_variants 40 b a c
