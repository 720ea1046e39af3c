#!/usr/bin/env bash
# session 14, call 8: the embedding backward's loads of 8 rows issued before their adds (call 7's
# form serialised them and measured 1.075 ms); test_gpu, whole models (b), a mamba profile
set -u
export STB_INCLUDE=$PWD/.stb
nvidia-smi --query-gpu=name --format=csv,noheader
make -s -j16 cuda STB_INCLUDE=$STB_INCLUDE >/tmp/build.log 2>&1 || { tail -30 /tmp/build.log; exit 1; }
./test_gpu.out > $OUT/test_gpu.log 2>&1; echo "test_gpu rc $?"; grep -E "FAIL" $OUT/test_gpu.log | head; grep -E "encoder_backward" $OUT/test_gpu.log; tail -1 $OUT/test_gpu.log
B="-b 16 -t 1024 -n 30 --eval_every 0 --sample_len 0"
./train_gpu -m mamba -L 24 -C 768 $B > $OUT/b_mamba.log 2>&1; echo "mamba: $(grep '^step 30/' $OUT/b_mamba.log)"
./train_gpu -m gpt -L 12 -H 12 -C 768 --dropout 0 --attn_dropout 0 --embd_dropout 0 $B > $OUT/b_gpt.log 2>&1; echo "gpt: $(grep '^step 30/' $OUT/b_gpt.log)"
dev/bench/profile_gpu -m mamba -L 24 -C 768 -b 16 -t 1024 > $OUT/profile_mamba.txt 2>&1; grep -E "encoder|conv1d_dweight|total" $OUT/profile_mamba.txt
