#!/usr/bin/env bash
# session 18, call 9: gemm_dgelu variants: stages 3/4/6, a step's products in flight or not
set -u
nvidia-smi --query-gpu=name --format=csv,noheader
F="-O3 -arch=sm_90a --default-stream per-thread -std=c++17 -Xcompiler -fopenmp,-Wno-unused-function -diag-suppress 177,550"
for v in "3 0" "3 1" "4 1" "6 1"; do
  set -- $v
  (nvcc $F -DGM_STAGES=$1 -DGM_INFLIGHT=$2 -o /tmp/gd_$1_$2 dev/bench/gemm_dgelu.cu -lcublasLt -lcublas -lm > /tmp/gd_$1_$2.log 2>&1 || tail -5 /tmp/gd_$1_$2.log) &
done
wait
for r in 1 2; do for v in 3_0 3_1 4_1 6_1; do echo "== stages/inflight $v"; /tmp/gd_$v | grep -E "largest|ours|cuBLASLt DGELU"; done; done
