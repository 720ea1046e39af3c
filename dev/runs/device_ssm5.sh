#!/usr/bin/env bash
# device call 5 (issue 6): ./train_gpu -m longhorn and -m mamba with defaults (Shakespeare)
set -u
make -s train_gpu >/tmp/build.log 2>&1 || { tail -20 /tmp/build.log; exit 1; }
for m in longhorn mamba; do
  ./train_gpu -m $m --log $OUT/${m}_shakespeare_gpu_h200.csv > $OUT/${m}_shakespeare_gpu_h200.log 2>&1
  echo "$m rc $?"; grep -E "val|s of training" $OUT/${m}_shakespeare_gpu_h200.log | tail -6
done
