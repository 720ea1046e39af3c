"""
Write a fake seqmodels checkpoint + debug file from the PyTorch reference, in the format the C
trainer writes, to test compare_debug.py without the C code.

    python dev/ref/make_fake_debug.py CKPT DEBUG [--model gpt|llama] [--pos rope] [--bias 1]
        [--L 2 --H 4 --C 32 --V 64 --block 16 --B 3 --T 12] [--perturb grad.NAME]

The forward/backward runs in float64 and the results are stored as F32 (like C output would
be). The checkpoint also gets optim.m.* / optim.v.* tensors and extra config fields, which
compare_debug must ignore. --perturb adds 1% of its max|value| to one element of a grad (or of
"loss"/"logits0") so that compare_debug should fail.
"""

import argparse
import json
import os
import sys

import numpy as np
import torch
from safetensors.numpy import save_file

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from torch_models import Transformer  # noqa: E402


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("ckpt")
    ap.add_argument("debug")
    ap.add_argument("--model", default="gpt")
    ap.add_argument("--pos", default=None)
    ap.add_argument("--bias", type=int, default=1)
    ap.add_argument("--L", type=int, default=2)
    ap.add_argument("--H", type=int, default=4)
    ap.add_argument("--C", type=int, default=32)
    ap.add_argument("--V", type=int, default=64)
    ap.add_argument("--block", type=int, default=16)
    ap.add_argument("--B", type=int, default=3)
    ap.add_argument("--T", type=int, default=12)
    ap.add_argument("--mlp_hidden", type=int, default=0)
    ap.add_argument("--num_masked_heads", type=int, default=-1)
    ap.add_argument("--seed", type=int, default=1234)
    ap.add_argument("--perturb", default=None, help="grad.<name>, loss or logits0")
    a = ap.parse_args()

    torch.manual_seed(a.seed)
    cfg = {"model": a.model, "vocab_size": a.V, "block_size": a.block, "n_layer": a.L, "n_head": a.H,
           "n_embd": a.C, "bias": a.bias, "dropout": 0.1, "mlp_hidden": a.mlp_hidden,
           "num_masked_heads": a.num_masked_heads}
    if a.pos:
        cfg["pos"] = a.pos
    model = Transformer(cfg).double()
    with torch.no_grad():  # make norms/biases non-trivial so their grads are exercised
        for n, p in model.named_parameters():
            if n.endswith(".bias") or ".ln_" in n:
                p.add_(0.1 * torch.randn_like(p))
        for p in model.parameters():  # round to F32, as stored
            p.copy_(p.float().double())
    model.eval()  # dropout off; the config still says 0.1 to check that it is ignored

    idx = torch.randint(0, a.V, (a.B, a.T))
    tgt = torch.randint(0, a.V, (a.B, a.T))
    logits, loss = model(idx, tgt)
    loss.backward()

    f32 = lambda t: np.ascontiguousarray(t.detach().numpy().astype(np.float32))
    ck = {n: f32(p) for n, p in model.state_dict().items()}
    for n, p in list(ck.items()):
        ck["optim.m." + n] = np.zeros_like(p)
        ck["optim.v." + n] = np.zeros_like(p)
    meta_cfg = dict(model.cfg, step=0, d_state=0, expand=0)  # extra fields to ignore
    save_file(ck, a.ckpt, metadata={"format": "seqmodels", "config": json.dumps(meta_cfg)})

    dbg = {"inputs": idx.numpy().astype(np.int32), "targets": tgt.numpy().astype(np.int32),
           "logits0": f32(logits[0, 0]), "loss": np.array([loss.item()], dtype=np.float32)}
    for n, p in model.named_parameters():
        dbg["grad." + n] = f32(p.grad)
    if a.perturb:
        t = dbg[a.perturb]
        t.reshape(-1)[0] += 0.01 * max(float(np.abs(t).max()), 1e-6)
    save_file(dbg, a.debug)
    print(f"wrote {a.ckpt} ({len(ck)} tensors) and {a.debug}: loss {loss.item():.6f}, config {json.dumps(model.cfg)}")


if __name__ == "__main__":
    main()
