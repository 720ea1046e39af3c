#!/usr/bin/env bash
# session 13, call 9 (issue 6): ./train_gpu -m longhorn and -m mamba with defaults (Shakespeare) on the
# final kernels; the first 1000 steps with a val loss every 50 steps
set -u
export STB_INCLUDE=$PWD/.stb
nvidia-smi --query-gpu=name --format=csv,noheader
make -s -j16 train_gpu STB_INCLUDE=$STB_INCLUDE >/tmp/build.log 2>&1 || { tail -20 /tmp/build.log; exit 1; }
for m in longhorn mamba; do
  ./train_gpu -m $m --log $OUT/${m}_shakespeare.csv > $OUT/${m}_shakespeare.log 2>&1
  echo "$m rc $?"; grep -E "val|s of training|wall" $OUT/${m}_shakespeare.log | tail -4
done
for m in longhorn mamba; do
  ./train_gpu -m $m --eval_every 50 --stop_at 1000 --sample_len 0 --log $OUT/${m}_first1000_eval50.csv > $OUT/${m}_first1000.log 2>&1
  echo "$m first 1000 rc $?"
done
