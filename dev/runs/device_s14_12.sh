#!/usr/bin/env bash
# session 14, call 12 (issue 6): longhorn's backward computes k^2 once per state and step; the final
# check of the session: test_gpu, the scan bench against .base (commit 3212372), whole models (b),
# and the default Shakespeare runs of longhorn and mamba
set -u
export STB_INCLUDE=$PWD/.stb
nvidia-smi --query-gpu=name --format=csv,noheader
make -s -j16 cuda STB_INCLUDE=$STB_INCLUDE >/tmp/build.log 2>&1 || { tail -30 /tmp/build.log; exit 1; }
(cd .base && make -s -j16 dev/bench/bench_scan_cuda STB_INCLUDE=$STB_INCLUDE) >/tmp/build_base.log 2>&1 || { tail -30 /tmp/build_base.log; exit 1; }
./test_gpu.out > $OUT/test_gpu.log 2>&1; echo "test_gpu rc $?"; grep -E "FAIL" $OUT/test_gpu.log | head; grep -E "ssm_scan_backward longhorn (fp32|bf16) N 16 T 100 E 88: (dxc|d x_proj)|model (fp32|bf16) (mamba|longhorn).*gradients|encoder_backward" $OUT/test_gpu.log; tail -1 $OUT/test_gpu.log
for i in 1 2; do
  dev/bench/bench_scan_cuda > $OUT/bench_scan_new$i.txt 2>&1; echo "new $i: $(grep -E '^\| (mamba|longhorn)' $OUT/bench_scan_new$i.txt | tr '\n' ' ')"
  .base/dev/bench/bench_scan_cuda > $OUT/bench_scan_old$i.txt 2>&1; echo "old $i: $(grep -E '^\| (mamba|longhorn)' $OUT/bench_scan_old$i.txt | tr '\n' ' ')"
done
B="-b 16 -t 1024 -n 30 --eval_every 0 --sample_len 0"
for m in mamba longhorn; do ./train_gpu -m $m -L 24 -C 768 $B > $OUT/b_$m.log 2>&1; echo "$m: $(grep '^step 30/' $OUT/b_$m.log)"; done
./train_gpu -m gpt -L 12 -H 12 -C 768 --dropout 0 --attn_dropout 0 --embd_dropout 0 $B > $OUT/b_gpt.log 2>&1; echo "gpt: $(grep '^step 30/' $OUT/b_gpt.log)"
for m in longhorn mamba; do ./train_gpu -m $m --log $OUT/${m}_shakespeare.csv > $OUT/${m}_shakespeare.log 2>&1; echo "$m default: rc $?"; grep -E "final val|best periodic|^step 5000/" $OUT/${m}_shakespeare.log; done
