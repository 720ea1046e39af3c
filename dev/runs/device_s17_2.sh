#!/usr/bin/env bash
# session 17, call 2: SASS of the scan forward kernels (N 16, bf16, cp.async path), to count
# what a chunk spends outside the state update
set -u
nvidia-smi --query-gpu=name --format=csv,noheader
nvcc -O3 -arch=sm_90a --default-stream per-thread -std=c++17 -Xcompiler -fopenmp,-Wno-unused-function -diag-suppress 177,550 \
   -cubin -o /tmp/bs.cubin dev/bench/bench_scan.cu || exit 1
for lh in 0 1; do
  cuobjdump -sass /tmp/bs.cubin | awk -v pat="ssm_scan_forward_kernelILi16ELi${lh}ELb1E13__nv_bfloat16" '/Function : /{p = index($0, pat) > 0} p' > $OUT/fwd_lh$lh.sass
  echo "lh=$lh: $(grep -cE '^\s+/\*[0-9a-f]+\*/' $OUT/fwd_lh$lh.sass) instructions"
  grep -E '^\s+/\*[0-9a-f]+\*/' $OUT/fwd_lh$lh.sass | sed -E 's/^\s+\/\*[0-9a-f]+\*\/\s+(@!?U?P[T0-9]+ )?//; s/[ ;].*//' | sort | uniq -c | sort -rn | head -40
done
