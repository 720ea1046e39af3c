#!/usr/bin/env bash
# session 16, call 6 (final build, H100): make cuda; test_gpu (with the lt_matmul same-bits check);
# bench_gpu a,b; per-kernel tables of ours (profile_gpu) and of torch.compile (torch_gpt_gpu.py --profile) on config (b)
set -u
export STB_INCLUDE=$PWD/.stb PYTHONUNBUFFERED=1
nvidia-smi --query-gpu=name --format=csv,noheader
make -s -j16 cuda STB_INCLUDE=$STB_INCLUDE >/tmp/build.log 2>&1 || { tail -30 /tmp/build.log; exit 1; }
timeout 400 ./test_gpu.out > $OUT/test_gpu.log 2>&1; echo "test_gpu rc $?"; grep -E "FAIL|lt_matmul|note:" $OUT/test_gpu.log | head -20; grep -E "graph vs eager" $OUT/test_gpu.log; tail -1 $OUT/test_gpu.log
timeout 400 dev/bench/bench_gpu --configs a,b --steps 50 --no-build > $OUT/bench_gpu.txt 2>&1; echo "bench rc $?"; grep -A6 "^### config" $OUT/bench_gpu.txt
timeout 200 dev/bench/profile_gpu -L 12 -H 12 -C 768 -b 16 -t 1024 --dropout 0 --attn_dropout 0 --embd_dropout 0 > $OUT/profile_b.txt 2>&1; echo "profile rc $?"; head -36 $OUT/profile_b.txt
timeout 200 python3 dev/bench/torch_gpt_gpu.py --mode compile --layers 12 --heads 12 --width 768 --batch 16 --seq 1024 --steps 20 --profile 5 > $OUT/torch_compile_profile_b.txt 2>&1; echo "torch profile rc $?"; grep -A32 "^profile:" $OUT/torch_compile_profile_b.txt | cut -c1-150
