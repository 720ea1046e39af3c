#!/usr/bin/env bash
# device call 9: test_gpu after the last refactor; per-kernel profile of the whole mamba model (24 x 768, B16 T1024)
set -u
make -s -j3 train_gpu test_gpu.out >/tmp/build.log 2>&1 || { tail -20 /tmp/build.log; exit 1; }
./test_gpu.out > $OUT/test_gpu.log 2>&1; echo "test_gpu rc $?"; tail -1 $OUT/test_gpu.log
timeout 400 dev/bench/profile_gpu -m mamba -L 24 -C 768 -b 16 -t 1024 > $OUT/profile_mamba_b.txt 2>&1; echo "profile rc $?"
head -30 $OUT/profile_mamba_b.txt
