#!/usr/bin/env bash
# session 19, call 5: gemm_tma after the cluster arrive lost its MEMBAR.ALL.GPU: default (a), direct epilogue 4 stages (b),
# tanh.approx GELU' (c), clusters of 1 (d)
. dev/runs/ab.sh
nvidia-smi --query-gpu=name --format=csv,noheader
variant a "" & variant b "-DGT_DIRECT=1 -DGT_STAGES=4" & variant c "-DGT_EPIMODE=2" & variant d "-DGT_CLUSTER=1" & wait
run_variants 60 a b c d
