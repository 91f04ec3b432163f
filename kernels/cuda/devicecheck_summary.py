#!/usr/bin/env python3
"""devicecheck_summary.py OUTDIR: reads what device-check.sh wrote and puts
the figures against the issue's bars in summary.json and summary.md.

Bars: adapterdb seq/s ≥ 1.0× PyTorch eager (same preset, shape and dtype);
a 16-adapter mixed batch ≥ 0.9× the single-adapter batch; SELECT PREDICT
over the wire ≥ 0.8× `adapterdb bench` at the same batch (wire.jsonl, from
testdata/wire_throughput.py); adapter training on the GPU ≥ 1.0× PyTorch
eager adapter training in examples/s (train.jsonl kind speed against
torch_train.jsonl), and the same training job on cpu and on the GPU ending
with training and validation losses within docs/cuda.md's tolerance
(train.jsonl kind agree). Tests: the verdict of every top-level test in
tests.log."""

import json
import os
import re
import sys


def lines(path):
    try:
        with open(path) as f:
            return f.read().splitlines()
    except OSError:
        return []


def jsonl(path):
    out = []
    for ln in lines(path):
        ln = ln.strip()
        if ln.startswith("{"):
            try:
                out.append(json.loads(ln))
            except ValueError:
                pass
    return out


# WIRE_BAR: SELECT PREDICT over the wire against the featurizer's own rate
# (adapterdb bench, same batch, the texts' mean length), issue 14.
WIRE_BAR = 0.8


def wire(out):
    """The wire-throughput runs against their bar: one session's ratio is
    the bar's; the concurrent sessions' is reported beside it."""
    rows = []
    for r in jsonl(os.path.join(out, "wire.jsonl")):
        ratio = r.get("ratio")
        rows.append({"device": r.get("device"), "batch": r.get("batch"), "mean_tokens": r.get("mean_tokens"),
                     "bench_seq": r.get("bench_seq"), "bench_seq_per_s": r.get("bench_seq_per_s"),
                     "wire_rows_per_s": r.get("wire_rows_per_s"), "ratio": ratio,
                     "sessions": r.get("sessions"), "wire_sessions_rows_per_s": r.get("wire_sessions_rows_per_s"),
                     "ratio_sessions": r.get("ratio_sessions"), "client": r.get("client"),
                     "bar": WIRE_BAR, "ok": ratio is not None and ratio >= WIRE_BAR})
    return rows


def wire_md(rows):
    md = ["", f"## SELECT PREDICT over the wire vs adapterdb bench (rows/s, bar ≥ {WIRE_BAR}×)", "",
          "| device | B | mean tokens (bench L) | bench seq/s | wire, 1 session | ratio | sessions | wire, sessions | ratio |",
          "|---|---|---|---|---|---|---|---|---|"]
    md += [f"| {x['device']} | {x['batch']} | {x['mean_tokens']} ({x['bench_seq']}) | {x['bench_seq_per_s']} | "
           f"{x['wire_rows_per_s']} | {x['ratio']} {'ok' if x['ok'] else 'BELOW'} | {x['sessions']} | "
           f"{x['wire_sessions_rows_per_s']} | {x['ratio_sessions']} |" for x in rows]
    return md


# TRAIN_BAR: adapterdb's adapter-training examples/s against PyTorch eager's
# (torchbench.py --train, same preset, shape and dtype), issue 14.
TRAIN_BAR = 1.0


def train_tolerance(device):
    """docs/cuda.md#training: relative difference of the final training loss
    and of the best validation loss from cpu training's, same seed."""
    return 1e-3 if device.startswith("cuda:fp32") else 0.05


def train(out):
    """The training runs against their bars: speed against PyTorch, and each
    GPU precision's losses against cpu training's."""
    runs = jsonl(os.path.join(out, "train.jsonl"))
    torch = {(r["preset"], r["batch"], r["seq"], r["dtype"]): r for r in jsonl(os.path.join(out, "torch_train.jsonl"))}
    speed, agree = [], []
    for r in runs:
        if r.get("kind") != "speed":
            continue
        m, dev = r.get("metrics") or {}, r.get("device", "")
        dt = dev.split(":")[1].split(",")[0] if ":" in dev else "fp32"
        b, l = r.get("batch"), r.get("seq")
        t = torch.get((r["preset"], b, l, dt))
        ours = m.get("examples_per_s")
        ratio = round(ours / t["examples_per_s"], 3) if t and ours else None
        speed.append({"preset": r["preset"], "device": dev, "batch": b, "seq": l, "adapterdb_examples_per_s": ours,
                      "torch_examples_per_s": t and t["examples_per_s"], "ratio": ratio, "bar": TRAIN_BAR,
                      "ok": ratio is not None and ratio >= TRAIN_BAR, "backend": m.get("backend")})
    agree_runs = [r for r in runs if r.get("kind") == "agree"]
    cpu = next((r for r in agree_runs if r.get("device") == "cpu"), None)

    def rel(a, b):
        return None if a is None or b is None else float(f"{abs(a - b) / max(abs(b), 1e-12):.3g}")
    for r in agree_runs:
        if r is cpu:
            continue
        m, c = r.get("metrics") or {}, (cpu or {}).get("metrics") or {}
        tol = train_tolerance(r.get("device", ""))
        dt, dv = rel(m.get("train_loss"), c.get("train_loss")), rel(m.get("validation_loss"), c.get("validation_loss"))
        agree.append({"preset": r["preset"], "device": r.get("device"), "backend": m.get("backend"),
                      "train_loss": m.get("train_loss"), "cpu_train_loss": c.get("train_loss"), "train_rel": dt,
                      "validation_loss": m.get("validation_loss"), "cpu_validation_loss": c.get("validation_loss"),
                      "validation_rel": dv, "skipped_steps": m.get("skipped_steps", 0), "tolerance": tol,
                      "ok": dt is not None and dv is not None and dt <= tol and dv <= tol
                      and str(m.get("backend", "")).startswith("cuda")})
    return speed, agree


def train_md(speed, agree):
    md = ["", f"## Adapter training vs PyTorch eager (examples/s, bar ≥ {TRAIN_BAR}×)", "",
          "| preset | device | B | L | adapterdb | torch | ratio |", "|---|---|---|---|---|---|---|"]
    md += [f"| {x['preset']} | {x['device']} | {x['batch']} | {x['seq']} | {x['adapterdb_examples_per_s']} | "
           f"{x['torch_examples_per_s']} | {x['ratio']} {'ok' if x['ok'] else 'BELOW'} |" for x in speed]
    md += ["", "## GPU training vs cpu training, same seed (relative loss difference)", "",
           "| preset | device | train loss (cpu) | rel | validation loss (cpu) | rel | tolerance | skipped steps |",
           "|---|---|---|---|---|---|---|---|"]
    md += [f"| {x['preset']} | {x['device']} | {x['train_loss']} ({x['cpu_train_loss']}) | {x['train_rel']} | "
           f"{x['validation_loss']} ({x['cpu_validation_loss']}) | {x['validation_rel']} | {x['tolerance']} "
           f"{'ok' if x['ok'] else 'OUTSIDE'} | {x['skipped_steps']} |" for x in agree]
    return md


def main(out):
    s = {"tests": {}, "vs_torch": [], "mixed": [], "memory": [], "kernels": [], "other_runs": []}
    # Tests: "--- PASS: TestX (1.2s)" at the top level (no indentation).
    for ln in lines(os.path.join(out, "tests.log")):
        m = re.match(r"^--- (PASS|FAIL|SKIP): (\w+)", ln)
        if m:
            s["tests"][m.group(2)] = m.group(1)
    s["tests_ok"] = bool(s["tests"]) and all(v == "PASS" for v in s["tests"].values())
    s["test_failures"] = [ln.strip() for ln in lines(os.path.join(out, "tests.log"))
                          if re.match(r"^\s+--- FAIL", ln)][:40]

    ours = jsonl(os.path.join(out, "bench.jsonl"))
    torch = {(r["preset"], r["batch"], r["seq"], r["dtype"]): r for r in jsonl(os.path.join(out, "torch.jsonl"))}
    for r in ours:
        dev = r.get("device", "")
        dt = dev.split(":")[1].split(",")[0] if ":" in dev else "fp16"
        if r.get("adapters", 0) == 0 and dev in ("cuda:fp16", "cuda:bf16"):
            t = torch.get((r["preset"], r["batch"], r["seq"], dt))
            ratio = round(r["seq_per_s"] / t["seq_per_s"], 3) if t else None
            s["vs_torch"].append({"preset": r["preset"], "batch": r["batch"], "seq": r["seq"], "dtype": dt,
                                  "adapterdb_seq_per_s": r["seq_per_s"], "torch_seq_per_s": t and t["seq_per_s"],
                                  "ratio": ratio, "bar": 1.0, "ok": ratio is not None and ratio >= 1.0,
                                  "backend": r.get("backend")})
        else:
            s["other_runs"].append(r)
    by = {(r["preset"], r["device"], r["batch"], r["seq"], r.get("adapters")): r for r in ours}
    for (preset, dev, b, l, k), r in sorted(by.items(), key=lambda kv: str(kv[0])):
        if k == 16:
            one = by.get((preset, dev, b, l, 1))
            ratio = round(r["seq_per_s"] / one["seq_per_s"], 3) if one else None
            s["mixed"].append({"preset": preset, "device": dev, "batch": b, "seq": l,
                               "mixed16_seq_per_s": r["seq_per_s"], "single_seq_per_s": one and one["seq_per_s"],
                               "ratio": ratio, "bar": 0.9, "ok": ratio is not None and ratio >= 0.9})
    for ln in lines(os.path.join(out, "gobench.txt")):
        if ln.startswith("BenchmarkDeviceMemory"):
            metrics = dict((u, float(v)) for v, u in re.findall(r"([\d.]+) (\w+_MiB)", ln))
            s["memory"].append({"name": ln.split()[0], **metrics})
        elif ln.startswith(("BenchmarkGemm", "BenchmarkAttention")):
            m = re.search(r"([\d.]+) TFLOP/s", ln)
            s["kernels"].append({"name": ln.split()[0], "tflops": m and float(m.group(1))})
        elif ln.startswith("BenchmarkAddNorm"):
            m = re.search(r"([\d.]+) GB/s", ln)
            s["kernels"].append({"name": ln.split()[0], "gbps": m and float(m.group(1))})
    # The GEMM libraries the backend loaded (its log lines in bench.log).
    s["libraries"] = sorted({ln.strip()[:300] for ln in lines(os.path.join(out, "bench.log"))
                             if "cuBLAS loaded" in ln or "cuBLASLt" in ln})
    s["wire"] = wire(out)
    s["train_vs_torch"], s["train_agreement"] = train(out)
    s["bars_ok"] = all(bool(s[k]) and all(x["ok"] for x in s[k])
                       for k in ("vs_torch", "mixed", "wire", "train_vs_torch", "train_agreement"))

    with open(os.path.join(out, "summary.json"), "w") as f:
        json.dump(s, f, indent=1)
    md = ["# CUDA device check", "", "Tests: " + ("all pass" if s["tests_ok"] else "FAILURES"), ""]
    md += [f"- {k}: {v}" for k, v in sorted(s["tests"].items())] + s["test_failures"] + [""]
    md += ["## adapterdb vs PyTorch eager (seq/s, bar ≥ 1.0×)", "",
           "| preset | B | L | dtype | adapterdb | torch | ratio |", "|---|---|---|---|---|---|---|"]
    md += [f"| {x['preset']} | {x['batch']} | {x['seq']} | {x['dtype']} | {x['adapterdb_seq_per_s']} | "
           f"{x['torch_seq_per_s']} | {x['ratio']} {'ok' if x['ok'] else 'BELOW'} |" for x in s["vs_torch"]]
    md += ["", "## 16-adapter mixed batch vs one adapter (bar ≥ 0.9×)", "",
           "| preset | device | B | L | mixed 16 | single | ratio |", "|---|---|---|---|---|---|---|"]
    md += [f"| {x['preset']} | {x['device']} | {x['batch']} | {x['seq']} | {x['mixed16_seq_per_s']} | "
           f"{x['single_seq_per_s']} | {x['ratio']} {'ok' if x['ok'] else 'BELOW'} |" for x in s["mixed"]]
    md += wire_md(s["wire"])
    md += train_md(s["train_vs_torch"], s["train_agreement"])
    md += ["", "## GPU memory", ""] + [f"- {x}" for x in s["memory"]]
    md += ["", "## Kernels", ""] + [f"- {x['name']}: {x['tflops']} TFLOP/s" if "tflops" in x else
                                    f"- {x['name']}: {x['gbps']} GB/s" for x in s["kernels"]]
    md += ["", "## Libraries", ""] + [f"- {x}" for x in s["libraries"]]
    md += ["", "## Other runs", ""] + [f"- {x.get('preset')} {x.get('device')} B={x.get('batch')} "
                                       f"L={x.get('seq')} adapters={x.get('adapters')}: {x.get('seq_per_s')} seq/s"
                                       for x in s["other_runs"]]
    with open(os.path.join(out, "summary.md"), "w") as f:
        f.write("\n".join(md) + "\n")
    print("\n".join(md))


if __name__ == "__main__":
    main(sys.argv[1])
