#!/usr/bin/env bash
# session 16, call 2 (same H200 as call 1): where torch.compile's (b) step goes (torch.profiler,
# torch_gpt_gpu.py --profile 5) next to ours (dev/bench/profile_gpu), and bench_gpu a,b on this H200
set -u
export STB_INCLUDE=$PWD/.stb PYTHONUNBUFFERED=1
nvidia-smi --query-gpu=name --format=csv,noheader
make -s -j16 train_gpu STB_INCLUDE=$STB_INCLUDE >/tmp/build.log 2>&1 || { tail -30 /tmp/build.log; exit 1; }
timeout 240 python3 dev/bench/torch_gpt_gpu.py --mode compile --layers 12 --heads 12 --width 768 --batch 16 --seq 1024 --steps 30 --profile 5 > $OUT/torch_compile_profile_b.txt 2>&1; echo "torch profile rc $?"; grep -A45 "^profile:" $OUT/torch_compile_profile_b.txt | head -50
timeout 200 dev/bench/profile_gpu -L 12 -H 12 -C 768 -b 16 -t 1024 --dropout 0 --attn_dropout 0 --embd_dropout 0 > $OUT/profile_b.txt 2>&1; echo "profile rc $?"; head -40 $OUT/profile_b.txt
timeout 400 dev/bench/bench_gpu --configs a,b --steps 50 --no-build > $OUT/bench_gpu.txt 2>&1; echo "bench rc $?"; tail -25 $OUT/bench_gpu.txt
