"""
PyTorch eager CPU baseline: the nanoGPT CPU config trained with the reference model of
dev/ref/torch_models.py, to compare against our C trainer (dev/bench/bench_cpu).

    python dev/bench/torch_gpt_cpu.py [--steps 60] [--threads 2] [--data data/tinyshakespeare.txt]

gpt, L4 H4 C128, block 64, batch 12, V=256 (bytes), no bias, no dropout, learned positions,
AdamW (lr 1e-3 constant, betas (0.9, 0.99), eps 1e-8, weight decay 0.1 on 2-D tensors only),
grad-norm clip 1.0, batches = random windows of the data file's bytes.
A step (timed) = batch + forward + backward + clip + optimizer step. The first 10 steps are
warm-up; the summary is the median over the rest, and the peak RSS of the process.
"""

import argparse
import os
import resource
import statistics
import sys
import time

import numpy as np
import torch

ROOT = os.path.abspath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))
sys.path.insert(0, os.path.join(ROOT, "dev", "ref"))
from torch_models import Transformer  # noqa: E402

B, T = 12, 64
WARMUP = 10


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--steps", type=int, default=60)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--data", default=os.path.join(ROOT, "data", "tinyshakespeare.txt"))
    ap.add_argument("--seed", type=int, default=1337)
    a = ap.parse_args()
    if a.steps <= WARMUP:
        sys.exit(f"--steps must be > {WARMUP} (the first {WARMUP} are warm-up)")
    if not os.path.exists(a.data):
        sys.exit(f"data file not found: {a.data} (use --data PATH)")

    torch.set_num_threads(a.threads)
    torch.manual_seed(a.seed)
    rng = np.random.default_rng(a.seed)
    with open(a.data, "rb") as f:
        data = np.frombuffer(f.read(), dtype=np.uint8)

    cfg = dict(model="gpt", vocab_size=256, block_size=T, n_layer=4, n_head=4, n_embd=128,
               pos="learned", bias=0, dropout=0.0)
    model = Transformer(cfg)
    model.train()
    decay = [p for p in model.parameters() if p.dim() >= 2]
    no_decay = [p for p in model.parameters() if p.dim() < 2]
    opt = torch.optim.AdamW([{"params": decay, "weight_decay": 0.1},
                             {"params": no_decay, "weight_decay": 0.0}],
                            lr=1e-3, betas=(0.9, 0.99), eps=1e-8)
    nparams = sum(p.numel() for p in model.parameters())
    print(f"torch {torch.__version__}, threads {torch.get_num_threads()}, params {nparams}, "
          f"data {a.data} ({len(data)} bytes), B={B} T={T}")

    times = []
    for step in range(1, a.steps + 1):
        t0 = time.perf_counter()
        ix = rng.integers(0, len(data) - T - 1, size=B)
        chunk = np.stack([data[i:i + T + 1] for i in ix]).astype(np.int64)
        x = torch.from_numpy(chunk[:, :-1])
        y = torch.from_numpy(chunk[:, 1:])
        _, loss = model(x, y)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        norm = torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        lossf = loss.item()
        ms = (time.perf_counter() - t0) * 1000
        times.append(ms)
        print(f"step {step}/{a.steps} | loss {lossf:.4f} | lr {1e-3:.2e} | norm {norm.item():.3f} | "
              f"{ms:.1f} ms | {B * T * 1000 / ms:.0f} tok/s", flush=True)

    med = statistics.median(times[WARMUP:])
    rss_mib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux: KiB
    print(f"torch-eager-cpu: median {med:.2f} ms/step, {B * T * 1000 / med:.0f} tok/s, "
          f"peak RSS {rss_mib:.1f} MiB (threads {a.threads})")


if __name__ == "__main__":
    main()
