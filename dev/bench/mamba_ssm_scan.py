"""mamba-ssm's selective-scan CUDA kernels (the ones behind its selective_scan_fn), timed at
bench_scan's shape, as the reference the issue asks for next to our kernels.

There is no mamba-ssm wheel for the device's PyTorch (2.11), so this builds its
csrc/selective_scan (from the PyPI source archive, e.g. mamba_ssm-2.3.2.post1.tar.gz) for sm_90
with torch.utils.cpp_extension (the compiler flags of its setup.py) and calls the extension's
fwd/bwd the way selective_scan_fn does: u, delta, z and the B/C rows in bf16 (its kernels want
B/C in the input type), A, D and the delta bias in fp32, delta_softplus on, z given (the gated
output y SiLU(z), what our forward writes). Its layout is (batch, channel, time). Prints the
median of 20 runs after warm-up of the forward and of forward + backward.

    python3 dev/bench/mamba_ssm_scan.py SRC_DIR [--B 16 --T 1024 --E 1536 --N 16] [--build-only]

SRC_DIR: the archive's csrc/selective_scan. Building takes a few minutes (MAX_JOBS jobs).
"""
import argparse
import os
import statistics
import time

import torch
from torch.utils.cpp_extension import load


def build(src, build_dir):
    files = [os.path.join(src, f) for f in sorted(os.listdir(src)) if f.endswith(".cu") or f == "selective_scan.cpp"]
    os.makedirs(build_dir, exist_ok=True)
    os.environ.setdefault("TORCH_CUDA_ARCH_LIST", "9.0")
    flags = ["-O3", "-std=c++17", "-U__CUDA_NO_HALF_OPERATORS__", "-U__CUDA_NO_HALF_CONVERSIONS__",
             "-U__CUDA_NO_BFLOAT16_OPERATORS__", "-U__CUDA_NO_BFLOAT16_CONVERSIONS__",
             "-U__CUDA_NO_BFLOAT162_OPERATORS__", "-U__CUDA_NO_BFLOAT162_CONVERSIONS__",
             "--expt-relaxed-constexpr", "--expt-extended-lambda", "--use_fast_math"]
    t0 = time.time()
    ext = load(name="selective_scan_cuda", sources=files, extra_cflags=["-O3", "-std=c++17"], extra_cuda_cflags=flags,
               build_directory=build_dir, verbose=False)
    print(f"selective_scan_cuda built (or found) in {time.time() - t0:.0f} s", flush=True)
    return ext


def timed(f, reps=20):
    for _ in range(3):
        f()
    torch.cuda.synchronize()
    ms = []
    for _ in range(reps):
        start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        start.record()
        f()
        end.record()
        torch.cuda.synchronize()
        ms.append(start.elapsed_time(end))
    return statistics.median(ms)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("src")
    ap.add_argument("--B", type=int, default=16)
    ap.add_argument("--T", type=int, default=1024)
    ap.add_argument("--E", type=int, default=1536)
    ap.add_argument("--N", type=int, default=16)
    ap.add_argument("--build-dir", default="/tmp/mamba_ssm_build")
    ap.add_argument("--build-only", action="store_true")
    a = ap.parse_args()
    ext = build(a.src, a.build_dir)
    if a.build_only:
        return
    B, T, E, N, dev, bf = a.B, a.T, a.E, a.N, "cuda", torch.bfloat16
    torch.manual_seed(0)
    u = torch.randn(B, E, T, device=dev).to(bf)
    delta = (0.5 * torch.randn(B, E, T, device=dev) - 1.0).to(bf)  # before softplus
    A = -torch.exp(0.5 * torch.randn(E, N, device=dev))
    Bm = torch.randn(B, 1, N, T, device=dev).to(bf)
    Cm = torch.randn(B, 1, N, T, device=dev).to(bf)
    D = torch.randn(E, device=dev)
    z = torch.randn(B, E, T, device=dev).to(bf)
    delta_bias = 0.1 * torch.randn(E, device=dev)
    out = ext.fwd(u, delta, A, Bm, Cm, D, z, delta_bias, True)
    y, states, out_z = out[0], out[1], out[2]
    dout = torch.randn_like(out_z)
    grads = ext.bwd(u, delta, A, Bm, Cm, D, z, delta_bias, dout, states, y, None, True, False)
    finite = all(torch.isfinite(t).all().item() for t in [out_z] + [g for g in grads if g is not None])
    print(f"outputs and gradients finite: {finite}; |out_z| mean {out_z.float().abs().mean().item():.4f}")

    def fwd():
        return ext.fwd(u, delta, A, Bm, Cm, D, z, delta_bias, True)

    def fwd_bwd():
        o = ext.fwd(u, delta, A, Bm, Cm, D, z, delta_bias, True)
        ext.bwd(u, delta, A, Bm, Cm, D, z, delta_bias, dout, o[1], o[0], None, True, False)

    f_ms, fb_ms = timed(fwd), timed(fwd_bwd)
    name = torch.cuda.get_device_name()
    print(f"device: {name}; shape B{B} T{T} E{E} N{N}")
    print("| impl | forward ms | forward+backward ms |")
    print("|---|---:|---:|")
    print(f"| mamba-ssm selective_scan (bf16 u/delta/z/B/C) | {f_ms:.3f} | {fb_ms:.3f} |")


if __name__ == "__main__":
    main()
