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

--train times adapter training instead, as `adapterdb train` runs it: the
base model frozen in fp16/bf16, bottleneck adapters (size --adapter-size,
GELU, zero-initialised up projections) after the attention output and the
feed-forward output of every layer, trainable copies of every LayerNorm and
a classification head, all trainable tensors in fp32 under torch.autocast,
cross-entropy on the CLS pooler's output, torch.optim.AdamW, and for fp16 a
GradScaler. One step: ids and labels to the device, forward, backward,
optimizer step; examples/s is B over the median step.
"""

import argparse
import functools
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


class Adapter(nn.Module):
    """x + up(gelu(down(x))), the up projection starting at zero."""

    def __init__(self, h, m):
        super().__init__()
        self.down, self.up = nn.Linear(h, m), nn.Linear(m, h)
        nn.init.zeros_(self.up.weight)
        nn.init.zeros_(self.up.bias)

    def forward(self, x):
        return x + self.up(F.gelu(self.down(x)))


class Layer(nn.Module):
    def __init__(self, h, heads, ffn):
        super().__init__()
        self.heads = heads
        self.a1 = self.a2 = None  # adapters (--train)
        self.q, self.k, self.v, self.o = (nn.Linear(h, h) for _ in range(4))
        self.ln1 = nn.LayerNorm(h, eps=EPS)
        self.fc1, self.fc2 = nn.Linear(h, ffn), nn.Linear(ffn, h)
        self.ln2 = nn.LayerNorm(h, eps=EPS)

    def forward(self, x, mask):
        B, T, H = x.shape
        split = lambda t: t.view(B, T, self.heads, H // self.heads).transpose(1, 2)
        ctx = attention(split(self.q(x)), split(self.k(x)), split(self.v(x)), mask)
        a = self.o(ctx.transpose(1, 2).reshape(B, T, H))
        if self.a1 is not None:
            a = self.a1(a)
        x = self.ln1(x + a)
        f = self.fc2(F.gelu(self.fc1(x)))
        if self.a2 is not None:
            f = self.a2(f)
        return self.ln2(x + f)


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


def fp32_layer_norm(mod, x):
    return F.layer_norm(x.float(), mod.normalized_shape, mod.weight, mod.bias, mod.eps)


def add_adapters(model, m, classes):
    """Freezes the base model and adds what adapter training trains: the
    adapters, fp32 copies of every LayerNorm, and the head. Returns the head
    and the trainable parameters."""
    for p in model.parameters():
        p.requires_grad_(False)
    h = model.pool.in_features
    dev = model.pool.weight.device
    for layer in model.layers:
        layer.a1, layer.a2 = Adapter(h, m).to(dev), Adapter(h, m).to(dev)
    for mod in model.modules():
        if isinstance(mod, nn.LayerNorm):
            mod.float()
            # fp32 in, fp32 out whatever autocast does with layer_norm on
            # this device and PyTorch version (the CPU's 1.13 runs it in bf16
            # and refuses the fp32 weights).
            mod.forward = functools.partial(fp32_layer_norm, mod)
            for p in mod.parameters():
                p.requires_grad_(True)
    head = nn.Linear(h, classes).to(dev)
    params = [p for p in model.parameters() if p.requires_grad] + list(head.parameters())
    return head, params


def bench_train(preset, dt, B, T, iters, m, device):
    """Median seconds of one adapter-training step at (B, T)."""
    dtype = {"fp16": torch.float16, "bf16": torch.bfloat16}[dt]
    torch.manual_seed(1)
    model = Bert(**PRESETS[preset]).to(device, dtype)
    head, params = add_adapters(model, m, 4)
    model.train()
    opt = torch.optim.AdamW(params, lr=1e-3, weight_decay=0.01)
    fp16 = dt == "fp16" and device == "cuda"
    if hasattr(torch.amp, "GradScaler"):  # PyTorch 2.3 and later
        scaler = torch.amp.GradScaler(device, enabled=fp16)
    else:
        scaler = torch.cuda.amp.GradScaler(enabled=fp16)
    gen = torch.Generator().manual_seed(1)
    ids_host = torch.randint(0, VOCAB, (B, T), generator=gen, dtype=torch.int64)
    labels_host = torch.randint(0, 4, (B,), generator=gen, dtype=torch.int64)
    valid = torch.ones(B, T, dtype=torch.bool)

    def once():
        ids, labels = ids_host.to(device), labels_host.to(device)
        mask = valid.to(device)[:, None, None, :]
        with torch.autocast(device_type=device, dtype=dtype):
            logits = head(model(ids, mask))
            loss = F.cross_entropy(logits.float(), labels)
        opt.zero_grad(set_to_none=True)
        scaler.scale(loss).backward()
        scaler.step(opt)
        scaler.update()
        return loss.item()

    for _ in range(3):
        once()
    sync(device)
    times = []
    for _ in range(iters):
        t0 = time.perf_counter()
        once()
        times.append(time.perf_counter() - t0)
    del model, head, opt
    return statistics.median(times)


def main_train(a):
    for preset in a.preset:
        for dt in a.dtype:
            for shape in a.shape:
                B, T = (int(v) for v in shape.split(","))
                best = bench_train(preset, dt, B, T, a.iters, a.adapter_size, a.device)
                print(json.dumps({
                    "framework": "torch", "mode": "train", "preset": preset, "batch": B, "seq": T, "dtype": dt,
                    "adapter_size": a.adapter_size, "examples_per_s": round(B / best, 2),
                    "ms_per_step": round(best * 1e3, 3), "torch": torch.__version__,
                    "device": torch.cuda.get_device_name() if a.device == "cuda" else "cpu",
                }), flush=True)
                if a.device == "cuda":
                    torch.cuda.empty_cache()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--preset", action="append", required=True)
    ap.add_argument("--shape", action="append", required=True, help="B,L")
    ap.add_argument("--dtype", action="append", required=True, choices=["fp16", "bf16"])
    ap.add_argument("--iters", type=int, default=20)
    ap.add_argument("--device", default="cuda", choices=["cuda", "cpu"])
    ap.add_argument("--train", action="store_true", help="time adapter training steps instead of inference")
    ap.add_argument("--adapter-size", type=int, default=64, help="--train: the adapters' bottleneck size")
    a = ap.parse_args()
    if a.device == "cuda" and not torch.cuda.is_available():
        sys.exit("torchbench: no CUDA device for PyTorch")
    torch.backends.cuda.matmul.allow_tf32 = False
    if a.train:
        main_train(a)
        return
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
