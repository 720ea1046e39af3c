#!/usr/bin/env bash
# session 12, call 11 (issue 6): the scan forward with the next chunk prefetched by cp.async (kernels.cuh),
# then as call 7: test_gpu, the scan bench, whole
# models at B16 T1024 with our GPT on the same card, Shakespeare step times, a mamba profile
set -u
export STB_INCLUDE=$PWD/.stb
nvidia-smi --query-gpu=name --format=csv,noheader
make -s -j16 cuda STB_INCLUDE=$STB_INCLUDE >/tmp/build.log 2>&1 || { tail -30 /tmp/build.log; exit 1; }
./test_gpu.out > $OUT/test_gpu.log 2>&1; echo "test_gpu rc $?"; grep -E "FAIL|model.*(mamba|longhorn)|train_step mamba" $OUT/test_gpu.log; tail -1 $OUT/test_gpu.log
dev/bench/bench_scan_cuda > $OUT/bench_scan.txt 2>&1; tail -6 $OUT/bench_scan.txt
dev/bench/scan_fwd_variants 2>&1 | grep -E "kernels.cuh|prefetched" | tee $OUT/scan_fwd_variants.txt
B="-b 16 -t 1024 -n 30 --eval_every 0 --sample_len 0"
for m in mamba longhorn; do ./train_gpu -m $m -L 24 -C 768 $B > $OUT/b_$m.log 2>&1; echo "$m: $(grep '^step 30/' $OUT/b_$m.log)"; done
./train_gpu -m gpt -L 12 -H 12 -C 768 --dropout 0 --attn_dropout 0 --embd_dropout 0 $B > $OUT/b_gpt.log 2>&1; echo "gpt: $(grep '^step 30/' $OUT/b_gpt.log)"
for m in longhorn mamba; do ./train_gpu -m $m -n 60 --eval_every 0 --sample_len 0 | grep "^step 60/" | sed "s/^/$m shakespeare: /"; done
dev/bench/profile_gpu -m mamba -L 24 -C 768 -b 16 -t 1024 > $OUT/profile_mamba.txt 2>&1; head -24 $OUT/profile_mamba.txt; grep total $OUT/profile_mamba.txt
