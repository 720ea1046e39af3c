"""PyTorch's CPU matmuls (MKL / oneDNN) on the shapes of dev/bench/bench_matmul: one training step
of the nanoGPT CPU config (gpt L4 C128 Hd512 V256, B12 T64: 768 rows), the same operand layouts
(forward: inp @ W^T; backward: dout @ W and dout^T @ inp), C += A @ B in place. Best of 30 runs
per shape; the last line is one step's matmul time, comparable with bench_matmul's last line.

    python3 dev/bench/torch_matmul_cpu.py [--threads 2]
"""
import argparse
import time

import torch

ap = argparse.ArgumentParser()
ap.add_argument("--threads", type=int, default=2)
args = ap.parse_args()
torch.set_num_threads(args.threads)
N, C, Hd, V, L = 768, 128, 512, 256, 4
# (name, kind, M, Nc, K, per step); kind 0: A (M,K) @ W^T, W (Nc,K); 1: A (M,K) @ B (K,Nc); 2: X^T @ B, X (K,M)
shapes = [("fwd qkv", 0, N, 3 * C, C, L), ("fwd attn proj", 0, N, C, C, L), ("fwd fc", 0, N, Hd, C, L),
          ("fwd mlp proj", 0, N, C, Hd, L), ("fwd head", 0, N, V, C, 1), ("bwd dinp qkv", 1, N, C, 3 * C, L),
          ("bwd dinp attn proj", 1, N, C, C, L), ("bwd dinp fc", 1, N, C, Hd, L), ("bwd dinp mlp proj", 1, N, Hd, C, L),
          ("bwd dinp head", 1, N, C, V, 1), ("bwd dW qkv", 2, 3 * C, C, N, L), ("bwd dW attn proj", 2, C, C, N, L),
          ("bwd dW fc", 2, Hd, C, N, L), ("bwd dW mlp proj", 2, C, Hd, N, L), ("bwd dW head", 2, V, C, N, 1)]
print(f"torch {torch.__version__}, threads {torch.get_num_threads()}")
step_s, step_flop = 0.0, 0.0
for name, kind, M, Nc, K, per_step in shapes:
    a = torch.randn(K, M).t() if kind == 2 else torch.randn(M, K)
    b = torch.randn(Nc, K).t() if kind == 0 else torch.randn(K, Nc)
    c = torch.zeros(M, Nc)
    for _ in range(5):
        c.addmm_(a, b)
    best = 1e30
    for _ in range(30):
        t0 = time.perf_counter()
        c.addmm_(a, b)
        best = min(best, time.perf_counter() - t0)
    flop = 2.0 * M * Nc * K
    step_s += best * per_step
    step_flop += flop * per_step
    print(f"{name:20s} M {M:4d} N {Nc:4d} K {K:4d} {best * 1e3:8.3f} ms {flop / best / 1e9:7.1f} GFLOP/s")
print(f"one step's matmuls: {step_flop / 1e9:.2f} GFLOP in {step_s * 1e3:.2f} ms = {step_flop / step_s / 1e9:.1f} GFLOP/s")
