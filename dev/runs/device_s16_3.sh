#!/usr/bin/env bash
# session 16, call 3 (same H200): torch.compile's (b) step under torch.profiler (per-kernel table)
set -u
export PYTHONUNBUFFERED=1
nvidia-smi --query-gpu=name --format=csv,noheader
timeout 240 python3 dev/bench/torch_gpt_gpu.py --mode compile --layers 12 --heads 12 --width 768 --batch 16 --seq 1024 --steps 20 --profile 5 > $OUT/torch_compile_profile_b.txt 2>&1; echo "torch profile rc $?"; grep -A60 "^profile:" $OUT/torch_compile_profile_b.txt | cut -c1-160
