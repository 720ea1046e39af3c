#!/bin/bash
# ab.sh N: N alternating pairs (order swapped every pair) of 40-step runs of two builds copied to
# /tmp/inst/train_cpu_old and /tmp/inst/train_cpu_new; prints the median ms of steps 11-40 of each
cd /work/main
for i in $(seq 1 $1); do
  if [ $((i%2)) = 0 ]; then order="old new"; else order="new old"; fi
  for v in $order; do
    /tmp/inst/train_cpu_$v -m gpt -n 40 --eval_every 0 --eval_batches 1 --sample_len 0 > /tmp/inst/r_$v.txt
    eval "m_$v=$(grep "^step" /tmp/inst/r_$v.txt | awk -F'|' 'NR>10 {print $5}' | sort -n | awk '{a[NR]=$1} END {printf "%s", a[int(NR/2)]}')"
  done
  echo "old $m_old new $m_new ratio $(python3 -c "print('%.3f'%($m_old/$m_new))")"
done
