"""
PyTorch GPU baseline for dev/bench/bench_gpu: our `gpt` architecture written the way a nanoGPT
user would write it, trained in bf16 autocast, eager or torch.compile.

    python dev/bench/torch_gpt_gpu.py [--mode eager|compile] [--layers 6] [--heads 6] [--width 384]
                                      [--batch 64] [--seq 256] [--steps 60] [--warmup 10]
                                      [--data data/tinyshakespeare.txt] [--seed 1337] [--device cuda]
                                      [--profile N]

Model: GPT-2 block, pre-LayerNorm (eps 1e-5) without biases, Linear without biases, learned
positions (wpe, `seq` rows), GELU (tanh) MLP of width 4C, causal attention through
F.scaled_dot_product_attention(is_causal=True), LM head tied to wte, V=256 (bytes), no dropout.
Parameter names are those of dev/ref/torch_models.py (plus the tied lm_head.weight).
Init as nanoGPT: normal(0, 0.02), c_proj weights normal(0, 0.02/sqrt(2L)), LayerNorm weights 1.

A step (timed, torch.cuda.synchronize() before and after) = random batch of B windows of T+1 bytes
of the data file (numpy on the CPU, pinned buffers, non_blocking copy) + forward under
autocast(bfloat16) + cross-entropy + backward + clip_grad_norm_(1.0) + fused AdamW (lr 1e-3
constant, betas (0.9, 0.99), eps 1e-8, weight decay 0.1 on 2-D tensors only). TF32 matmuls on.

The first --warmup steps (torch.compile compiles in step 1) are left out of the median.
  tok/s = B*T*1000 / median_ms
  MFU   = flops_per_token * tok/s / peak, flops_per_token = 6N + 12*L*C*T (nanoGPT's estimate,
          N = parameters without wpe), peak (bf16 dense, as train_gpu) = 989.4e12 (H100/H200
          SXM), 756e12 (H100 PCIe), 312e12 (A100), otherwise n/a
  mem   = torch.cuda.max_memory_allocated() over the whole run (stats reset at the start)
The last line is machine-readable (bench_gpu parses it):
  RESULT impl=torch-<mode> ms=<median> tok_s=<..> mfu=<percent or nan> mem_mib=<..> loss=<last loss>
--device cpu runs the same code on the CPU (tiny sizes, smoke test only: no MFU, no memory).
--profile N: after the timed steps, N more under torch.profiler, then a table of the device kernels
(calls and ms per step, share): where PyTorch's step time goes, next to dev/bench/profile_gpu's.
"""

import argparse
import math
import os
import statistics
import sys
import time

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

ROOT = os.path.abspath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))
VOCAB = 256


# ---------------------------------------------------------------------------------------------
# model


class CausalSelfAttention(nn.Module):
    def __init__(self, C, H):
        super().__init__()
        self.n_head = H
        self.c_attn = nn.Linear(C, 3 * C, bias=False)
        self.c_proj = nn.Linear(C, C, bias=False)

    def forward(self, x):
        B, T, C = x.shape
        H = self.n_head
        q, k, v = self.c_attn(x).split(C, dim=2)
        q, k, v = (t.view(B, T, H, C // H).transpose(1, 2) for t in (q, k, v))  # (B,H,T,hs)
        y = F.scaled_dot_product_attention(q, k, v, is_causal=True)
        y = y.transpose(1, 2).contiguous().view(B, T, C)
        return self.c_proj(y)


class MLP(nn.Module):
    def __init__(self, C):
        super().__init__()
        self.c_fc = nn.Linear(C, 4 * C, bias=False)
        self.c_proj = nn.Linear(4 * C, C, bias=False)

    def forward(self, x):
        return self.c_proj(F.gelu(self.c_fc(x), approximate="tanh"))


class Block(nn.Module):
    def __init__(self, C, H):
        super().__init__()
        self.ln_1 = nn.LayerNorm(C, eps=1e-5, bias=False)
        self.attn = CausalSelfAttention(C, H)
        self.ln_2 = nn.LayerNorm(C, eps=1e-5, bias=False)
        self.mlp = MLP(C)

    def forward(self, x):
        x = x + self.attn(self.ln_1(x))
        x = x + self.mlp(self.ln_2(x))
        return x


class GPT(nn.Module):
    def __init__(self, L, H, C, T):
        super().__init__()
        if C % H:
            raise ValueError(f"width {C} is not divisible by heads {H}")
        self.block_size = T
        self.transformer = nn.ModuleDict(dict(
            wte=nn.Embedding(VOCAB, C),
            wpe=nn.Embedding(T, C),
            h=nn.ModuleList(Block(C, H) for _ in range(L)),
            ln_f=nn.LayerNorm(C, eps=1e-5, bias=False),
        ))
        self.lm_head = nn.Linear(C, VOCAB, bias=False)
        self.lm_head.weight = self.transformer.wte.weight  # tied
        proj_std = 0.02 / math.sqrt(2 * L)
        with torch.no_grad():
            for name, p in self.named_parameters():  # the tied weight is listed once (as wte)
                if name.endswith("c_proj.weight"):
                    nn.init.normal_(p, 0.0, proj_std)
                elif ".ln_" in name:
                    nn.init.ones_(p)
                else:  # Linear and Embedding weights
                    nn.init.normal_(p, 0.0, 0.02)

    def forward(self, idx, targets):
        B, T = idx.shape
        tr = self.transformer
        pos = torch.arange(T, device=idx.device)
        x = tr.wte(idx) + tr.wpe(pos)
        for block in tr.h:
            x = block(x)
        logits = self.lm_head(tr.ln_f(x))
        return F.cross_entropy(logits.view(B * T, VOCAB), targets.view(B * T))  # fp32 under autocast


# ---------------------------------------------------------------------------------------------
# benchmark


def peak_flops(name):
    """bf16 dense peak of the GPU named `name` (the table of train_gpu.cu), or None when unknown."""
    n = name.lower()
    if "h100" in n and "pcie" in n:
        return 756e12
    if "h100" in n or "h200" in n:
        return 989.4e12
    if "a100" in n:
        return 312e12
    return None


def profile_steps(n, step):
    """n steps under torch.profiler; prints the device kernels by total time, in ms per step"""
    from torch.profiler import ProfilerActivity, profile
    torch.cuda.synchronize()
    with profile(activities=[ProfilerActivity.CUDA]) as prof:
        for _ in range(n):
            step()
        torch.cuda.synchronize()
    rows = {}
    for ev in prof.events():
        if ev.device_type == torch.autograd.DeviceType.CUDA:
            r = rows.setdefault(ev.name, [0, 0.0])
            r[0] += 1
            r[1] += ev.device_time_total if hasattr(ev, "device_time_total") else ev.cuda_time_total
    total = sum(r[1] for r in rows.values()) / n / 1000
    print(f"profile: {n} steps, {total:.3f} ms of kernels per step")
    print(f"{'kernel':<100} {'calls/step':>10} {'ms/step':>9} {'share':>7}")
    for name, (calls, us) in sorted(rows.items(), key=lambda kv: -kv[1][1]):
        ms = us / n / 1000
        print(f"{name[:100]:<100} {calls / n:>10.0f} {ms:>9.3f} {100 * ms / total:>6.1f}%")


def main():
    ap = argparse.ArgumentParser(description="PyTorch GPU baseline of our gpt (see the docstring)")
    ap.add_argument("--mode", choices=["eager", "compile"], default="eager")
    ap.add_argument("--layers", type=int, default=6)
    ap.add_argument("--heads", type=int, default=6)
    ap.add_argument("--width", type=int, default=384)
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--seq", type=int, default=256)
    ap.add_argument("--steps", type=int, default=60)
    ap.add_argument("--warmup", type=int, default=10)
    ap.add_argument("--data", default=os.path.join(ROOT, "data", "tinyshakespeare.txt"))
    ap.add_argument("--seed", type=int, default=1337)
    ap.add_argument("--device", choices=["cuda", "cpu"], default="cuda", help="cpu: smoke test only")
    ap.add_argument("--profile", type=int, default=0, metavar="N",
                    help="after the timed steps, N more under torch.profiler: a per-kernel table (ms/step)")
    a = ap.parse_args()
    if a.warmup < 0 or a.steps <= a.warmup:
        sys.exit(f"--steps ({a.steps}) must be > --warmup ({a.warmup}) >= 0")
    if min(a.layers, a.heads, a.width, a.batch, a.seq) < 1:
        sys.exit("--layers, --heads, --width, --batch and --seq must be >= 1")
    if not os.path.exists(a.data):
        sys.exit(f"data file not found: {a.data} (use --data PATH)")
    cuda = a.device == "cuda"
    if cuda and not torch.cuda.is_available():
        sys.exit("CUDA is not available to this PyTorch (torch.version.cuda = "
                 f"{torch.version.cuda}); --device cpu runs a smoke test")
    dev = torch.device(a.device)
    L, H, C, B, T = a.layers, a.heads, a.width, a.batch, a.seq

    torch.manual_seed(a.seed)
    rng = np.random.default_rng(a.seed)
    with open(a.data, "rb") as f:
        data = np.frombuffer(f.read(), dtype=np.uint8)
    if len(data) < T + 2:
        sys.exit(f"{a.data} has {len(data)} bytes, fewer than --seq + 2")
    torch.backends.cuda.matmul.allow_tf32 = True
    torch.backends.cudnn.allow_tf32 = True
    if cuda:
        torch.cuda.reset_peak_memory_stats()

    model = GPT(L, H, C, T).to(dev)
    model.train()
    params = list(model.parameters())  # unique: the tied head is wte
    n_params = sum(p.numel() for p in params)
    n_flops_params = n_params - model.transformer.wpe.weight.numel()
    flops_per_token = 6 * n_flops_params + 12 * L * C * T
    gpu_name = torch.cuda.get_device_name(dev) if cuda else "cpu"
    peak = peak_flops(gpu_name) if cuda else None

    decay = [p for p in params if p.dim() >= 2]
    no_decay = [p for p in params if p.dim() < 2]
    opt = torch.optim.AdamW([{"params": decay, "weight_decay": 0.1},
                             {"params": no_decay, "weight_decay": 0.0}],
                            lr=1e-3, betas=(0.9, 0.99), eps=1e-8, fused=cuda)
    step_model = torch.compile(model) if a.mode == "compile" else model

    print(f"torch {torch.__version__} (CUDA {torch.version.cuda}), device {gpu_name}, mode {a.mode}")
    print(f"gpt L{L} H{H} C{C}, batch {B} x {T}: {n_params} parameters ({n_flops_params} without wpe), "
          f"{flops_per_token / 1e6:.2f} MFLOP/token, peak "
          f"{f'{peak / 1e12:.1f} TFLOPS' if peak else 'unknown (MFU n/a)'}; data {a.data} ({len(data)} bytes)",
          flush=True)

    # pinned host buffers, refilled each step; safe to reuse: every step ends with a synchronize
    xb = torch.empty((B, T), dtype=torch.int64, pin_memory=cuda)
    yb = torch.empty((B, T), dtype=torch.int64, pin_memory=cuda)
    xb_np, yb_np = xb.numpy(), yb.numpy()
    offs = np.arange(T + 1)

    def sync():
        if cuda:
            torch.cuda.synchronize()

    def train_step():
        ix = rng.integers(0, len(data) - T - 1, size=B)
        chunk = data[ix[:, None] + offs]  # (B, T+1) uint8
        xb_np[:] = chunk[:, :-1]
        yb_np[:] = chunk[:, 1:]
        x = xb.to(dev, non_blocking=True)
        y = yb.to(dev, non_blocking=True)
        with torch.autocast(device_type=dev.type, dtype=torch.bfloat16):
            loss = step_model(x, y)
        loss.backward()
        norm = torch.nn.utils.clip_grad_norm_(params, 1.0)
        opt.step()
        opt.zero_grad(set_to_none=True)
        return loss, norm

    times, lossf, t_run = [], float("nan"), time.perf_counter()
    for step in range(1, a.steps + 1):
        sync()
        t0 = time.perf_counter()
        loss, norm = train_step()
        sync()
        ms = (time.perf_counter() - t0) * 1000
        times.append(ms)
        if step == 1 or step % 10 == 0 or step == a.steps:
            lossf = loss.item()
            print(f"step {step}/{a.steps} | loss {lossf:.4f} | norm {norm.item():.3f} | {ms:.1f} ms | "
                  f"{B * T * 1000 / ms:.0f} tok/s", flush=True)
        if step == a.warmup:
            what = "compile + warm-up" if a.mode == "compile" else "warm-up"
            print(f"{what}: step 1 took {times[0] / 1000:.2f} s, steps 1..{a.warmup} "
                  f"{(time.perf_counter() - t_run):.2f} s", flush=True)

    if a.profile > 0 and cuda:
        profile_steps(a.profile, train_step)

    med = statistics.median(times[a.warmup:])
    tok_s = B * T * 1000 / med
    mfu = 100 * flops_per_token * tok_s / peak if peak else float("nan")
    mem = torch.cuda.max_memory_allocated(dev) / 2**20 if cuda else float("nan")
    reserved = torch.cuda.max_memory_reserved(dev) / 2**20 if cuda else float("nan")
    print(f"torch-{a.mode}: median {med:.2f} ms/step over steps {a.warmup + 1}..{a.steps}, "
          f"{tok_s:.0f} tok/s, MFU {'n/a' if math.isnan(mfu) else f'{mfu:.1f}%'}, "
          f"peak allocated {mem:.0f} MiB (reserved {reserved:.0f} MiB)")
    print(f"RESULT impl=torch-{a.mode} ms={med:.3f} tok_s={tok_s:.0f} mfu={mfu:.2f} mem_mib={mem:.0f} "
          f"loss={lossf:.4f}")


if __name__ == "__main__":
    main()
