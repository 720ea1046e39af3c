#!/usr/bin/env bash
# issue 4 (branch h1: fused norms and residuals): the baseline and h1 side by side, same GPU, same call.
# The device tool sends the session's checkout (main), so h1 travels as a copy of its committed tree:
#   here:   rm -rf /work/main/.h1 && mkdir /work/main/.h1 && git -C /work/h1 archive h1 | tar -x -C /work/main/.h1
#           (main's .git/info/exclude already ignores /.h1/)
#   device: run(command="bash .h1/dev/runs/device_h1.sh test", carry=[".stb", ".h1"], timeout_s=300)
#           run(command="bash .h1/dev/runs/device_h1.sh profile", carry=[".stb", ".h1"], timeout_s=300)
# test:    build both, h1's test_gpu, then config (b) ms/step of base and h1, alternating (2 runs each)
# profile: build both train_gpu, then dev/bench/profile_gpu (ncu kernel times) of config (b) for each
# Everything also lands in $OUT (test_gpu_h1.log, time_*.log, profile_*.txt).
set -u
MODE=${1:-test}
BASE=$PWD NEW=$PWD/.h1 STB=$PWD/.stb
OUT=${OUT:-/tmp/out}; mkdir -p $OUT
nvidia-smi --query-gpu=name --format=csv,noheader
t0=$SECONDS
targets="train_gpu"; [ "$MODE" = test ] && targets="train_gpu test_gpu.out"
(make -s train_gpu STB_INCLUDE=$STB > $OUT/build_base.log 2>&1 || { echo "base build failed"; tail -20 $OUT/build_base.log; }) &
(cd $NEW && make -s -j2 $targets STB_INCLUDE=$STB > $OUT/build_h1.log 2>&1 || { echo "h1 build failed"; tail -20 $OUT/build_h1.log; }) &
wait
echo "built in $((SECONDS - t0)) s"
B="-m gpt -L 12 -H 12 -C 768 -b 16 -t 1024 --dropout 0 --attn_dropout 0 --embd_dropout 0"
if [ "$MODE" = test ]; then
    t0=$SECONDS
    (cd $NEW && ./test_gpu.out > $OUT/test_gpu_h1.log 2>&1); echo "test_gpu rc $? ($((SECONDS - t0)) s)"
    grep -v "^ok" $OUT/test_gpu_h1.log | tail -5
    grep -E "residual\+norm|dres|same bits|dropout_backward_to|C 768|model bf16 gpt --pos learned|model bf16 llama --pos rope" $OUT/test_gpu_h1.log | head -60
    # median ms/step over steps 11-30
    med() { grep -o "^step [0-9]*/30 .*| [0-9.]* ms" "$1" | awk -F'|' '{split($1, s, "[ /]"); if (s[2] > 10) print $(NF)}' |
            sed 's/ ms//' | sort -n | awk '{a[NR] = $1} END {print (NR ? a[int((NR + 1) / 2)] : "n/a")}'; }
    for r in 1 2; do
        for v in base h1; do
            dir=$BASE; [ $v = h1 ] && dir=$NEW
            (cd $dir && ./train_gpu $B -n 30 --eval_every 0 --sample_len 0 > $OUT/time_${v}_$r.log 2>&1)
            echo "config (b) $v run $r: $(med $OUT/time_${v}_$r.log) ms/step (median, steps 11-30); $(grep -m1 "^step 30/30" $OUT/time_${v}_$r.log)"
        done
    done
else
    for v in base h1; do
        dir=$BASE; [ $v = h1 ] && dir=$NEW
        (cd $dir && OUT= dev/bench/profile_gpu ${B#-m gpt } > $OUT/profile_$v.txt 2>&1)
        echo "== $v"; head -24 $OUT/profile_$v.txt
    done
fi
