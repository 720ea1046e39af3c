#!/usr/bin/env bash
# session 18, call 11 (after the review's refactor of lt_matmul's heuristic query): test_gpu;
# bench_lt_search --quick (the candidate tables that replace bench_dgelu)
set -u
. dev/runs/ab.sh
nvidia-smi --query-gpu=name --format=csv,noheader
(build . 4 test_gpu.out; echo ok > /tmp/b1) & (build . 4 dev/bench/bench_lt_search; echo ok > /tmp/b2) & wait
ls /tmp/b1 /tmp/b2 || exit 1
timeout 150 ./test_gpu.out > $OUT/test_gpu.log 2>&1; echo "test_gpu rc $?"; grep -E "FAIL|lt_matmul" $OUT/test_gpu.log | head; tail -1 $OUT/test_gpu.log
timeout 40 dev/bench/bench_lt_search --quick > $OUT/bench_lt_search_quick.txt 2>&1; echo "lt rc $?"; grep -E "^##|no heuristic|heuristic #0" $OUT/bench_lt_search_quick.txt
