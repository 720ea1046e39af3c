#!/usr/bin/env bash
# device call 10: sliding-window conv1d kernels: test_gpu, whole-model and Shakespeare step times
set -u
make -s -j3 train_gpu test_gpu.out >/tmp/build.log 2>&1 || { tail -20 /tmp/build.log; exit 1; }
./test_gpu.out > $OUT/test_gpu.log 2>&1; echo "test_gpu rc $?"; grep -v "^ok" $OUT/test_gpu.log | tail -3; grep conv1d $OUT/test_gpu.log
for m in "mamba -L 24" "longhorn -L 24"; do
  ./train_gpu -m $m -C 768 -b 16 -t 1024 -n 30 --eval_every 0 --sample_len 0 > /tmp/w.log 2>&1; grep "^step 30/" /tmp/w.log | sed "s/^/$m: /" | tee -a $OUT/whole_models.log
done
for m in longhorn mamba; do ./train_gpu -m $m -n 60 --eval_every 0 --sample_len 0 | grep "^step 60/" | sed "s/^/$m shakespeare: /" | tee -a $OUT/whole_models.log; done
