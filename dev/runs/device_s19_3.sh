#!/usr/bin/env bash
# session 19, call 3: gemm_tma v2 probes (timed as batches of 20 launches): exact GELU', no GELU'
# math, no aux load, tanh.approx GELU'
. dev/runs/ab.sh
nvidia-smi --query-gpu=name --format=csv,noheader
variant a "" & variant b "-DGT_EPIMODE=1" & variant c "-DGT_NOAUX=1" & variant d "-DGT_EPIMODE=2" & wait
run_variants 60 a b c d
