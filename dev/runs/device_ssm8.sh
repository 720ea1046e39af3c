#!/usr/bin/env bash
# device call 8: scan forward variants (dev/bench/scan_fwd_variants.cu) at the bench and Shakespeare shapes
set -u
nvcc -O3 -arch=sm_90a -std=c++17 -Xcompiler -fopenmp -o /tmp/v dev/bench/scan_fwd_variants.cu -lcublas || exit 1
/tmp/v | tee $OUT/scan_fwd_variants.txt
/tmp/v 64 256 768 | tee -a $OUT/scan_fwd_variants.txt
