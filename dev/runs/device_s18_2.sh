#!/usr/bin/env bash
# session 18, call 2: bench_lt_search with the row-major forms of the GELU-epilogue products and
# nvjet's (algo 66) tiles tried one by one; (rerun with --all: the column-major forms too)
set -u
. dev/runs/ab.sh
nvidia-smi --query-gpu=name --format=csv,noheader
build . 4 dev/bench/bench_lt_search
timeout 400 dev/bench/bench_lt_search --all > $OUT/bench_lt_search.txt 2>&1; echo "bench_lt_search rc $?"
grep -v "^<!--" $OUT/bench_lt_search.txt | grep -v "^| heuristic" | head -60
grep "^<!--" $OUT/bench_lt_search.txt | grep -v " 0 configurations"
