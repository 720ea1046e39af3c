#!/usr/bin/env bash
# session 10, call 3: unrolled attention backward (no stack), bf16 fch (c_fc writes bf16, GELU reads bf16, writes bf16 d(fch))
set -u
export STB_INCLUDE=$PWD/.stb
make -s -j8 cuda STB_INCLUDE=$STB_INCLUDE >/tmp/build.log 2>&1 || { tail -30 /tmp/build.log; exit 1; }
cuobjdump --dump-resource-usage train_gpu 2>/dev/null | grep -A1 "flash_attention" | grep -o "Function [^ ]*\|REG:[0-9]*\|STACK:[0-9]*\|LOCAL:[0-9]*" | paste - - - - | sed 's/Function _ZN3gpu//' | cut -c1-120
./test_gpu.out > $OUT/test_gpu.log 2>&1; echo "test_gpu rc $?"; grep -v "^ok" $OUT/test_gpu.log | tail -8; grep "attention.*tiled\|gelu\|train_step gpt" $OUT/test_gpu.log
B="-m gpt -L 12 -H 12 -C 768 -b 16 -t 1024 --dropout 0 --attn_dropout 0 --embd_dropout 0"
./train_gpu $B -n 30 --eval_every 0 --sample_len 0 > $OUT/b_gpt.log 2>&1; echo "config b: $(grep '^step 30/' $OUT/b_gpt.log)"
./train_gpu -m gpt -n 100 --eval_every 0 --sample_len 0 > $OUT/shk_gpt.log 2>&1; echo "shakespeare: $(grep '^step 100/' $OUT/shk_gpt.log)"
dev/bench/profile_gpu -L 12 -H 12 -C 768 -b 16 -t 1024 --dropout 0 --attn_dropout 0 --embd_dropout 0 > $OUT/profile_b.txt 2>&1
head -24 $OUT/profile_b.txt; grep "total" $OUT/profile_b.txt
