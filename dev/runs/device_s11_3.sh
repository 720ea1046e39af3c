#!/usr/bin/env bash
# session 11, call 3: attention forward with 32 query rows per warp (attn32 merged), GELU_AUX_BIAS
# with a bf16 bias, fch_act one layer (recomputed in the backward): attn_fwd_cmp, test_gpu, (b), (a), profile (b)
set -u
export STB_INCLUDE=$PWD/.stb
nvidia-smi --query-gpu=name --format=csv,noheader
make -s -j8 cuda dev/bench/attn_fwd_cmp STB_INCLUDE=$STB_INCLUDE >/tmp/build.log 2>&1 || { tail -30 /tmp/build.log; exit 1; }
dev/bench/attn_fwd_cmp > $OUT/attn_fwd_cmp.txt 2>&1; echo "attn_fwd_cmp rc $?"; tail -12 $OUT/attn_fwd_cmp.txt
./test_gpu.out > $OUT/test_gpu.log 2>&1; echo "test_gpu rc $?"; grep -v "^ok" $OUT/test_gpu.log | tail -6
grep "epilogue\|model bf16 gpt\|model bf16 llama\|graph" $OUT/test_gpu.log
for i in 1 2; do
./train_gpu -m gpt -L 12 -H 12 -C 768 -b 16 -t 1024 --dropout 0 --attn_dropout 0 --embd_dropout 0 -n 30 --eval_every 0 --sample_len 0 > $OUT/b_gpt.log 2>&1; echo "config b: $(grep '^step 30/' $OUT/b_gpt.log)"
./train_gpu -m gpt --dropout 0 --attn_dropout 0 --embd_dropout 0 -n 60 --eval_every 0 --sample_len 0 > $OUT/a_gpt.log 2>&1; echo "config a: $(grep '^step 60/' $OUT/a_gpt.log)"
done
dev/bench/profile_gpu -L 12 -H 12 -C 768 -b 16 -t 1024 --dropout 0 --attn_dropout 0 --embd_dropout 0 > $OUT/profile_b.txt 2>&1
head -26 $OUT/profile_b.txt; grep "total" $OUT/profile_b.txt
