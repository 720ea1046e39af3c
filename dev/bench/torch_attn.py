"""PyTorch's causal attention at the shape of dev/bench/bench_attn_cuda, on the same GPU.

F.scaled_dot_product_attention(is_causal=True) in bf16, q, k, v cut from one (B, T, 3C) tensor
as a GPT's QKV matmul writes it (torch_gpt_gpu.py's layout), with each backend PyTorch has for
it (default choice, FlashAttention-2, cuDNN). Forward and forward+backward (grad of all three
from a random dO), median of 20 after warm-up, CUDA events; one markdown row each, FLOPs
counted as bench_attn.cu counts them.

    python3 dev/bench/torch_attn.py [--B 16 --T 1024 --H 12]
"""
import argparse
import os
import sys

import torch
import torch.nn.functional as F
from torch.nn.attention import SDPBackend, sdpa_kernel

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from mamba_ssm_scan import timed  # noqa: E402  (median of CUDA-event times after warm-up)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--B", type=int, default=16)
    ap.add_argument("--T", type=int, default=1024)
    ap.add_argument("--H", type=int, default=12)
    args = ap.parse_args()
    B, T, H, d = args.B, args.T, args.H, 64
    C = H * d
    torch.manual_seed(0)
    qkv = (torch.rand(B, T, 3 * C, device="cuda") * 2 - 1).to(torch.bfloat16).requires_grad_()
    dout = (torch.rand(B, H, T, d, device="cuda") * 2 - 1).to(torch.bfloat16)

    def heads(x):
        return x.view(B, T, H, d).transpose(1, 2)

    def fwd():
        q, k, v = qkv.split(C, dim=2)
        return F.scaled_dot_product_attention(heads(q), heads(k), heads(v), is_causal=True)

    def fwd_bwd():
        fwd().backward(dout)

    f_fwd = 2.0 * B * H * T * T * d
    f_bwd = 2.5 * f_fwd
    print(f"{torch.cuda.get_device_name()}, torch {torch.__version__}, B {B} T {T} H {H} d {d}, causal, bf16")
    print("| op | ms | TFLOP/s | ms per 12 layers |\n|---|---:|---:|---:|")
    for name, backends in [("default", None), ("flash", [SDPBackend.FLASH_ATTENTION]), ("cudnn", [SDPBackend.CUDNN_ATTENTION])]:
        try:
            if backends is None:
                t_f, t_fb = timed(fwd), timed(fwd_bwd)
            else:
                with sdpa_kernel(backends):
                    t_f, t_fb = timed(fwd), timed(fwd_bwd)
        except RuntimeError as e:
            print(f"| torch SDPA {name}: not available ({str(e).splitlines()[0][:80]}) | | | |")
            continue
        t_b = t_fb - t_f
        print(f"| torch SDPA {name} forward | {t_f:.4f} | {f_fwd / t_f * 1e-9:.0f} | {12 * t_f:.2f} |")
        print(f"| torch SDPA {name} backward (fwd+bwd - fwd) | {t_b:.4f} | {f_bwd / t_b * 1e-9:.0f} | {12 * t_b:.2f} |")
        print(f"| torch SDPA {name} forward + backward | {t_fb:.4f} | {(f_fwd + f_bwd) / t_fb * 1e-9:.0f} | {12 * t_fb:.2f} |")


if __name__ == "__main__":
    main()
