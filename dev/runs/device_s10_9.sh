#!/usr/bin/env bash
# session 10, call 9: deterministic embedding backward (graph vs eager bit-exact for gpt bf16),
# attention backward's packed bf16 stores: test_gpu, config (b) and (a) timings
set -u
export STB_INCLUDE=$PWD/.stb
make -s -j8 train_gpu test_gpu.out STB_INCLUDE=$STB_INCLUDE >/tmp/build.log 2>&1 || { tail -30 /tmp/build.log; exit 1; }
./test_gpu.out > $OUT/test_gpu.log 2>&1; echo "test_gpu rc $?"; grep -v "^ok" $OUT/test_gpu.log | tail -6; grep "train_step\|encoder" $OUT/test_gpu.log
for i in 1 2; do
./train_gpu -m gpt -L 12 -H 12 -C 768 -b 16 -t 1024 --dropout 0 --attn_dropout 0 --embd_dropout 0 -n 30 --eval_every 0 --sample_len 0 > $OUT/b_gpt.log 2>&1; echo "config b: $(grep '^step 30/' $OUT/b_gpt.log)"
./train_gpu -m gpt --dropout 0 --attn_dropout 0 --embd_dropout 0 -n 60 --eval_every 0 --sample_len 0 > $OUT/a_gpt.log 2>&1; echo "config a: $(grep '^step 60/' $OUT/a_gpt.log)"
done
