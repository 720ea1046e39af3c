#!/usr/bin/env bash
# session 14, call 2 (issue 6): the lane-per-state backward reverted (s14_call1: slower); the conv
# dweight reduce over row slices; mamba-ssm's selective_scan built from its source (.mssm =
# csrc/selective_scan of mamba_ssm-2.3.2.post1) and timed next to our scan in the same call
set -u
export STB_INCLUDE=$PWD/.stb MAX_JOBS=10
nvidia-smi --query-gpu=name --format=csv,noheader
python3 dev/bench/mamba_ssm_scan.py .mssm --build-only > $OUT/mamba_ssm_build.log 2>&1 &
BUILD=$!
make -s -j6 cuda STB_INCLUDE=$STB_INCLUDE >/tmp/build.log 2>&1 || { tail -30 /tmp/build.log; exit 1; }
./test_gpu.out > $OUT/test_gpu.log 2>&1; echo "test_gpu rc $?"; grep -E "FAIL" $OUT/test_gpu.log | head; grep -E "conv1d\+silu backward.*(dweight|dbias)" $OUT/test_gpu.log | head -4; tail -1 $OUT/test_gpu.log
wait $BUILD; echo "mamba-ssm build rc $?"; tail -3 $OUT/mamba_ssm_build.log
dev/bench/bench_scan_cuda > $OUT/bench_scan.txt 2>&1; grep -E "^\| (mamba|longhorn)" $OUT/bench_scan.txt
python3 dev/bench/mamba_ssm_scan.py .mssm > $OUT/mamba_ssm_scan.txt 2>&1; tail -5 $OUT/mamba_ssm_scan.txt
dev/bench/bench_scan_cuda > $OUT/bench_scan2.txt 2>&1; grep -E "^\| (mamba|longhorn)" $OUT/bench_scan2.txt
B="-b 16 -t 1024 -n 30 --eval_every 0 --sample_len 0"
./train_gpu -m mamba -L 24 -C 768 $B > $OUT/b_mamba.log 2>&1; echo "mamba: $(grep '^step 30/' $OUT/b_mamba.log)"
