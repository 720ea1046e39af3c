#!/usr/bin/env bash
# The induction-head table (dev/repro/seq_icl_table induction: 250,000 steps per model) over
# several device calls: each call restores the state of the last one from .ih/ (carried), runs
# the table with a time limit, and returns the state (logs, CSVs, unfinished checkpoints) as
# tar parts under 15 MiB. Locally: cp the parts into .ih/ and call again with carry [".stb", ".ih"].
#   RUN_TEST=1 also runs test_gpu first. STATE=DIR (default .ih) holds the state; FLAGS="..." and
#   MODELS=gpt,mamba go to seq_icl_table's --flags and --models (e.g. the --answer_loss rerun:
#   STATE=.ih_ans FLAGS=--answer_loss MODELS=gpt,mamba, carry [".stb", ".ih_ans"]).
set -u
T0=$SECONDS
BUDGET=${BUDGET:-540}
STATE=${STATE:-.ih}
EXTRA=()
[ -n "${FLAGS:-}" ] && EXTRA+=(--flags "$FLAGS")
[ -n "${MODELS:-}" ] && EXTRA+=(--models "$MODELS")
export STB_INCLUDE=$PWD/.stb
make -s -j8 train_gpu test_gpu.out STB_INCLUDE=$STB_INCLUDE >/tmp/build.log 2>&1 || { tail -30 /tmp/build.log; exit 1; }
if [ "${RUN_TEST:-0}" = 1 ]; then
  ./test_gpu.out > $OUT/test_gpu.log 2>&1; echo "test_gpu rc $?"; grep -v "^ok" $OUT/test_gpu.log | tail -3
fi
mkdir -p /tmp/ih
if ls $STATE/ih_state.tgz.part* >/dev/null 2>&1; then cat $STATE/ih_state.tgz.part* | tar xzf - -C /tmp/ih; echo "restored: $(ls /tmp/ih | tr '\n' ' ')"; fi
LEFT=$((BUDGET - (SECONDS - T0)))
echo "table time limit $LEFT s"
dev/repro/seq_icl_table induction --out /tmp/ih --time_limit $LEFT "${EXTRA[@]}" > $OUT/ih_table.txt 2>&1
grep "run:\|Transformer\|Mamba\|Longhorn\|stopped\|accuracy" $OUT/ih_table.txt | grep -v "^run" | head -12
for f in /tmp/ih/*.log; do # finished runs need no checkpoint any more
  grep -q "^final test loss" "$f" && rm -f "${f%.log}.safetensors"
done
for f in /tmp/ih/*.log; do echo "$f: $(grep '^step .* test loss' "$f" | tail -1)"; done
(cd /tmp/ih && tar czf - .) | split -b 15m - $OUT/ih_state.tgz.part
ls -la $OUT
