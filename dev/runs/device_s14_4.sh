#!/usr/bin/env bash
# session 14, call 4 (issue 6): a whole Mamba LM in PyTorch on mamba-ssm's scan kernels
# (dev/bench/mamba_ssm_model.py, 24 blocks x 768, B16 T1024) next to train_gpu's mamba and GPT of
# the same size, one H100
set -u
export STB_INCLUDE=$PWD/.stb MAX_JOBS=10 PYTHONUNBUFFERED=1
nvidia-smi --query-gpu=name --format=csv,noheader
python3 dev/bench/mamba_ssm_scan.py .mssm/selective_scan --build-only > $OUT/mamba_ssm_build.log 2>&1 &
BUILD=$!
make -s -j6 train_gpu STB_INCLUDE=$STB_INCLUDE >/tmp/build.log 2>&1 || { tail -30 /tmp/build.log; exit 1; }
wait $BUILD; echo "mamba-ssm build rc $?"
B="-b 16 -t 1024 -n 30 --eval_every 0 --sample_len 0"
./train_gpu -m mamba -L 24 -C 768 $B > $OUT/b_mamba.log 2>&1; echo "mamba: $(grep '^step 30/' $OUT/b_mamba.log)"
./train_gpu -m gpt -L 12 -H 12 -C 768 --dropout 0 --attn_dropout 0 --embd_dropout 0 $B > $OUT/b_gpt.log 2>&1; echo "gpt: $(grep '^step 30/' $OUT/b_gpt.log)"
timeout 400 python3 dev/bench/mamba_ssm_model.py .mssm/selective_scan > $OUT/mamba_ssm_model.txt 2>&1; echo "model rc $?"; tail -6 $OUT/mamba_ssm_model.txt
