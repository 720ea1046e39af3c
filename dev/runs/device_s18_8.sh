#!/usr/bin/env bash
# session 18, call 8: gemm_dgelu (our DGELU matmul kernel against cuBLASLt's), twice
set -u
. dev/runs/ab.sh
nvidia-smi --query-gpu=name --format=csv,noheader
build . 4 dev/bench/gemm_dgelu
dev/bench/gemm_dgelu; dev/bench/gemm_dgelu | tail -3
