#!/usr/bin/env bash
# session 20, call 2: where v4's DGELU epilogue time goes: probes (D wrong) without the aux loads (1),
# without the scaling (2), both (3), and the multiplying warps not waiting for Y to be free (4)
. dev/runs/ab.sh
nvidia-smi --query-gpu=name --format=csv,noheader
variant a "" & variant p1 "-DGT_PROBE=1" & variant p2 "-DGT_PROBE=2" & variant p3 "-DGT_PROBE=3" & wait
variant p4 "-DGT_PROBE=4" & variant p6 "-DGT_PROBE=6" & variant p7 "-DGT_PROBE=7" & wait
run_variants 40 a p1 p2 p3 p4 p6 p7 a
