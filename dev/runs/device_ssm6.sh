#!/usr/bin/env bash
# device call 6: the AR table's Mamba and Longhorn rows (issues 5, 6); the first 1000 steps of the
# Shakespeare SSM runs with an eval every 50 steps (which learns faster)
set -u
export STB_INCLUDE=$PWD/.stb
make clean >/dev/null
make -s train_gpu STB_INCLUDE=$STB_INCLUDE >/tmp/build.log 2>&1 || { tail -20 /tmp/build.log; exit 1; }
for m in longhorn mamba; do
  ./train_gpu -m $m --eval_every 50 --stop_at 1000 --sample_len 0 --log $OUT/${m}_first1000_eval50.csv > /tmp/$m.log 2>&1
  echo "$m rc $?"; grep "val loss" /tmp/$m.log | sort -t' ' -k5 -n | head -2
done
dev/repro/seq_icl_table ar --models mamba,longhorn --out /tmp/repro_ar > $OUT/ar_table_ssm.md 2>&1; echo "repro rc $?"
cp /tmp/repro_ar/ar_mamba.csv /tmp/repro_ar/ar_longhorn.csv /tmp/repro_ar/ar_mamba.log /tmp/repro_ar/ar_longhorn.log $OUT/ 2>/dev/null
tail -16 $OUT/ar_table_ssm.md
