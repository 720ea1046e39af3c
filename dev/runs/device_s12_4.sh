#!/usr/bin/env bash
# session 12, call 4: why the scan kernels got slower with bf16 inputs (call 3: forward 0.54 -> 0.84
# ms on an H100): SASS instruction mix and Nsight Compute warp-stall sections, old (tmp_old, fp32
# inputs) vs new (bf16 inputs)
set -u
export STB_INCLUDE=$PWD/.stb
make -s -j16 dev/bench/bench_scan_cuda STB_INCLUDE=$STB_INCLUDE >/tmp/build.log 2>&1 || { tail -30 /tmp/build.log; exit 1; }
(cd tmp_old && make -s -j16 dev/bench/bench_scan_cuda STB_INCLUDE=$STB_INCLUDE >/tmp/build_old.log 2>&1) || { tail -30 /tmp/build_old.log; exit 1; }
for v in old new; do
  bin=dev/bench/bench_scan_cuda; [ $v = old ] && bin=tmp_old/dev/bench/bench_scan_cuda
  cuobjdump -sass $bin > $OUT/sass_$v.txt 2>&1
  python3 - $OUT/sass_$v.txt $v <<'PY'
import sys, re, collections
txt = open(sys.argv[1]).read().split("Function : ")
for f in txt[1:]:
    name = f.split("\n")[0]
    if "ssm_scan_forward_kernelILi16ELi0" not in name and "ssm_scan_backward_kernelILi16ELi0" not in name: continue
    ops = collections.Counter(m.group(1) for m in re.finditer(r"/\*[0-9a-f]{4,}\*/\s+(?:@!?U?P\w+\s+)?([A-Z][A-Z0-9_]*(?:\.[A-Z0-9_]+)*)", f))
    tot = sum(ops.values())
    print(sys.argv[2], name[:90], "instructions", tot)
    print("   ", ", ".join(f"{k} {v}" for k, v in ops.most_common(28)))
PY
  ncu --section WarpStateStats --section SchedulerStats --section Occupancy --section LaunchStats --section MemoryWorkloadAnalysis -k regex:ssm_scan -c 2 $bin > $OUT/ncu_$v.txt 2>&1
  grep -E "ssm_scan_|Duration|Registers|Achieved Occupancy|Active Warps Per|Eligible Warps|Issued Warp|No Eligible|Stall|Warp Cycles Per Issued|Mem Busy|Max Bandwidth|L1/TEX Hit|L2 Hit|Memory Throughput" $OUT/ncu_$v.txt | head -60
done
