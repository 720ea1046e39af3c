#!/usr/bin/env bash
# session 19, call 4: gemm_tma's main loop: shared output buffer + 3 stages (a) against direct
# register epilogues with 4 stages (b), 3 stages (c), 4 stages without clusters (d)
. dev/runs/ab.sh
nvidia-smi --query-gpu=name --format=csv,noheader
variant a "" & variant b "-DGT_DIRECT=1 -DGT_STAGES=4" & variant c "-DGT_DIRECT=1 -DGT_STAGES=3" & variant d "-DGT_DIRECT=1 -DGT_STAGES=4 -DGT_CLUSTER=1" & wait
run_variants 60 a b c d
