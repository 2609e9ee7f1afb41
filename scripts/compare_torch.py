#!/usr/bin/env python3
"""compare_torch.py: moesim's CUDA MoE layer side by side with PyTorch on the same GPU.

For one model card's MoE layer (BF16 weights) and each token count, times three layers with
CUDA events after warm-up, the L2 flushed before every timed run:
  moesim     bin/moe-engine bench --backend cuda (its JSON: total of router..combine)
  grouped    PyTorch: router, top-k, sort by expert, torch._grouped_mm for gate/up and down,
             SwiGLU, weighted combine (index_add)
  loop       PyTorch: the same with one matmul pair per expert that has tokens
Prints a table (ms, and moesim's speed-up over the faster PyTorch layer) and writes JSON.
Usage: scripts/compare_torch.py --model mixtral-8x7b --tokens 1,16,64,4096 [--json out.json]
"""
import argparse
import datetime
import json
import os
import subprocess
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def card(name):
    with open(os.path.join(ROOT, "scenarios", "models", name + ".json")) as f:
        m = json.load(f)
    ffn = m["ffn"]
    return dict(hidden=m["hidden"], ffn=ffn["expert_intermediate"], experts=ffn["experts"], top_k=ffn["top_k"],
                shared=ffn.get("shared_experts", 0), shared_ffn=ffn.get("shared_intermediate", 0),
                sigmoid=ffn.get("scoring") == "sigmoid")


def torch_layers(torch, c):
    """The layer's weights as PyTorch tensors, and the two forwards."""
    dev, bf = "cuda", torch.bfloat16
    d, f, E, k = c["hidden"], c["ffn"], c["experts"], c["top_k"]
    g = torch.Generator(device=dev).manual_seed(1)
    router = torch.randn(E, d, device=dev, generator=g) / d ** 0.5                  # FP32, as models ship it
    w13 = (torch.randn(E, 2 * f, d, device=dev, generator=g, dtype=bf) / d ** 0.5)   # gate rows then up rows
    w2 = (torch.randn(E, d, f, device=dev, generator=g, dtype=bf) / f ** 0.5)
    S = c["shared"] * c["shared_ffn"]
    s13 = torch.randn(2 * S, d, device=dev, generator=g, dtype=bf) / d ** 0.5 if S else None
    s2 = torch.randn(d, S, device=dev, generator=g, dtype=bf) / S ** 0.5 if S else None

    def route(x):
        logits = x.float() @ router.t()
        p = torch.sigmoid(logits) if c["sigmoid"] else torch.softmax(logits, dim=-1)
        w, ids = torch.topk(p, k, dim=-1)
        return ids, (w / w.sum(-1, keepdim=True))

    def shared(x):
        if not S:
            return torch.zeros(x.shape[0], d, device=dev, dtype=torch.float32)
        gu = x @ s13.t()
        return (torch.nn.functional.silu(gu[:, :S]) * gu[:, S:]) @ s2.t()

    def grouped(x):
        ids, w = route(x)
        flat = ids.reshape(-1)
        order = torch.argsort(flat, stable=True)
        counts = torch.bincount(flat, minlength=E)
        offs = torch.cumsum(counts, 0).to(torch.int32)
        xs = x[order // k]
        gu = torch._grouped_mm(xs, w13.transpose(-2, -1), offs=offs)
        h = torch.nn.functional.silu(gu[:, :f]) * gu[:, f:]
        ys = torch._grouped_mm(h, w2.transpose(-2, -1), offs=offs)
        y = shared(x).float()
        y.index_add_(0, order // k, ys.float() * w.reshape(-1)[order, None])
        return y

    def loop(x):
        ids, w = route(x)
        y = shared(x).float()
        counts = torch.bincount(ids.reshape(-1), minlength=E).tolist()   # the host sync a loop needs
        for e in range(E):
            if not counts[e]:
                continue
            tok, slot = torch.where(ids == e)
            xe = x[tok]
            gu = xe @ w13[e].t()
            h = torch.nn.functional.silu(gu[:, :f]) * gu[:, f:]
            y.index_add_(0, tok, (h @ w2[e].t()).float() * w[tok, slot, None])
        return y

    return grouped, loop


def time_torch(torch, fn, x, reps, warmup, flush):
    for _ in range(warmup):
        fn(x)
    ts = []
    for _ in range(reps):
        flush.zero_()
        a, b = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        a.record()
        fn(x)
        b.record()
        torch.cuda.synchronize()
        ts.append(a.elapsed_time(b) * 1e-3)
    ts.sort()
    return ts[len(ts) // 2]


def moesim(model, tokens, reps, warmup):
    with tempfile.TemporaryDirectory() as tmp:
        js = os.path.join(tmp, "b.json")
        eng = os.environ.get("MOESIM_ENGINE") or os.path.join(ROOT, "bin", "moe-engine")  # tests/gpu/device_run.sh
        cmd = [eng, "bench", "--backend", "cuda", "--model", model, "--dtype", "bf16",
               "--tokens", ",".join(map(str, tokens)), "--reps", str(reps), "--warmup", str(warmup),
               "--no-primitives", "--json", js]
        subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL)
        with open(js) as f:
            res = json.load(f)
    return {r["tokens"]: r["total"]["median_s"] for r in res["results"] if r["kind"] == "moe_layer"}, " ".join(cmd), res["device"]


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", default="mixtral-8x7b")
    ap.add_argument("--tokens", default="1,2,4,8,16,32,64,512,4096")
    ap.add_argument("--reps", type=int, default=20)
    ap.add_argument("--warmup", type=int, default=3)
    ap.add_argument("--json")
    a = ap.parse_args()
    try:
        import torch
    except ImportError:
        sys.exit("compare_torch.py: PyTorch is not installed (pip install torch)")
    if not torch.cuda.is_available():
        sys.exit("compare_torch.py: no CUDA device visible to PyTorch")
    if not hasattr(torch, "_grouped_mm"):
        sys.exit("compare_torch.py: this PyTorch (%s) has no torch._grouped_mm" % torch.__version__)
    c = card(a.model)
    tokens = [int(t) for t in a.tokens.split(",")]
    ours, cmd, device = moesim(a.model, tokens, a.reps, a.warmup)
    grouped, loop = torch_layers(torch, c)
    props = torch.cuda.get_device_properties(0)
    flush = torch.empty(2 * max(getattr(props, "L2_cache_size", 50 << 20), 1 << 20), dtype=torch.uint8, device="cuda")
    rows = []
    print("%s on %s (torch %s): hidden %d, ffn %d, %d experts, top-%d, shared %dx%d, bf16" % (
        a.model, props.name, torch.__version__, c["hidden"], c["ffn"], c["experts"], c["top_k"], c["shared"], c["shared_ffn"]))
    print("  %6s %12s %12s %12s %10s" % ("tokens", "moesim ms", "grouped ms", "loop ms", "speed-up"))
    for T in tokens:
        x = torch.randn(T, c["hidden"], device="cuda", dtype=torch.bfloat16)
        with torch.no_grad():
            tg = time_torch(torch, grouped, x, a.reps, a.warmup, flush)
            tl = time_torch(torch, loop, x, a.reps, a.warmup, flush)
        tm = ours[T]
        best = min(tg, tl)
        rows.append(dict(tokens=T, moesim_s=tm, torch_grouped_mm_s=tg, torch_loop_s=tl, speedup=best / tm,
                         moesim_at_least_as_fast=tm <= best))
        print("  %6d %12.4f %12.4f %12.4f %9.2fx %s" % (T, tm * 1e3, tg * 1e3, tl * 1e3, best / tm, "" if tm <= best else "SLOWER"))
    out = dict(model=a.model, config=c, gpu=props.name, torch=torch.__version__, device=device,
               date=datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
               command=" ".join(sys.argv), moesim_command=cmd, results=rows)
    if a.json:
        with open(a.json, "w") as f:
            json.dump(out, f, indent=1)
    print("moesim at least as fast as PyTorch at every token count: %s" % ("yes" if all(r["moesim_at_least_as_fast"] for r in rows) else "NO"))


if __name__ == "__main__":
    main()
