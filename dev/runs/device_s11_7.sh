#!/usr/bin/env bash
# session 11, call 7: the norms' output gradients in bf16 (matmul backwards write them, norm backward
# reads them): test_gpu, (b) and (a) timings and memory
set -u
export STB_INCLUDE=$PWD/.stb
nvidia-smi --query-gpu=name --format=csv,noheader
make -s -j8 train_gpu test_gpu.out STB_INCLUDE=$STB_INCLUDE >/tmp/build.log 2>&1 || { tail -30 /tmp/build.log; exit 1; }
./test_gpu.out > $OUT/test_gpu.log 2>&1; echo "test_gpu rc $?"; grep -v "^ok" $OUT/test_gpu.log | tail -6
grep "dout in bf16" $OUT/test_gpu.log | head -4; grep "model bf16 gpt --pos learned\|model bf16 llama --pos rope\|graph" $OUT/test_gpu.log | grep -v logits
./train_gpu -m gpt -L 12 -H 12 -C 768 -b 16 -t 1024 --dropout 0 --attn_dropout 0 --embd_dropout 0 -n 40 --eval_every 0 --sample_len 0 > $OUT/b_gpt.log 2>&1; echo "config b: $(grep '^step 40/' $OUT/b_gpt.log)"
./train_gpu -m gpt --dropout 0 --attn_dropout 0 --embd_dropout 0 -n 60 --eval_every 0 --sample_len 0 > $OUT/a_gpt.log 2>&1; echo "config a: $(grep '^step 60/' $OUT/a_gpt.log)"
./train_gpu -m gpt --dropout 0 --attn_dropout 0 --embd_dropout 0 -n 60 --eval_every 0 --sample_len 0 --recompute 2 > $OUT/a_gpt_r2.log 2>&1; echo "config a -r 2: $(grep '^step 60/' $OUT/a_gpt_r2.log)"
./train_gpu -m gpt -L 12 -H 12 -C 768 -b 16 -t 1024 --dropout 0 --attn_dropout 0 --embd_dropout 0 -n 40 --eval_every 0 --sample_len 0 > $OUT/b_gpt2.log 2>&1; echo "config b: $(grep '^step 40/' $OUT/b_gpt2.log)"
