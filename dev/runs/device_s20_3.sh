#!/usr/bin/env bash
# session 20, call 3: more scaling warps (GT_SCALERS 4, 6) and D written into X so that Y is freed
# by the scaling warps (GT_X_OUT), against v4; x6p1: x6 without the aux loads (a probe)
. dev/runs/ab.sh
nvidia-smi --query-gpu=name --format=csv,noheader
variant a "" & variant s4 "-DGT_SCALERS=4" & variant s6 "-DGT_SCALERS=6" & variant x2 "-DGT_X_OUT=1" & wait
variant x4 "-DGT_SCALERS=4 -DGT_X_OUT=1" & variant x6 "-DGT_SCALERS=6 -DGT_X_OUT=1" & variant x6p1 "-DGT_SCALERS=6 -DGT_X_OUT=1 -DGT_PROBE=1" & wait
run_variants 40 a s4 s6 x2 x4 x6 x6p1 a x6 s6
