#!/usr/bin/env bash
# session 19, call 7: gemm_tma with the epilogue's GELU' computed by two warps during the main loop
# (aux -> GELU'(aux) in fp16, in place), now with tanh.approx; clusters of 2 (a) and 1 (b)
. dev/runs/ab.sh
nvidia-smi --query-gpu=name --format=csv,noheader
variant a "" & variant b "-DGT_CLUSTER=1" & wait
run_variants 60 a b
