#!/usr/bin/env bash
# session 19, call 10: gemm_tma v3, aux/GELU' and D in separate shared buffers (no store -> load chain):
# 128x192 tiles, 3 stages, clusters of 2 (a); 128x256, 2 stages (b); 128x192 without clusters (c)
. dev/runs/ab.sh
nvidia-smi --query-gpu=name --format=csv,noheader
variant a "" & variant b "-DGT_BN=256" & variant c "-DGT_CLUSTER=1" & wait
run_variants 60 a b c
