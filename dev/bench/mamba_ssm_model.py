"""A whole Mamba language model in PyTorch on mamba-ssm's selective-scan kernels: the reference
stack for `train_gpu -m mamba` at config (b)'s size (issue 6), timed on the same GPU.

The network is the one of ssm.md (the Longhorn repository's wrapper): byte embedding, 2 x
n_layer blocks of res = res + h, h = Mamba(RMSNorm(res)), a final RMSNorm, the head tied to the
embedding. The Mamba mixer is mamba-ssm's non-fused path (modules/mamba_simple.py without
causal_conv1d): in_proj, a depthwise causal conv1d (F.conv1d) and SiLU, x_proj, dt_proj, the
selective scan with the gate fused (mamba-ssm's CUDA kernels, built from source by
mamba_ssm_scan.build), out_proj. bf16 autocast, fused AdamW. Prints the median ms/step over the
steps after warm-up, tok/s and the peak memory, eager and (if it compiles) torch.compile, which
leaves the scan as a custom autograd function between compiled graphs.

    python3 dev/bench/mamba_ssm_model.py SRC_DIR [--L 12 --C 768 --B 16 --T 1024 --steps 30]

SRC_DIR: mamba-ssm's csrc/selective_scan (see mamba_ssm_scan.py). --L counts Transformer layers:
the model has 2 L Mamba blocks, as train_gpu's -L 2L.
"""
import argparse
import math
import os
import statistics
import sys
import time

import torch
import torch.nn as nn
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from mamba_ssm_scan import build  # noqa: E402

EXT = None


class SelectiveScan(torch.autograd.Function):
    """y SiLU(z) of the selective scan, (batch, channel, time) layout, delta_softplus on"""

    @staticmethod
    def forward(ctx, u, delta, A, B, C, D, z, delta_bias):
        out, states, out_z = EXT.fwd(u, delta, A, B, C, D, z, delta_bias, True)[:3]
        ctx.save_for_backward(u, delta, A, B, C, D, z, delta_bias, states, out)
        return out_z

    @staticmethod
    def backward(ctx, dout):
        u, delta, A, B, C, D, z, delta_bias, states, out = ctx.saved_tensors
        g = EXT.bwd(u, delta, A, B, C, D, z, delta_bias, dout.contiguous(), states, out, None, True, False)
        du, ddelta, dA, dB, dC, dD, ddelta_bias, dz = g[:8]
        return du, ddelta, dA, dB.to(B.dtype), dC.to(C.dtype), dD, dz, ddelta_bias


class Mixer(nn.Module):
    def __init__(self, C, E, N, R, W):
        super().__init__()
        self.E, self.N, self.R, self.W = E, N, R, W
        self.in_proj = nn.Linear(C, 2 * E, bias=False)
        self.conv1d = nn.Conv1d(E, E, W, groups=E, padding=W - 1)
        self.x_proj = nn.Linear(E, R + 2 * N, bias=False)
        self.dt_proj = nn.Linear(R, E)
        self.A_log = nn.Parameter(torch.log(torch.arange(1, N + 1, dtype=torch.float32)).repeat(E, 1))
        self.D = nn.Parameter(torch.ones(E))
        self.out_proj = nn.Linear(E, C, bias=False)

    def forward(self, h):  # (B, T, C)
        Bsz, T, _ = h.shape
        xz = self.in_proj(h).transpose(1, 2)  # (B, 2E, T)
        x, z = xz.chunk(2, dim=1)
        x = F.silu(self.conv1d(x)[..., :T])
        xdbl = self.x_proj(x.transpose(1, 2).reshape(Bsz * T, self.E))  # (BT, R + 2N)
        dt, Bm, Cm = torch.split(xdbl, [self.R, self.N, self.N], dim=-1)
        dt = (dt @ self.dt_proj.weight.t()).view(Bsz, T, self.E).transpose(1, 2)  # (B, E, T), bias inside the scan
        Bm = Bm.reshape(Bsz, T, self.N).transpose(1, 2).unsqueeze(1).contiguous()  # (B, 1, N, T)
        Cm = Cm.reshape(Bsz, T, self.N).transpose(1, 2).unsqueeze(1).contiguous()
        y = SelectiveScan.apply(x.contiguous(), dt.contiguous(), -torch.exp(self.A_log.float()), Bm, Cm, self.D.float(),
                                z.contiguous(), self.dt_proj.bias.float())
        return self.out_proj(y.transpose(1, 2))


class MambaLM(nn.Module):
    def __init__(self, V, C, n_blocks, N=16, expand=2, W=4):
        super().__init__()
        E, R = expand * C, math.ceil(C / 16)
        self.emb = nn.Embedding(V, C)
        nn.init.normal_(self.emb.weight, std=0.02)  # (tied head: unit-variance rows would make huge logits)
        self.norms = nn.ModuleList([nn.RMSNorm(C, eps=1e-5) for _ in range(n_blocks)])
        self.mixers = nn.ModuleList([Mixer(C, E, N, R, W) for _ in range(n_blocks)])
        self.norm_f = nn.RMSNorm(C, eps=1e-5)

    def forward(self, idx, targets):
        res = self.emb(idx)
        h = None
        for norm, mixer in zip(self.norms, self.mixers):
            res = res if h is None else res + h
            h = mixer(norm(res))
        logits = self.norm_f(res + h) @ self.emb.weight.t()
        return F.cross_entropy(logits.float().reshape(-1, logits.size(-1)), targets.reshape(-1))


def run(model, steps, B, T, V):
    opt = torch.optim.AdamW(model.parameters(), lr=6e-4, weight_decay=0.1, betas=(0.9, 0.95), fused=True)
    g = torch.Generator(device="cuda").manual_seed(0)
    torch.cuda.reset_peak_memory_stats()
    times, loss = [], None
    for step in range(steps):
        idx = torch.randint(0, V, (B, T + 1), device="cuda", generator=g)
        torch.cuda.synchronize()
        t0 = time.perf_counter()
        with torch.autocast("cuda", dtype=torch.bfloat16):
            loss = model(idx[:, :-1], idx[:, 1:])
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        opt.zero_grad(set_to_none=True)
        torch.cuda.synchronize()
        times.append((time.perf_counter() - t0) * 1e3)
    ms = statistics.median(times[10:])
    return ms, B * T / ms * 1e3, torch.cuda.max_memory_allocated() / 2**20, loss.item()


def main():
    global EXT
    ap = argparse.ArgumentParser()
    ap.add_argument("src")
    ap.add_argument("--L", type=int, default=12)
    ap.add_argument("--C", type=int, default=768)
    ap.add_argument("--B", type=int, default=16)
    ap.add_argument("--T", type=int, default=1024)
    ap.add_argument("--steps", type=int, default=30)
    ap.add_argument("--build-dir", default="/tmp/mamba_ssm_build")
    a = ap.parse_args()
    EXT = build(a.src, a.build_dir)
    V = 256
    print(f"device: {torch.cuda.get_device_name()}; Mamba LM {2 * a.L} blocks x {a.C}, B{a.B} T{a.T}, vocab {V}, bf16 autocast")
    print("| impl | ms/step | tok/s | peak mem MiB | last loss |")
    print("|---|---:|---:|---:|---:|")
    for mode in ("eager", "compile"):
        torch.manual_seed(0)
        model = MambaLM(V, a.C, 2 * a.L).cuda()
        if mode == "compile":
            try:
                model = torch.compile(model)
            except Exception as e:  # noqa: BLE001
                print(f"| torch.compile | failed: {type(e).__name__} | | | |")
                continue
        try:
            ms, tps, mem, loss = run(model, a.steps, a.B, a.T, V)
            print(f"| PyTorch + mamba-ssm scan, {mode} | {ms:.1f} | {tps:,.0f} | {mem:,.0f} | {loss:.4f} |", flush=True)
        except Exception as e:  # noqa: BLE001
            print(f"| PyTorch + mamba-ssm scan, {mode} | failed: {type(e).__name__}: {str(e)[:200]} | | | |", flush=True)
        del model
        torch.cuda.empty_cache()


if __name__ == "__main__":
    main()
