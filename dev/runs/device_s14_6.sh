#!/usr/bin/env bash
# session 14, call 6: the weight-gradient matmuls of config (b), one cuBLAS call vs a split over the tokens
make -s -j16 dev/bench/bench_dw STB_INCLUDE=$PWD/.stb > /tmp/b.log 2>&1 || { tail -20 /tmp/b.log; exit 1; }; dev/bench/bench_dw 2>&1 | tee $OUT/bench_dw.txt
