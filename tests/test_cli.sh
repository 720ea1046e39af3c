#!/usr/bin/env bash
# The trainer's command line, end to end: bad input gives ONE clear error line and a non-zero exit;
# an interrupted run resumes bit-exactly; --eval is deterministic; checkpoints load in Python.
# Run from anywhere: `bash tests/test_cli.sh` (make test runs it). Ends with "N passed, N failed".
set -u
cd "$(dirname "$0")/.."
T=tests/tmp/cli
rm -rf "$T" && mkdir -p "$T"
pass=0 fail=0
ok() { echo "ok   $1"; pass=$((pass + 1)); }
bad() { echo "FAIL $1"; fail=$((fail + 1)); }

# expect_error DESCRIPTION NEEDLE COMMAND...: non-zero exit, exactly one stderr line "error: ...NEEDLE..."
expect_error() {
    local desc=$1 needle=$2
    shift 2
    "$@" >"$T/out" 2>"$T/err"
    local rc=$? lines
    lines=$(wc -l <"$T/err")
    if [ $rc -ne 0 ] && [ "$lines" -eq 1 ] && grep -q "^error: .*$needle" "$T/err"; then
        ok "$desc -> $(cat "$T/err")"
    else
        bad "$desc (exit $rc, stderr: $(head -c 400 "$T/err"))"
    fi
}

TC=./train_cpu
SMALL="-L 2 -C 32 -H 2 -t 32 -b 4 --eval_every 0 --eval_batches 2 --sample_len 0 --threads 2"

# ---- help ----
if $TC -h >"$T/help" 2>&1 && grep -q -- "--resume" "$T/help" && grep -q "llama" "$T/help"; then ok "-h lists flags and architectures"; else bad "-h"; fi

# ---- bad flags and values ----
expect_error "unknown model" "unknown model 'mamba2000'" $TC -m mamba2000
# SSMs: without -L the default depth doubles (blocks without MLPs, the Longhorn repo's convention);
# sampling runs the recurrent step
SSM_RUN="-C 32 -t 32 -b 4 -n 2 --eval_every 0 --eval_batches 2 --sample_len 40 --threads 2"
if $TC -m longhorn $SSM_RUN >"$T/lh" 2>&1 && grep -q '"n_layer":8' "$T/lh" && grep -q "^---- sample" "$T/lh"; then
    ok "-m longhorn: 8 blocks by default (2 x 4), trains and samples"
else bad "-m longhorn default depth / sample ($(tail -3 "$T/lh"))"; fi
if $TC -m mamba -L 3 $SSM_RUN >"$T/mb" 2>&1 && grep -q '"n_layer":3' "$T/mb"; then ok "-m mamba -L 3 keeps 3 blocks"; else bad "-m mamba -L 3 ($(tail -3 "$T/mb"))"; fi
if [ -x ./train_gpu ]; then # built by make cuda; the check runs before any CUDA call
    expect_error "GPU scan: unsupported d_state" "d_state 12 has no GPU scan kernel" ./train_gpu -m mamba --d_state 12 $SSM_RUN
    expect_error "GPU conv: d_conv too wide" "d_conv 9 is larger than the GPU conv kernel" ./train_gpu -m longhorn --d_conv 9 $SSM_RUN
    expect_error "GPU: --recompute out of range" "--recompute 3: must be 0, 1 or 2" ./train_gpu -m gpt --recompute 3 -H 4 $SSM_RUN
fi
expect_error "unknown flag" "unknown flag '--frobnicate'" $TC --frobnicate 1
expect_error "flag without a value" "needs a value" $TC -n
expect_error "unknown position variant" "unknown position variant 'sideways'" $TC --pos sideways
expect_error "non-numeric value" "'abc' is not a number" $TC --lr abc
expect_error "non-integer value" "'1.5' is not an integer" $TC -b 1.5
expect_error "zero batch" "batch size must be >= 1" $TC -b 0
expect_error "negative steps" "steps must be >= 0" $TC -n -5
expect_error "zero sequence length" "sequence length must be >= 1" $TC -t 0
expect_error "zero width" "must be >= 1" $TC -C 0
expect_error "negative layers" "must be >= 1" $TC -L -2
expect_error "width not a multiple of heads" "must be a multiple of n_head" $TC $SMALL -H 3
expect_error "dropout out of range" "dropout must be in" $TC $SMALL --dropout 1.5
expect_error "attention dropout out of range" "attn_dropout must be in" $TC $SMALL --attn_dropout -0.1
expect_error "--save_best without -o" "--save_best needs -o" $TC $SMALL --save_best
expect_error "sequence longer than the data" "longer than the data" $TC $SMALL -t 200000

# ---- bad data ----
expect_error "missing data prefix" "no shard /nonexistent/x_train.bin" $TC -d /nonexistent/x
expect_error "missing text file" "cannot read /nonexistent/x.txt" $TC -d /nonexistent/x.txt
$TC $SMALL -n 0 >/dev/null 2>&1 # prepares data/shakespeare_{train,val}.bin if needed
head -c 5000 data/shakespeare_train.bin >"$T/trunc_train.bin"
cp data/shakespeare_val.bin "$T/trunc_val.bin"
expect_error "truncated train shard" "truncated or corrupt" $TC $SMALL -d "$T/trunc"
printf 'not a shard at all, but long enough to have a header of sixty-four bytes....' >"$T/junk_train.bin"
cp data/shakespeare_val.bin "$T/junk_val.bin"
expect_error "shard with a bad magic" "bad magic" $TC $SMALL -d "$T/junk"

# ---- synthetic tasks: bad sizes, and a tiny Transformer that learns associative recall ----
expect_error "unknown task" "not shakespeare, a .txt file or a task" $TC -d assoc_recall
expect_error "more MQAR pairs than fit" "task mqar" $TC $SMALL -d mqar --num_pairs 1000
expect_error "task length < 1" "task ar" $TC $SMALL -d ar --task_len 0
expect_error "copy string length < 1" "task copy" $TC $SMALL -d copy --min_len 0
expect_error "vocabulary too small for the specials" "task induction" $TC $SMALL -d induction --task_vocab 2
# 5 keys, 5 values, 8 pairs per row: a value is guessed right 20% of the time, and without
# induction heads (attending to the key's earlier occurrence, then to the token after it) a model
# stays near 45% (the most frequent value); this 4-layer model forms them by step ~2000 at a
# constant lr of 1e-3 (0.96 at step 2000, 0.98 at 3000 when measured)
AR="-d ar --task_vocab 12 --task_len 16 --n_train 20000 --n_test 200 -L 4 -H 2 -C 64 -b 32 -n 3000 --lr 1e-3 --min_lr 1e-3 --eval_every 0 --threads 2"
$TC $AR --log "$T/ar.csv" >"$T/ar.log" 2>&1
acc=$(sed -n 's/^final test loss .* | acc \([0-9.]*\) | acc .*/\1/p' "$T/ar.log")
if [ -n "$acc" ] && awk -v a="$acc" 'BEGIN{exit !(a >= 0.9)}' && grep -q "^3000,test_full," "$T/ar.csv"; then
    ok "a 4-layer Transformer learns associative recall in 3000 steps: test acc $acc (chance 0.2)"
else
    bad "AR: test acc '$acc' (want >= 0.9)"; tail -3 "$T/ar.log"
fi

# --prep: a task's sets as shards with the loss mask, which train like any shard
$TC -d induction --task_len 30 --n_train 300 --n_test 50 --prep "$T/ih" >"$T/prep.log" 2>&1
if [ -s "$T/ih_train.bin" ] && grep -q "wrote .*ih_val.bin: 1600 tokens in 50 examples" "$T/prep.log" &&
   $TC $SMALL -d "$T/ih" -n 2 -t 31 >"$T/prep_train.log" 2>&1 && grep -q "^final val loss" "$T/prep_train.log"; then
    ok "--prep writes task shards (loss mask included) that train_cpu trains on"
else
    bad "--prep"; cat "$T/prep.log"; tail -3 "$T/prep_train.log"
fi

# ---- training, checkpoints, bit-exact resume (dropout on, so its masks must resume too) ----
RUN="$SMALL --dropout 0.1 --attn_dropout 0.1 -n 16 --warmup 4 --seed 7"
$TC $RUN -o "$T/full.safetensors" >"$T/full.log" 2>&1
$TC $RUN --stop_at 8 -o "$T/half.safetensors" >"$T/half.log" 2>&1
$TC $RUN --resume "$T/half.safetensors" -o "$T/resumed.safetensors" >"$T/resumed.log" 2>&1
grep '^step [0-9]*/' "$T/full.log" | sed -n '9,16p' | cut -d'|' -f1-4 >"$T/a"
grep '^step [0-9]*/' "$T/resumed.log" | cut -d'|' -f1-4 >"$T/b"
if [ -s "$T/a" ] && cmp -s "$T/a" "$T/b" && grep -q "resumed .* at step 8" "$T/resumed.log"; then
    ok "resume: steps 9-16 after --stop_at 8 + --resume print the same loss, lr and grad norm"
else
    bad "resume: step lines differ"; diff "$T/a" "$T/b" | head -5
fi
if cmp -s "$T/full.safetensors" "$T/resumed.safetensors"; then ok "resume: final checkpoints are byte-identical (weights, AdamW m/v, step, data position)"; else bad "resume: checkpoints differ"; fi
if ls "$T"/*.tmp.* >/dev/null 2>&1; then bad "temp files left behind"; else ok "no temp files left after atomic checkpoint writes"; fi
if grep -q "^final val loss" "$T/full.log"; then ok "training prints a final val loss: $(grep '^final val loss' "$T/full.log")"; else bad "no final val loss"; fi

# --save_best: the checkpoint is the one of the best periodic val loss, and it says so
$TC $SMALL -n 12 --warmup 2 --eval_every 3 --eval_batches 2 --save_best -o "$T/best.safetensors" >"$T/best.log" 2>&1
best_step=$(sed -n 's/^kept .* at step \([0-9]*\)$/\1/p' "$T/best.log")
$TC $SMALL -n 12 --resume "$T/best.safetensors" --stop_at 0 >"$T/best_resume.log" 2>&1
if [ -n "$best_step" ] && grep -q "(best val so far)" "$T/best.log" && grep -q "resumed .* at step $best_step " "$T/best_resume.log"; then
    ok "--save_best keeps the checkpoint of the best val (step $best_step)"
else
    bad "--save_best"; tail -3 "$T/best.log"
fi

# --answer_loss: a task's training rows are scored on the answer only (a different loss from every position)
IHF="-m gpt -L 1 -H 1 -C 16 -d induction --task_len 30 --n_train 50 --n_test 10 -b 4 -n 2 --eval_every 0 --threads 1"
$TC $IHF >"$T/ih_all.log" 2>&1
$TC $IHF --answer_loss >"$T/ih_ans.log" 2>&1
la=$(sed -n 's/^step 1\/2 | loss \([0-9.]*\).*/\1/p' "$T/ih_all.log"); lb=$(sed -n 's/^step 1\/2 | loss \([0-9.]*\).*/\1/p' "$T/ih_ans.log")
if [ -n "$la" ] && [ -n "$lb" ] && [ "$la" != "$lb" ] && grep -q "^final test loss" "$T/ih_ans.log"; then
    ok "--answer_loss trains induction on the answer only (step-1 loss $lb vs $la on every position)"
else
    bad "--answer_loss: '$la' vs '$lb'"; tail -2 "$T/ih_ans.log"
fi

# --time_limit: stop after that much training, save, exit 0 (for schedulers and the device's call limits)
$TC $SMALL -n 1000000 --time_limit 1 -o "$T/tl.safetensors" >"$T/tl.log" 2>&1
rc=$?
if [ $rc -eq 0 ] && grep -q "^stopped at step [0-9]*; resume with" "$T/tl.log" && [ -f "$T/tl.safetensors" ]; then
    ok "--time_limit 1 stops, saves and exits 0 ($(grep '^stopped' "$T/tl.log" | cut -d';' -f1))"
else
    bad "--time_limit (exit $rc): $(tail -2 "$T/tl.log")"
fi

# Ctrl-C: finish the step, save, exit 130; the checkpoint resumes
$TC $SMALL -n 1000000 -o "$T/sig.safetensors" >"$T/sig.log" 2>&1 &
pid=$!
sleep 1.5
kill -INT $pid
wait $pid
rc=$?
if [ $rc -eq 130 ] && grep -q "^saved .*sig.safetensors" "$T/sig.log" && $TC $SMALL -n 1000000 --stop_at 0 --resume "$T/sig.safetensors" >"$T/sig2.log" 2>&1 &&
    grep -q "^resumed" "$T/sig2.log"; then
    ok "Ctrl-C saves the checkpoint and exits 130; it resumes ($(grep '^saved' "$T/sig.log"))"
else
    bad "Ctrl-C handling (exit $rc): $(tail -2 "$T/sig.log")"
fi

# ---- evaluation mode ----
$TC --eval "$T/full.safetensors" -b 4 -t 32 >"$T/e1" 2>&1
$TC --eval "$T/full.safetensors" -b 4 -t 32 --threads 1 --debug_out "$T/debug.safetensors" >"$T/e2" 2>&1
if grep -Eq '^loss [0-9]\.[0-9]{6}$' "$T/e1" && [ "$(head -1 "$T/e1")" = "$(head -1 "$T/e2")" ] && [ -s "$T/debug.safetensors" ]; then
    ok "--eval prints '$(head -1 "$T/e1")' (7 significant digits), same with 1 thread; --debug_out written"
else
    bad "--eval: $(cat "$T/e1" "$T/e2" | head -c 300)"
fi

# ---- bad checkpoints ----
printf '\037\000\000\000\000\000\000\000{"this is": not json at all!!!}' >"$T/garbage.safetensors"
expect_error "checkpoint with a garbage header (--eval)" "corrupt safetensors header" $TC --eval "$T/garbage.safetensors"
expect_error "checkpoint with a garbage header (--resume)" "corrupt safetensors header" $TC $SMALL --resume "$T/garbage.safetensors"
expect_error "missing checkpoint" "cannot open" $TC --eval "$T/nope.safetensors"
head -c 3000 "$T/full.safetensors" >"$T/cut.safetensors"
expect_error "truncated checkpoint" "truncated or corrupt" $TC --eval "$T/cut.safetensors"
# same-length edit of the config inside the header: it now promises an MLP of 256, the tensors hold 128
perl -pe 's/mlp_hidden\\":128/mlp_hidden\\":256/' "$T/full.safetensors" >"$T/shape.safetensors"
expect_error "checkpoint tensor with the wrong shape" "has shape (128,32), expected (256,32)" $TC --eval "$T/shape.safetensors" -b 4 -t 32

# ---- divergence ----
expect_error "NaN loss stops the run" "diverged" $TC $SMALL -n 50 --lr 1e30 --clip 0 --warmup 0

# ---- the checkpoint in Python (safetensors + numpy; skipped if they are not installed) ----
if python3 -c "import safetensors, numpy" 2>/dev/null; then
    if python3 - "$T/full.safetensors" >"$T/py" 2>&1 <<'EOF'; then ok "checkpoint loads with safetensors.numpy: $(tail -1 "$T/py")"; else bad "python load: $(tail -3 "$T/py")"; fi
import json, sys
from safetensors import safe_open
from safetensors.numpy import load_file
path = sys.argv[1]
t = load_file(path)
with safe_open(path, "np") as f:
    meta = f.metadata()
cfg = json.loads(meta["config"])
assert meta["format"] == "seqmodels" and cfg["model"] == "gpt", meta
C, V, L = cfg["n_embd"], cfg["vocab_size"], cfg["n_layer"]
want = {"transformer.wte.weight": (V, C), "transformer.wpe.weight": (cfg["block_size"], C),
        "transformer.ln_f.weight": (C,)}
for l in range(L):
    p = f"transformer.h.{l}."
    want.update({p + "ln_1.weight": (C,), p + "attn.c_attn.weight": (3 * C, C), p + "attn.c_proj.weight": (C, C),
                 p + "ln_2.weight": (C,), p + "mlp.c_fc.weight": (4 * C, C), p + "mlp.c_proj.weight": (C, 4 * C)})
model = {k: v for k, v in t.items() if not k.startswith("optim.")}
assert set(model) == set(want), set(model) ^ set(want)
for k, shape in want.items():
    assert model[k].shape == shape and str(model[k].dtype) == "float32", (k, model[k].shape, shape)
    assert t["optim.m." + k].shape == shape and t["optim.v." + k].shape == shape
print(f"{len(model)} model tensors + optim.m/v, names and shapes as documented, step {meta['step']}")
EOF
else
    echo "skip checkpoint-in-python (pip install safetensors numpy to run it)"
fi
# the full PyTorch cross-check (loss, logits and every gradient) needs torch: dev only
if python3 -c "import torch, safetensors" 2>/dev/null; then
    if python3 dev/ref/compare_debug.py "$T/full.safetensors" "$T/debug.safetensors" >"$T/cmp" 2>&1; then
        ok "PyTorch reference agrees with --debug_out: $(tail -1 "$T/cmp")"
    else
        bad "PyTorch cross-check: $(tail -3 "$T/cmp")"
    fi
else
    echo "skip PyTorch cross-check (torch not installed)"
fi

echo "test_cli: $pass passed, $fail failed"
echo "$pass passed, $fail failed"
[ $fail -eq 0 ]
