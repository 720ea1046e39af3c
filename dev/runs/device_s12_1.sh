#!/usr/bin/env bash
# next session, call 1 (prepared at the end of session 11, not yet run): the two kernel experiments
# written without a GPU -- the attention backward with atomic dQ (dev/bench/attn_bwd_atomic) and the
# scan forward with 1/2/4 lanes per channel (dev/bench/scan_fwd_variants) -- and test_gpu as a check
set -u
export STB_INCLUDE=$PWD/.stb
nvidia-smi --query-gpu=name --format=csv,noheader
make -s -j8 cuda STB_INCLUDE=$STB_INCLUDE >/tmp/build.log 2>&1 || { tail -30 /tmp/build.log; exit 1; }
dev/bench/attn_bwd_atomic > $OUT/attn_bwd_atomic.txt 2>&1; echo "attn_bwd_atomic rc $?"; tail -25 $OUT/attn_bwd_atomic.txt
dev/bench/scan_fwd_variants > $OUT/scan_fwd_variants.txt 2>&1; echo "scan_fwd_variants rc $?"; cat $OUT/scan_fwd_variants.txt
./test_gpu.out > $OUT/test_gpu.log 2>&1; echo "test_gpu rc $?"; tail -1 $OUT/test_gpu.log
