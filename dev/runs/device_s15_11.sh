#!/usr/bin/env bash
# session 15, call 11 (issue 4): the dK dV kernel starts dV += P^T dO before computing dS^T (overlap);
# at 3 blocks per SM its registers spill and ptxas serialises the wgmmas, so 2 is tried too, and the
# old kernel (.prev) at 3 and 2: bench_attn of all four, alternating
set -u
export STB_INCLUDE=$PWD/.stb
nvidia-smi --query-gpu=name --format=csv,noheader
NF="-O3 -arch=sm_90a --default-stream per-thread -std=c++17 -Xcompiler -fopenmp,-Wno-unused-function -diag-suppress 177,550"
B="dev/bench/bench_attn.cu -lcublasLt -lcublas -lm"
nvcc $NF -I. -o /tmp/new3 $B > /tmp/b1.log 2>&1 &
nvcc $NF -I. -DFA_DKDV_MIN_BLOCKS=2 -o /tmp/new2 $B > /tmp/b2.log 2>&1 &
nvcc $NF -I.prev -o /tmp/old3 $B > /tmp/b3.log 2>&1 &
nvcc $NF -I.prev -DFA_DKDV_MIN_BLOCKS=2 -o /tmp/old2 $B > /tmp/b4.log 2>&1 &
wait
for v in new3 new2 old3 old2; do [ -x /tmp/$v ] || { echo "build $v failed"; cat /tmp/b*.log | tail; exit 1; }; done
for i in 1 2; do for v in old3 new3 new2 old2; do echo "== $v $i: $(/tmp/$v | grep -E 'backward: dK dV|ours backward \(all\)' | tr '\n' ' ')"; done; done
