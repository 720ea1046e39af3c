#!/usr/bin/env bash
# session 12, call 3: same-card baselines for call 2 (which ran on an H100): the previous commit
# (a53274b, fp32 SSM activations, one lane per channel in the scan forward) built from tmp_old/,
# against this tree: the scan kernels alone, the forward variants, whole mamba at (b)
set -u
export STB_INCLUDE=$PWD/.stb
nvidia-smi --query-gpu=name --format=csv,noheader
make -s -j16 cuda STB_INCLUDE=$STB_INCLUDE >/tmp/build.log 2>&1 || { tail -30 /tmp/build.log; exit 1; }
(cd tmp_old && make -s -j16 train_gpu dev/bench/bench_scan_cuda STB_INCLUDE=$STB_INCLUDE >/tmp/build_old.log 2>&1) || { tail -30 /tmp/build_old.log; exit 1; }
echo "=== old (a53274b) bench_scan"; tmp_old/dev/bench/bench_scan_cuda | tee $OUT/bench_scan_old.txt | tail -4
echo "=== new bench_scan"; dev/bench/bench_scan_cuda | tee $OUT/bench_scan_new.txt | tail -6
echo "=== scan_fwd_variants (reference: the new kernels.cuh forward, bf16 inputs)"; dev/bench/scan_fwd_variants | tee $OUT/scan_fwd_variants.txt
B="-b 16 -t 1024 -n 30 --eval_every 0 --sample_len 0"
for v in old new; do
  d=.; [ $v = old ] && d=tmp_old
  for m in mamba longhorn; do (cd $d && ./train_gpu -m $m -L 24 -C 768 $B > $OUT/b_${m}_$v.log 2>&1); echo "$v $m: $(grep '^step 30/' $OUT/b_${m}_$v.log)"; done
done
./test_gpu.out > $OUT/test_gpu.log 2>&1; echo "test_gpu rc $?"; grep FAIL $OUT/test_gpu.log; tail -1 $OUT/test_gpu.log
