#!/usr/bin/env python3
"""torchbench.py: the PyTorch baseline of the device check.

A torch.nn BERT of the same shape as `adapterdb make-checkpoint --preset P`
(embeddings + LayerNorm, post-LN encoder layers with separate q/k/v
projections and F.scaled_dot_product_attention, exact-erf GELU, the CLS
pooler), run eagerly in fp16 or bf16 under torch.inference_mode, timed the
way `adapterdb bench` times a pass: token ids on the host in, pooled
features on the host out, median over iterations. Each (preset, B, L, dtype)
is timed twice: with the padding mask (as a serving stack passes it; SDPA
then takes its memory-efficient kernel) and without one (every token is
real, so the flash kernel may run); the faster is the baseline.

Writes one JSON object per configuration to stdout. (--device cpu runs the
same code on the CPU, only to check the script where there is no GPU.)
"""

import argparse
import json
import math
import statistics
import sys
import time

import torch
import torch.nn as nn
import torch.nn.functional as F

PRESETS = {
    "minilm-l6": dict(layers=6, hidden=384, heads=12, ffn=1536),
    "bert-base": dict(layers=12, hidden=768, heads=12, ffn=3072),
}
VOCAB, MAXPOS, TYPES, EPS = 30522, 512, 2, 1e-12


def attention(q, k, v, mask):
    """Scaled dot-product attention: PyTorch's fused kernels (2.0 and later),
    or the same math spelled out on older versions."""
    if hasattr(F, "scaled_dot_product_attention"):
        return F.scaled_dot_product_attention(q, k, v, attn_mask=mask)
    s = q @ k.transpose(-1, -2) / math.sqrt(q.shape[-1])
    if mask is not None:
        s = s.masked_fill(~mask, float("-inf"))
    return torch.softmax(s, dim=-1) @ v


class Layer(nn.Module):
    def __init__(self, h, heads, ffn):
        super().__init__()
        self.heads = heads
        self.q, self.k, self.v, self.o = (nn.Linear(h, h) for _ in range(4))
        self.ln1 = nn.LayerNorm(h, eps=EPS)
        self.fc1, self.fc2 = nn.Linear(h, ffn), nn.Linear(ffn, h)
        self.ln2 = nn.LayerNorm(h, eps=EPS)

    def forward(self, x, mask):
        B, T, H = x.shape
        split = lambda t: t.view(B, T, self.heads, H // self.heads).transpose(1, 2)
        ctx = attention(split(self.q(x)), split(self.k(x)), split(self.v(x)), mask)
        x = self.ln1(x + self.o(ctx.transpose(1, 2).reshape(B, T, H)))
        return self.ln2(x + self.fc2(F.gelu(self.fc1(x))))


class Bert(nn.Module):
    def __init__(self, layers, hidden, heads, ffn):
        super().__init__()
        self.word, self.pos, self.tok_type = nn.Embedding(VOCAB, hidden), nn.Embedding(MAXPOS, hidden), nn.Embedding(TYPES, hidden)
        self.ln = nn.LayerNorm(hidden, eps=EPS)
        self.layers = nn.ModuleList(Layer(hidden, heads, ffn) for _ in range(layers))
        self.pool = nn.Linear(hidden, hidden)

    def forward(self, ids, mask):
        B, T = ids.shape
        pos = torch.arange(T, device=ids.device).unsqueeze(0)
        x = self.ln(self.word(ids) + self.pos(pos) + self.tok_type(torch.zeros_like(ids)))
        for layer in self.layers:
            x = layer(x, mask)
        return torch.tanh(self.pool(x[:, 0]))


def sync(device):
    if device == "cuda":
        torch.cuda.synchronize()


def bench(model, B, T, iters, masked, device):
    gen = torch.Generator().manual_seed(1)
    ids_host = torch.randint(0, VOCAB, (B, T), generator=gen, dtype=torch.int64)
    valid = torch.ones(B, T, dtype=torch.bool)

    def once():
        ids = ids_host.to(device)
        mask = valid.to(device)[:, None, None, :] if masked else None  # [B, 1, 1, T]: keys only
        return model(ids, mask).float().cpu()

    with torch.inference_mode():
        for _ in range(3):
            once()
        sync(device)
        times = []
        for _ in range(iters):
            t0 = time.perf_counter()
            once()
            times.append(time.perf_counter() - t0)
    return statistics.median(times)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--preset", action="append", required=True)
    ap.add_argument("--shape", action="append", required=True, help="B,L")
    ap.add_argument("--dtype", action="append", required=True, choices=["fp16", "bf16"])
    ap.add_argument("--iters", type=int, default=20)
    ap.add_argument("--device", default="cuda", choices=["cuda", "cpu"])
    a = ap.parse_args()
    if a.device == "cuda" and not torch.cuda.is_available():
        sys.exit("torchbench: no CUDA device for PyTorch")
    torch.backends.cuda.matmul.allow_tf32 = False
    for preset in a.preset:
        for dt in a.dtype:
            dtype = {"fp16": torch.float16, "bf16": torch.bfloat16}[dt]
            torch.manual_seed(1)
            model = Bert(**PRESETS[preset]).to(a.device, dtype).eval()
            for shape in a.shape:
                B, T = (int(v) for v in shape.split(","))
                res = {m: bench(model, B, T, a.iters, m, a.device) for m in (True, False)}
                best = min(res.values())
                print(json.dumps({
                    "framework": "torch", "preset": preset, "batch": B, "seq": T, "dtype": dt,
                    "seq_per_s": round(B / best, 2), "ms_per_batch": round(best * 1e3, 3),
                    "ms_masked": round(res[True] * 1e3, 3), "ms_unmasked": round(res[False] * 1e3, 3),
                    "torch": torch.__version__,
                    "device": torch.cuda.get_device_name() if a.device == "cuda" else "cpu",
                }), flush=True)
            del model
            if a.device == "cuda":
                torch.cuda.empty_cache()


if __name__ == "__main__":
    main()
