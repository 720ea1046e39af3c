#!/usr/bin/env bash
# session 19, call 9: gemm_tma with the epilogue's GELU' computed by two warps during the main loop
# (aux -> GELU'(aux) in fp16, in place), tanh.approx, the copies box by box, 4 chunks per thread at a time (a); probe without GELU' (b)
. dev/runs/ab.sh
nvidia-smi --query-gpu=name --format=csv,noheader
variant a "" & variant b "-DGT_PROBE_NOMATH=1" & wait
run_variants 60 a b
