#!/usr/bin/env bash
# session 18, call 10: gemm_dgelu with 128 x 256 tiles (m64n256k16) against 128 x 128
set -u
nvidia-smi --query-gpu=name --format=csv,noheader
F="-O3 -arch=sm_90a --default-stream per-thread -std=c++17 -Xcompiler -fopenmp,-Wno-unused-function -diag-suppress 177,550"
for v in "128 3 0" "256 4 1" "256 4 0" "256 3 1"; do
  set -- $v
  (nvcc $F -DGM_BN=$1 -DGM_STAGES=$2 -DGM_INFLIGHT=$3 -o /tmp/gd_$1_$2_$3 dev/bench/gemm_dgelu.cu -lcublasLt -lcublas -lm > /tmp/gd_$1_$2_$3.log 2>&1 || tail -5 /tmp/gd_$1_$2_$3.log) &
done
wait
for r in 1 2; do for v in 128_3_0 256_4_1 256_4_0 256_3_1; do echo "== BN/stages/inflight $v"; /tmp/gd_$v | grep -E "largest|ours|cuBLASLt DGELU"; done; done
