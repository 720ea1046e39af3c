#!/usr/bin/env bash
# session 18, call 3: AdamW with float4 loads; the norms' weight-gradient reductions deferred to one
# launch per backward; the norm backward at 3 blocks per SM (.v3). test_gpu (new); GPT (b) new /
# prev (HEAD, = 4e8873d's kernels) / v3 alternating; mamba 24x768 new / prev; profile of new
set -u
. dev/runs/ab.sh
nvidia-smi --query-gpu=name --format=csv,noheader
mkdir -p .v3 && tar -c --exclude=./dev/runs --exclude=./.prev --exclude=./.v3 --exclude=./.git . | tar -x -C .v3
(build . 6 train_gpu test_gpu.out; echo ok > /tmp/b_new) &
(build .prev 5 train_gpu; echo ok > /tmp/b_prev) &
(cd .v3 && make -s -j5 train_gpu NVCC="nvcc -DNORM_BWD_MINB=3" STB_INCLUDE=$STB_INCLUDE > /tmp/b_v3.log 2>&1 || tail -20 /tmp/b_v3.log) &
wait
ls /tmp/b_new /tmp/b_prev .v3/train_gpu || exit 1
timeout 200 ./test_gpu.out > $OUT/test_gpu.log 2>&1; echo "test_gpu rc $?"; grep -E "FAIL" $OUT/test_gpu.log | head; tail -1 $OUT/test_gpu.log
G="-m gpt -L 12 -H 12 -C 768 -b 16 -t 1024 --dropout 0 --attn_dropout 0 --embd_dropout 0"
ab_model 3 "$G" . .prev .v3
ab_model 2 "-m mamba -L 24 -C 768 -b 16 -t 1024" . .prev
timeout 150 dev/bench/profile_gpu -L 12 -H 12 -C 768 -b 16 -t 1024 --dropout 0 --attn_dropout 0 --embd_dropout 0 > $OUT/profile_b.txt 2>&1; echo "profile rc $?"
head -40 $OUT/profile_b.txt
