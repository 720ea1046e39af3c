#!/usr/bin/env bash
# session 9, call 1: test_gpu after the ssm_dt review commit; step times of the induction-head table's runs
set -u
export STB_INCLUDE=$PWD/.stb
nvidia-smi --query-gpu=name --format=csv,noheader
make -s -j3 train_gpu test_gpu.out STB_INCLUDE=$STB_INCLUDE >/tmp/build.log 2>&1 || { tail -20 /tmp/build.log; exit 1; }
./test_gpu.out > $OUT/test_gpu.log 2>&1; echo "test_gpu rc $?"; grep -v "^ok" $OUT/test_gpu.log | tail -3
IH="-d induction -b 8 --lr 5e-4 --wd 0.1 --beta2 0.999 --warmup 25000 --min_lr 5e-5 -n 250000 --eval_every 0 --sample_len 0"
# alone
t0=$SECONDS
./train_gpu -m gpt -L 8 -C 128 -H 2 --dropout 0 --embd_dropout 0.1 --attn_dropout 0.1 $IH --stop_at 2000 > $OUT/ih_gpt_alone.log 2>&1
./train_gpu -m mamba -L 4 -C 128 --d_state 16 $IH --stop_at 2000 > $OUT/ih_mamba_alone.log 2>&1
./train_gpu -m longhorn -L 4 -C 128 --d_state 16 $IH --stop_at 2000 > $OUT/ih_longhorn_alone.log 2>&1
echo "alone total $((SECONDS-t0)) s"; t0=$SECONDS
for m in gpt mamba longhorn; do grep "^step 2000/" $OUT/ih_${m}_alone.log | sed "s/^/$m alone: /"; done
# three at once on one GPU
./train_gpu -m gpt -L 8 -C 128 -H 2 --dropout 0 --embd_dropout 0.1 --attn_dropout 0.1 $IH --stop_at 2000 > $OUT/ih_gpt_par.log 2>&1 &
./train_gpu -m mamba -L 4 -C 128 --d_state 16 $IH --stop_at 2000 > $OUT/ih_mamba_par.log 2>&1 &
./train_gpu -m longhorn -L 4 -C 128 --d_state 16 $IH --stop_at 2000 > $OUT/ih_longhorn_par.log 2>&1 &
wait
echo "parallel total $((SECONDS-t0)) s"
for m in gpt mamba longhorn; do grep "^step 2000/" $OUT/ih_${m}_par.log | sed "s/^/$m parallel: /"; done
