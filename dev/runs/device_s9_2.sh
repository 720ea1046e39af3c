#!/usr/bin/env bash
# session 9, call 2: CUDA-graph training step: test_gpu, then step times with and without the graph
set -u
export STB_INCLUDE=$PWD/.stb
make -s -j8 cuda STB_INCLUDE=$STB_INCLUDE >/tmp/build.log 2>&1 || { tail -30 /tmp/build.log; exit 1; }
./test_gpu.out > $OUT/test_gpu.log 2>&1; echo "test_gpu rc $?"; grep -v "^ok" $OUT/test_gpu.log | tail -5; grep "train_step\|adamw\|grad_norm" $OUT/test_gpu.log
IH="-d induction -b 8 --lr 5e-4 --wd 0.1 --beta2 0.999 --warmup 25000 --min_lr 5e-5 -n 250000 --eval_every 0 --sample_len 0 --stop_at 3000"
for g in 0 1; do
  t0=$SECONDS
  ./train_gpu -m gpt -L 8 -C 128 -H 2 --dropout 0 --embd_dropout 0.1 --attn_dropout 0.1 $IH --cuda_graph $g > $OUT/ih_gpt_g$g.log 2>&1
  t1=$SECONDS
  ./train_gpu -m mamba -L 4 -C 128 --d_state 16 $IH --cuda_graph $g > $OUT/ih_mamba_g$g.log 2>&1
  t2=$SECONDS
  ./train_gpu -m longhorn -L 4 -C 128 --d_state 16 $IH --cuda_graph $g > $OUT/ih_longhorn_g$g.log 2>&1
  t3=$SECONDS
  echo "graph $g: IH 3000 steps wall gpt $((t1-t0)) s, mamba $((t2-t1)) s, longhorn $((t3-t2)) s"
  for m in gpt mamba longhorn; do grep "^step 3000/" $OUT/ih_${m}_g$g.log | sed "s/^/  $m: /"; done
done
for g in 0 1; do
  for m in gpt longhorn; do
    ./train_gpu -m $m -n 200 --eval_every 0 --sample_len 0 --cuda_graph $g > $OUT/shk_${m}_g$g.log 2>&1
    echo "shakespeare $m graph $g: $(grep '^step 200/' $OUT/shk_${m}_g$g.log)"
  done
  ./train_gpu -m gpt -L 12 -H 12 -C 768 -b 16 -t 1024 --dropout 0 --attn_dropout 0 -n 30 --eval_every 0 --sample_len 0 --cuda_graph $g > $OUT/b_gpt_g$g.log 2>&1
  echo "config b gpt graph $g: $(grep '^step 30/' $OUT/b_gpt_g$g.log)"
done
# the IH runs of all three at once with graphs: throughput
t0=$SECONDS
./train_gpu -m gpt -L 8 -C 128 -H 2 --dropout 0 --embd_dropout 0.1 --attn_dropout 0.1 $IH > $OUT/ih_gpt_par.log 2>&1 &
./train_gpu -m mamba -L 4 -C 128 --d_state 16 $IH > $OUT/ih_mamba_par.log 2>&1 &
./train_gpu -m longhorn -L 4 -C 128 --d_state 16 $IH > $OUT/ih_longhorn_par.log 2>&1 &
wait
echo "three IH runs at once, 3000 steps each: $((SECONDS-t0)) s"
