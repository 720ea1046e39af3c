#!/usr/bin/env bash
# session 19, call 12: gemm_tma v4: the multiplying warps write the bf16 product (as without the
# epilogue); two warps scale it by GELU'(aux) under the next tile's main loop; 128x192 tiles,
# clusters of 2 (a) and 1 (b)
. dev/runs/ab.sh
nvidia-smi --query-gpu=name --format=csv,noheader
variant a "" & variant b "-DGT_CLUSTER=1" & wait
run_variants 25 a b
