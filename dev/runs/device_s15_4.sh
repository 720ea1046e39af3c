#!/usr/bin/env bash
# session 15, call 4 (issue 4): fewer instructions in the attention kernels (tile loads with addresses computed once,
# the softmax scale in the FFMA before each exp2, a reciprocal for 1/l, dQ kernel at 4 blocks per SM); test_gpu;
# dev/bench/bench_attn against .prev (call 1's wgmma kernels) and .base (mma.sync, 4730270), PyTorch
# SDPA; GPT (b) vs .prev; Nsight Compute instruction counts
set -u
export STB_INCLUDE=$PWD/.stb PYTHONUNBUFFERED=1
nvidia-smi --query-gpu=name --format=csv,noheader
NF="-O3 -arch=sm_90a --default-stream per-thread -std=c++17 -Xcompiler -fopenmp,-Wno-unused-function -diag-suppress 177,550"
(make -s -j10 cuda STB_INCLUDE=$STB_INCLUDE >/tmp/build.log 2>&1; echo $? > /tmp/build.rc) &
(nvcc $NF -I.prev -o /tmp/bench_attn_prev dev/bench/bench_attn.cu -lcublasLt -lcublas -lm > /tmp/bp.log 2>&1) &
(nvcc $NF -I.base -o /tmp/bench_attn_base dev/bench/bench_attn.cu -lcublasLt -lcublas -lm > /tmp/bb.log 2>&1) &
(cd .prev && make -s -j4 train_gpu STB_INCLUDE=$STB_INCLUDE) >/tmp/build_prev.log 2>&1 || { tail -30 /tmp/build_prev.log; exit 1; }
wait; [ "$(cat /tmp/build.rc)" = 0 ] || { tail -30 /tmp/build.log; exit 1; }
ls -la /tmp/bench_attn_prev /tmp/bench_attn_base >/dev/null || { cat /tmp/bp.log /tmp/bb.log | tail; exit 1; }
timeout 300 ./test_gpu.out > $OUT/test_gpu.log 2>&1; echo "test_gpu rc $?"; grep -E "FAIL" $OUT/test_gpu.log | head; grep -E "attention_(forward|backward) tiled" $OUT/test_gpu.log | head -30; tail -1 $OUT/test_gpu.log
for i in 1 2; do
  for v in new prev base; do
    case $v in new) bin=dev/bench/bench_attn_cuda;; *) bin=/tmp/bench_attn_$v;; esac
    echo "== $v $i"; $bin | tee -a $OUT/bench_attn.txt | grep -E "^\| ours"
  done
done
python3 dev/bench/torch_attn.py 2>&1 | tee $OUT/torch_attn.txt
B="-b 16 -t 1024 -n 30 --eval_every 0 --sample_len 0 -L 12 -H 12 -C 768 --dropout 0 --attn_dropout 0 --embd_dropout 0"
med() { grep -E '^step ([12][0-9]|30)/' $1 | sed -E 's/.*\| ([0-9.]+) ms.*/\1/' | sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
for i in 1 2; do
  ./train_gpu -m gpt $B > $OUT/b_new$i.log 2>&1; echo "new $i: median ms $(med $OUT/b_new$i.log) | $(grep '^step 30/' $OUT/b_new$i.log)"
  .prev/train_gpu -m gpt $B > /tmp/b_prev$i.log 2>&1; echo "prev $i: median ms $(med /tmp/b_prev$i.log) | $(grep '^step 30/' /tmp/b_prev$i.log)"
done
for k in forward backward_dkdv backward_dq; do
  timeout 100 ncu --section SpeedOfLight --section InstructionStats --section WarpStateStats --section Occupancy --kernel-name regex:flash_attention_${k}_kernel --launch-skip 3 --launch-count 1 dev/bench/bench_attn_cuda > $OUT/ncu_$k.txt 2>&1
  echo "== $k rc $?"; grep -E "^\s+(Duration|Compute \(SM\) Throughput|Executed Instructions |Issue Slots Busy|Achieved Occupancy|Registers Per Thread)" $OUT/ncu_$k.txt
done
