# Helpers for device scripts that compare builds (source it: `. dev/runs/ab.sh`). A tree is "." (the
# working tree) or a folder holding an older commit (`git archive REV | tar -x -C .prev`, carried to
# the device with `carry`). Timings are only comparable within one call, so a script builds every
# tree it compares and alternates their runs.
set -u
export STB_INCLUDE=$PWD/.stb PYTHONUNBUFFERED=1

# build TREE JOBS TARGETS...: make the targets in TREE quietly; on failure print the log's tail and exit
build() {
    local tree=$1 jobs=$2; shift 2
    (cd "$tree" && make -s -j"$jobs" "$@" STB_INCLUDE="$STB_INCLUDE") > "/tmp/build_${tree//[\/.]/_}.log" 2>&1 ||
        { echo "build of $* in $tree failed:"; tail -30 "/tmp/build_${tree//[\/.]/_}.log"; exit 1; }
}

# med LOG: the median ms/step of a train_gpu log over steps 11-30 (runs of -n 30)
med() { grep -E '^step ([12][0-9]|30)/' "$1" | sed -E 's/.*\| ([0-9.]+) ms.*/\1/' | sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }

# ab_scan ROUNDS TREES...: bench_scan's table rows of each tree, alternating, ROUNDS times
ab_scan() {
    local rounds=$1; shift
    for i in $(seq "$rounds"); do
        for tree in "$@"; do
            echo "== $tree $i"; "$tree/dev/bench/bench_scan_cuda" > /tmp/ab_scan.txt 2>&1; grep -E "^\| (mamba|longhorn) " /tmp/ab_scan.txt
        done
    done
}

# ab_model ROUNDS "TRAIN_GPU FLAGS" TREES...: median ms/step and the last step line of each tree's
# train_gpu -n 30, alternating
ab_model() {
    local rounds=$1 flags=$2; shift 2
    for i in $(seq "$rounds"); do
        for tree in "$@"; do
            "$tree/train_gpu" $flags -n 30 --eval_every 0 --sample_len 0 > /tmp/ab_model.log 2>&1
            echo "$tree ($flags): median ms $(med /tmp/ab_model.log) | $(grep '^step 30/' /tmp/ab_model.log)"
        done
    done
}

# variant NAME "DEFINES" [SRC]: build one -D variant of a dev bench (default dev/bench/gemm_tma.cu)
# into /tmp/gt_NAME with the Makefile's flags; start several with & and `wait`
VARIANT_FLAGS="-O3 -arch=sm_90a --default-stream per-thread -std=c++17 -Xcompiler -fopenmp,-Wno-unused-function -diag-suppress 177,550 -I$STB_INCLUDE -DSM_PLOTS"
variant() {
    nvcc $VARIANT_FLAGS $2 -o "/tmp/gt_$1" "${3:-dev/bench/gemm_tma.cu}" -lcublasLt -lcublas -lm > "/tmp/gt_$1.log" 2>&1 ||
        { echo "build $1 failed"; tail -5 "/tmp/gt_$1.log"; }
}

# run_variants SECONDS NAMES...: run each built /tmp/gt_NAME under a timeout, its output kept in
# $OUT/gemm_tma_NAME.txt and shown without blank and bookkeeping lines
run_variants() {
    local limit=$1; shift
    for x in "$@"; do
        echo "=== $x"
        [ -x "/tmp/gt_$x" ] && timeout "$limit" "/tmp/gt_$x" 2>&1 | tee "$OUT/gemm_tma_$x.txt" | grep -v "^$\|^(gemm\|^device"
        echo "rc $?"
    done
}
