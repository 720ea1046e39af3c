#!/usr/bin/env bash
# session 14, call 5 (issue 6): mamba_ssm_model.py again after the reshape fix (same warm H100 as call 4)
export PYTHONUNBUFFERED=1 MAX_JOBS=16; timeout 500 python3 dev/bench/mamba_ssm_model.py .mssm/selective_scan > $OUT/mamba_ssm_model.txt 2>&1; echo "model rc $?"; grep -v Warn $OUT/mamba_ssm_model.txt | tail -6
