#!/usr/bin/env bash
# session 15, call 5 (issue 4): the attention tile loads without per-row checks on whole tiles, the
# forward's O rescale skipped when no row of a warp has a new maximum; test_gpu; bench_attn against
# .prev (the commit of call 4); then the GPT benchmark (ours vs PyTorch eager and torch.compile)
set -u
export STB_INCLUDE=$PWD/.stb PYTHONUNBUFFERED=1
nvidia-smi --query-gpu=name --format=csv,noheader
NF="-O3 -arch=sm_90a --default-stream per-thread -std=c++17 -Xcompiler -fopenmp,-Wno-unused-function -diag-suppress 177,550"
(make -s -j12 cuda STB_INCLUDE=$STB_INCLUDE >/tmp/build.log 2>&1; echo $? > /tmp/build.rc) &
(nvcc $NF -I.prev -o /tmp/bench_attn_prev dev/bench/bench_attn.cu -lcublasLt -lcublas -lm > /tmp/bp.log 2>&1) &
wait; [ "$(cat /tmp/build.rc)" = 0 ] || { tail -30 /tmp/build.log; exit 1; }
[ -x /tmp/bench_attn_prev ] || { tail /tmp/bp.log; exit 1; }
timeout 300 ./test_gpu.out > $OUT/test_gpu.log 2>&1; echo "test_gpu rc $?"; grep -E "FAIL" $OUT/test_gpu.log | head; grep -E "attention_(forward|backward) tiled.*(learned|hard_alibi, dropout)|gpt --pos alibi.*gradients" $OUT/test_gpu.log; tail -1 $OUT/test_gpu.log
for i in 1 2; do
  echo "== new $i"; dev/bench/bench_attn_cuda | tee -a $OUT/bench_attn.txt | grep -E "^\| "
  echo "== prev $i"; /tmp/bench_attn_prev | tee -a $OUT/bench_attn_prev.txt | grep -E "^\| ours (forward|backward)"
done
dev/bench/bench_gpu --configs a,b --steps 50 --no-build 2>&1 | tee $OUT/bench_gpu.txt | tail -22
