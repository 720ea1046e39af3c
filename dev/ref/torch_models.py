"""
PyTorch reference of the two seqmodels Transformer architectures ("gpt" and "llama").

Small and readable on purpose: it is the ground truth that the C code is checked against
(dev/ref/compare_debug.py) and the eager baseline of the CPU benchmark (dev/bench/).

Config: a dict with
    model        "gpt" | "llama"
    vocab_size   V
    block_size   longest sequence (rows of wpe)
    n_layer L, n_head H, n_embd C
    pos          "learned" | "rope" | "nope" | "alibi" | "hard_alibi"   (default: gpt learned, llama rope)
    bias         0/1: biases in Linear and LayerNorm (gpt only; llama never has biases)
    dropout      float, on the embedding output and on every residual branch (training only)
    num_masked_heads  hard_alibi: how many heads are windowed; -1 = round(2H/3)
    mlp_hidden   0 = default: gpt 4C, llama 256*ceil(floor(8C/3)/256)
Unknown fields are ignored.

The LM head is tied to wte and is not a separate parameter, so state_dict() holds exactly the
tensors our C checkpoints store (names in the seqmodels docs / the brief).
"""

import math

import torch
import torch.nn as nn
import torch.nn.functional as F

POS_NAMES = ["learned", "rope", "nope", "alibi", "hard_alibi"]  # same order as the C enum


def finalize_config(cfg):
    """Return a new dict with every field present and defaults filled in (mirrors the C code)."""
    c = dict(cfg)
    c["model"] = str(c.get("model", "gpt"))
    if c["model"] not in ("gpt", "llama"):
        raise ValueError(f"unknown model {c['model']!r}")
    for k in ("vocab_size", "block_size", "n_layer", "n_head", "n_embd"):
        c[k] = int(c[k])
    pos = c.get("pos", None)
    if pos is None or pos == -1 or pos == "":
        pos = "rope" if c["model"] == "llama" else "learned"
    if isinstance(pos, int) or (isinstance(pos, str) and pos.isdigit()):
        pos = POS_NAMES[int(pos)]
    if pos not in POS_NAMES:
        raise ValueError(f"unknown pos {pos!r}")
    c["pos"] = pos
    c["bias"] = int(c.get("bias", 0)) if c["model"] == "gpt" else 0
    c["dropout"] = float(c.get("dropout", 0.0))
    C, H = c["n_embd"], c["n_head"]
    if C % H:
        raise ValueError(f"n_embd {C} not divisible by n_head {H}")
    nm = int(c.get("num_masked_heads", -1))
    c["num_masked_heads"] = nm if nm >= 0 else (2 * H + 1) // 3
    hd = int(c.get("mlp_hidden", 0) or 0)
    if hd <= 0:
        hd = 4 * C if c["model"] == "gpt" else 256 * ((8 * C // 3 + 255) // 256)
    c["mlp_hidden"] = hd
    if pos == "rope" and (C // H) % 2:
        raise ValueError("rope needs an even head size")
    return c


# ---------------------------------------------------------------------------------------------
# position helpers


def alibi_slopes(H):
    """Press et al. slopes: power of two P <= H gets 2^(-8(h+1)/P); the rest are every other
    slope of 2P (the odd ones: 2^(-8(2k+1)/(2P)))."""
    P = 1
    while P * 2 <= H:
        P *= 2
    slopes = [2.0 ** (-8.0 * (h + 1) / P) for h in range(P)]
    slopes += [2.0 ** (-8.0 * (2 * k + 1) / (2 * P)) for k in range(H - P)]
    return slopes


def attention_bias(cfg, T, dtype, device):
    """Additive score bias (H,T,T) including the causal mask, or None for plain causal."""
    pos, H = cfg["pos"], cfg["n_head"]
    if pos not in ("alibi", "hard_alibi"):
        return None
    i = torch.arange(T, device=device).view(T, 1)  # query
    j = torch.arange(T, device=device).view(1, T)  # key
    rel = (j - i).to(dtype)  # j - i, <= 0 where allowed
    causal = j <= i
    bias = torch.zeros(H, T, T, dtype=dtype, device=device)
    if pos == "alibi":
        m = torch.tensor(alibi_slopes(H), dtype=dtype, device=device).view(H, 1, 1)
        bias = m * rel
    else:  # hard_alibi: head h < n_masked sees keys i-h <= j <= i
        for h in range(min(cfg["num_masked_heads"], H)):
            bias[h] = bias[h].masked_fill(j < i - h, float("-inf"))
    return bias.masked_fill(~causal, float("-inf"))


def rope(x):
    """Rotate-half RoPE on x (B,H,T,hs), positions 0..T-1, base 10000."""
    T, hs = x.shape[-2], x.shape[-1]
    half = hs // 2
    freq = 10000.0 ** (-2.0 * torch.arange(half, dtype=torch.float64, device=x.device) / hs)
    ang = torch.arange(T, dtype=torch.float64, device=x.device).view(T, 1) * freq.view(1, half)
    cos, sin = ang.cos().to(x.dtype), ang.sin().to(x.dtype)
    x1, x2 = x[..., :half], x[..., half:]
    return torch.cat([x1 * cos - x2 * sin, x2 * cos + x1 * sin], dim=-1)


# ---------------------------------------------------------------------------------------------
# modules


class LayerNorm(nn.Module):
    def __init__(self, C, bias):
        super().__init__()
        self.weight = nn.Parameter(torch.ones(C))
        self.bias = nn.Parameter(torch.zeros(C)) if bias else None

    def forward(self, x):
        return F.layer_norm(x, self.weight.shape, self.weight, self.bias, 1e-5)


class RMSNorm(nn.Module):
    def __init__(self, C):
        super().__init__()
        self.weight = nn.Parameter(torch.ones(C))

    def forward(self, x):
        return x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + 1e-5) * self.weight


class Attention(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        C, b = cfg["n_embd"], bool(cfg["bias"])
        self.cfg = cfg
        self.c_attn = nn.Linear(C, 3 * C, bias=b)
        self.c_proj = nn.Linear(C, C, bias=b)

    def forward(self, x):
        B, T, C = x.shape
        H = self.cfg["n_head"]
        q, k, v = self.c_attn(x).split(C, dim=2)
        # (B,T,C) -> (B,H,T,hs): head h = columns h*hs .. (h+1)*hs
        q, k, v = (t.view(B, T, H, C // H).transpose(1, 2) for t in (q, k, v))
        if self.cfg["pos"] == "rope":
            q, k = rope(q), rope(k)
        bias = attention_bias(self.cfg, T, x.dtype, x.device)
        if bias is None:
            y = F.scaled_dot_product_attention(q, k, v, is_causal=True)
        else:
            y = F.scaled_dot_product_attention(q, k, v, attn_mask=bias)
        y = y.transpose(1, 2).contiguous().view(B, T, C)
        return self.c_proj(y)


class MLP(nn.Module):  # GPT-2: c_proj(GELU_tanh(c_fc x))
    def __init__(self, cfg):
        super().__init__()
        C, Hd, b = cfg["n_embd"], cfg["mlp_hidden"], bool(cfg["bias"])
        self.c_fc = nn.Linear(C, Hd, bias=b)
        self.c_proj = nn.Linear(Hd, C, bias=b)

    def forward(self, x):
        return self.c_proj(F.gelu(self.c_fc(x), approximate="tanh"))


class SwiGLU(nn.Module):  # LLaMA: c_proj(SiLU(fc_2 x) * fc_1 x)  -- the SiLU is on fc_2
    def __init__(self, cfg):
        super().__init__()
        C, Hd = cfg["n_embd"], cfg["mlp_hidden"]
        self.fc_1 = nn.Linear(C, Hd, bias=False)
        self.fc_2 = nn.Linear(C, Hd, bias=False)
        self.c_proj = nn.Linear(Hd, C, bias=False)

    def forward(self, x):
        return self.c_proj(F.silu(self.fc_2(x)) * self.fc_1(x))


class Block(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        llama = cfg["model"] == "llama"
        norm = (lambda: RMSNorm(cfg["n_embd"])) if llama else (lambda: LayerNorm(cfg["n_embd"], cfg["bias"]))
        self.ln_1 = norm()
        self.attn = Attention(cfg)
        self.ln_2 = norm()
        self.mlp = SwiGLU(cfg) if llama else MLP(cfg)
        self.drop = nn.Dropout(cfg["dropout"])

    def forward(self, x):
        x = x + self.drop(self.attn(self.ln_1(x)))
        x = x + self.drop(self.mlp(self.ln_2(x)))
        return x


class Transformer(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        cfg = finalize_config(cfg)
        self.cfg = cfg
        C = cfg["n_embd"]
        t = {"wte": nn.Embedding(cfg["vocab_size"], C)}
        if cfg["pos"] == "learned":
            t["wpe"] = nn.Embedding(cfg["block_size"], C)
        t["h"] = nn.ModuleList(Block(cfg) for _ in range(cfg["n_layer"]))
        t["ln_f"] = RMSNorm(C) if cfg["model"] == "llama" else LayerNorm(C, cfg["bias"])
        self.transformer = nn.ModuleDict(t)
        self.drop = nn.Dropout(cfg["dropout"])
        self.init_weights()

    @torch.no_grad()
    def init_weights(self):
        proj_std = 0.02 / math.sqrt(2 * self.cfg["n_layer"])
        for name, p in self.named_parameters():
            if name.endswith("c_proj.weight"):
                nn.init.normal_(p, 0.0, proj_std)
            elif name.endswith(".bias"):
                nn.init.zeros_(p)
            elif ".ln_" in name:  # ln_1, ln_2, ln_f weights
                nn.init.ones_(p)
            else:  # Linear and Embedding weights
                nn.init.normal_(p, 0.0, 0.02)

    def forward(self, idx, targets=None):
        B, T = idx.shape
        if T > self.cfg["block_size"]:
            raise ValueError(f"sequence length {T} > block_size {self.cfg['block_size']}")
        tr = self.transformer
        x = tr.wte(idx)
        if "wpe" in tr:
            x = x + tr.wpe(torch.arange(T, device=idx.device))
        x = self.drop(x)
        for block in tr.h:
            x = block(x)
        logits = F.linear(tr.ln_f(x), tr.wte.weight)  # tied head
        loss = None
        if targets is not None:
            loss = F.cross_entropy(logits.view(B * T, -1), targets.reshape(B * T).long())
        return logits, loss


def load_state(model, tensors):
    """Load a {name: tensor} dict (e.g. from a seqmodels checkpoint). Names that are not model
    parameters (optim.m.*, optim.v.*, ...) are ignored; missing or mis-shaped ones raise."""
    sd = model.state_dict()
    missing = [k for k in sd if k not in tensors]
    if missing:
        raise KeyError(f"checkpoint lacks {missing}")
    with torch.no_grad():
        for k, p in sd.items():
            t = torch.as_tensor(tensors[k])
            if tuple(t.shape) != tuple(p.shape):
                raise ValueError(f"{k}: checkpoint shape {tuple(t.shape)} != model {tuple(p.shape)}")
            p.copy_(t.to(p.dtype))
    return [k for k in tensors if k not in sd]  # the ignored names
