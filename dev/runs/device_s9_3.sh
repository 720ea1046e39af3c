#!/usr/bin/env bash
# session 9, call 3: bf16 weight mirror (AdamW writes it; no per-matmul weight copies), dout rounded
# once per linear backward: test_gpu, step times, per-kernel profiles of the induction-head models
set -u
export STB_INCLUDE=$PWD/.stb
make -s -j8 cuda STB_INCLUDE=$STB_INCLUDE >/tmp/build.log 2>&1 || { tail -30 /tmp/build.log; exit 1; }
./test_gpu.out > $OUT/test_gpu.log 2>&1; echo "test_gpu rc $?"; grep -v "^ok" $OUT/test_gpu.log | tail -5; grep "train_step" $OUT/test_gpu.log
IHF="-d induction -b 8 --lr 5e-4 --wd 0.1 --beta2 0.999 --min_lr 5e-5 --eval_every 0 --sample_len 0"
IH="$IHF --warmup 25000 -n 250000 --stop_at 3000"
t0=$SECONDS
./train_gpu -m gpt -L 8 -C 128 -H 2 --dropout 0 --embd_dropout 0.1 --attn_dropout 0.1 $IH > $OUT/ih_gpt.log 2>&1
t1=$SECONDS
./train_gpu -m mamba -L 4 -C 128 --d_state 16 $IH > $OUT/ih_mamba.log 2>&1
t2=$SECONDS
./train_gpu -m longhorn -L 4 -C 128 --d_state 16 $IH > $OUT/ih_longhorn.log 2>&1
t3=$SECONDS
echo "IH 3000 steps wall gpt $((t1-t0)) s, mamba $((t2-t1)) s, longhorn $((t3-t2)) s"
for m in gpt mamba longhorn; do grep "^step 3000/" $OUT/ih_${m}.log | sed "s/^/  $m: /"; done
for m in gpt longhorn; do
  ./train_gpu -m $m -n 200 --eval_every 0 --sample_len 0 > $OUT/shk_${m}.log 2>&1
  echo "shakespeare $m: $(grep '^step 200/' $OUT/shk_${m}.log)"
done
./train_gpu -m gpt -L 12 -H 12 -C 768 -b 16 -t 1024 --dropout 0 --attn_dropout 0 -n 30 --eval_every 0 --sample_len 0 > $OUT/b_gpt.log 2>&1
echo "config b gpt: $(grep '^step 30/' $OUT/b_gpt.log)"
./train_gpu -m mamba -L 24 -C 768 -b 16 -t 1024 -n 30 --eval_every 0 --sample_len 0 > $OUT/b_mamba.log 2>&1
echo "config b mamba: $(grep '^step 30/' $OUT/b_mamba.log)"
dev/bench/profile_gpu -L 8 -C 128 -H 2 --dropout 0 --embd_dropout 0.1 --attn_dropout 0.1 $IHF --warmup 10 > $OUT/profile_ih_gpt.txt 2>&1
dev/bench/profile_gpu -m mamba -L 4 -C 128 --d_state 16 $IHF --warmup 10 > $OUT/profile_ih_mamba.txt 2>&1
head -30 $OUT/profile_ih_gpt.txt; head -25 $OUT/profile_ih_mamba.txt
