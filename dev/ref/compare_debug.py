"""
Cross-check the C trainer against the PyTorch reference.

    python dev/ref/compare_debug.py CKPT DEBUG

CKPT   seqmodels checkpoint (safetensors): __metadata__ {"format": "seqmodels", "config": "<json>"},
       model tensors F32 under the reference names; optim.m.* / optim.v.* (and other extra
       tensors) are listed and ignored.
DEBUG  safetensors with inputs I32 (B,T), targets I32 (B,T), logits0 F32 (V) = logits[0,0],
       loss F32 (1,) = mean cross-entropy, grad.<name> F32 = dloss/dparam for every model tensor.

The model is rebuilt in float64 with dropout off, forward/backward runs on inputs/targets, and
every quantity is compared: max abs diff and rel err = max|a-b| / max(max|b|, 1e-8), b = torch.
Exit 0 iff loss rel err < 1e-4 and every grad rel err < 1e-3, else 1. logits0 is reported and
marked WARN above 1e-4 but does not decide the exit code (a wrong logit shows up in the loss).
"""

import argparse
import json
import os
import sys

import numpy as np
import torch
from safetensors import safe_open

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from torch_models import Transformer, load_state  # noqa: E402

LOSS_TOL, GRAD_TOL, LOGITS_TOL = 1e-4, 1e-3, 1e-4


def read_safetensors(path):
    tensors = {}
    with safe_open(path, framework="np") as f:
        meta = f.metadata() or {}
        for k in f.keys():
            tensors[k] = f.get_tensor(k)
    return meta, tensors


def errors(a, b):
    a = np.asarray(a, dtype=np.float64)
    b = np.asarray(b, dtype=np.float64)
    if a.shape != b.shape:
        return float("inf"), float("inf")
    d = float(np.max(np.abs(a - b))) if a.size else 0.0
    if not np.isfinite(a).all():
        d = float("inf")
    scale = max(float(np.max(np.abs(b))) if b.size else 0.0, 1e-8)
    return d, d / scale


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("ckpt")
    ap.add_argument("debug")
    args = ap.parse_args()

    meta, ck = read_safetensors(args.ckpt)
    if meta.get("format") != "seqmodels":
        print(f"warning: __metadata__ format is {meta.get('format')!r}, expected 'seqmodels'")
    if "config" not in meta:
        print("FAIL: checkpoint __metadata__ has no 'config'")
        return 1
    cfg = json.loads(meta["config"])
    cfg["dropout"] = 0.0
    torch.manual_seed(0)
    model = Transformer(cfg).double()
    model.eval()
    sd = model.state_dict()

    print(f"checkpoint {args.ckpt}")
    print(f"config: {json.dumps(model.cfg, sort_keys=True)}")
    extra = [k for k in ck if k not in sd]
    print(f"model tensors ({len(sd)} expected, {len(ck) - len(extra)} present):")
    for k in sd:
        if k in ck:
            print(f"  {k:48s} {str(ck[k].dtype):8s} {tuple(ck[k].shape)}")
        else:
            print(f"  {k:48s} MISSING (expected {tuple(sd[k].shape)})")
    if extra:
        groups = {}
        for k in extra:
            g = ".".join(k.split(".")[:2]) + ".*" if k.startswith("optim.") else k
            groups[g] = groups.get(g, 0) + 1
        print(f"ignored tensors ({len(extra)}): " + ", ".join(f"{g} ({n})" for g, n in groups.items()))
    bad_dtype = [k for k in sd if k in ck and ck[k].dtype != np.float32]
    if bad_dtype:
        print(f"warning: model tensors not F32: {bad_dtype}")
    try:
        load_state(model, {k: torch.from_numpy(np.ascontiguousarray(v)) for k, v in ck.items()})
    except (KeyError, ValueError) as e:
        print(f"FAIL: cannot load checkpoint: {e}")
        return 1

    _, dbg = read_safetensors(args.debug)
    for k in ("inputs", "targets", "logits0", "loss"):
        if k not in dbg:
            print(f"FAIL: debug file lacks '{k}'")
            return 1
    idx = torch.from_numpy(dbg["inputs"].astype(np.int64))
    tgt = torch.from_numpy(dbg["targets"].astype(np.int64))
    B, T = idx.shape
    print(f"debug {args.debug}: B={B} T={T}")

    logits, loss = model(idx, tgt)
    loss.backward()
    grads = {k: p.grad for k, p in model.named_parameters()}

    rows = []  # (name, maxabs, rel, tol)
    rows.append(("loss",) + errors(dbg["loss"].reshape(-1)[:1], loss.detach().numpy().reshape(1)) + (LOSS_TOL,))
    rows.append(("logits0",) + errors(dbg["logits0"].reshape(-1), logits[0, 0].detach().numpy()) + (LOGITS_TOL,))
    missing = []
    for k in sd:
        gk = "grad." + k
        if gk not in dbg:
            missing.append(gk)
            continue
        g = dbg[gk]
        ref = grads[k].numpy() if grads[k] is not None else np.zeros(sd[k].shape)
        if g.shape != ref.shape:
            print(f"  {gk}: shape {g.shape} != {ref.shape}")
        rows.append((gk,) + errors(g, ref) + (GRAD_TOL,))

    print(f"C loss {float(dbg['loss'].reshape(-1)[0]):.8f}   torch loss {loss.item():.8f}")
    print(f"{'quantity':52s} {'max abs diff':>12s} {'rel err':>10s}")
    failed = []
    for name, d, r, tol in rows:
        ok = r < tol
        if not ok and name != "logits0":
            failed.append(name)
        mark = "ok" if ok else ("WARN" if name == "logits0" else "FAIL")
        print(f"{name:52s} {d:12.3e} {r:10.3e}  {mark}")
    for gk in missing:
        print(f"{gk:52s} {'missing':>12s}")
    failed += missing

    worst_grad = max((r for n, _, r, _ in rows if n.startswith("grad.")), default=float("nan"))
    status = "PASS" if not failed else "FAIL"
    print(f"{status}: loss rel {rows[0][2]:.2e} (tol {LOSS_TOL:g}), logits0 rel {rows[1][2]:.2e}, "
          f"worst grad rel {worst_grad:.2e} (tol {GRAD_TOL:g}), {len(rows) - 2} grads compared"
          + (f", failing: {', '.join(failed)}" if failed else ""))
    return 0 if not failed else 1


if __name__ == "__main__":
    sys.exit(main())
