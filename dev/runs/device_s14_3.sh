#!/usr/bin/env bash
# session 14, call 3 (issue 6): mamba-ssm's selective_scan (built from .mssm/selective_scan, the
# csrc/selective_scan of mamba_ssm-2.3.2.post1 from PyPI) next to our bench_scan on the same H100
export MAX_JOBS=16; python3 dev/bench/mamba_ssm_scan.py .mssm/selective_scan > $OUT/mamba_ssm_scan.txt 2>&1; echo rc $?; tail -8 $OUT/mamba_ssm_scan.txt; make -s -j16 dev/bench/bench_scan_cuda STB_INCLUDE=$PWD/.stb > /dev/null 2>&1; dev/bench/bench_scan_cuda > $OUT/bench_scan.txt 2>&1; grep -E "^\| (mamba|longhorn)" $OUT/bench_scan.txt
