#!/usr/bin/env python3
"""Count a kernel's SASS instructions by opcode: the whole kernel and its outermost loop.

    nvcc -arch=sm_90a -O3 -std=c++17 -cubin -x cu dev/bench/bench_scan.cu -o /tmp/b.cubin -I.
    cuobjdump -sass /tmp/b.cubin | python3 dev/sass_loop.py ssm_scan_forward_kernelILi16ELi1ELb1E

Takes the mangled-name fragment as its argument and prints, for each matching function, the
instruction count and the opcodes of the outermost loop (from the lowest target of a backward
branch to that branch). cuobjdump and nvdisasm come with the CUDA toolkit, or from the pip wheels
nvidia-cuda-cuobjdump and nvidia-cuda-nvdisasm (they run without a GPU). Static counts: a loop
body's instructions once, whatever its trip count; inner loops count once too.
"""
import collections
import re
import sys

if len(sys.argv) != 2:
    sys.exit(__doc__)
pattern = sys.argv[1]
for func in sys.stdin.read().split("Function : ")[1:]:
    name = func.split("\n", 1)[0].strip()
    if pattern not in name:
        continue
    code = []  # (address, instruction without its predicate)
    for line in func.splitlines():
        m = re.match(r"\s+/\*([0-9a-f]{4,6})\*/\s+(.*?);", line)
        if m:
            code.append((int(m.group(1), 16), re.sub(r"^@!?U?P[T0-9] ", "", m.group(2).strip())))
    back = []  # (target, address) of backward branches
    for addr, ins in code:
        m = re.match(r"BRA (?:`\(\.L_x_\d+\) )?0x([0-9a-f]+)", ins)
        if m and int(m.group(1), 16) < addr:
            back.append((int(m.group(1), 16), addr))
    lo, hi = min(back) if back else (0, -1)
    ops = collections.Counter(ins.split()[0] for addr, ins in code if lo <= addr <= hi)
    print(f"{name}: {len(code)} instructions; loop {lo:#x}-{hi:#x}: {sum(ops.values())}")
    print("   " + " ".join(f"{op}:{n}" for op, n in ops.most_common(32)))
