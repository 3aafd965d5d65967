#!/usr/bin/env python3
"""PyTorch eager peer of benches/reflow_pairs.rs: K-step Euler integration of the velocity MLP,
forward (noise -> data, t_j = j/K, step +1/K) and reverse (data -> noise, t_j = (K - j)/K, step -1/K),
n = 1024 rows in chunks of REFLOW_CHUNK rows (default 1024), float32, on the CPU.

The loop is the one flowcollapse's sampler::integrate runs for Solver::Euler:
  for each chunk of rows, for j = 0..K-1:
    gamma(t_j) = [sin(w_i t_j), cos(w_i t_j)], w_i = 1000^(i/(E/2 - 1)), one row per sample;
    v = MLP([x ; gamma]) (Linear, SiLU, Linear, SiLU, Linear); x += delta v;
  and, unless --no-straightness, the straightness sums the sampler streams (sum of ||dx/delta||^2 per
  step, ||x_K - x_0||^2 per chunk), accumulated in float64.

Prints one JSON line per measurement: images/s (best and median of the repeats, after warm-up runs),
and ms per one-chunk MLP forward (the peer of the Rust bench's reflow_parts group).

--check DIR compares against the files benches/reflow_pairs.rs writes with REFLOW_DUMP=DIR: it loads the
Rust parameters into the same MLP, integrates the same start points and prints the largest differences.
"""

import argparse
import json
import math
import os
import statistics
import time
import warnings

warnings.filterwarnings("ignore", message="Failed to initialize NumPy")
import torch  # noqa: E402

ROWS, STEPS = 1024, 50
# Rows integrated at once; the Rust sampler's default is 1024 (SamplerConfig::DEFAULT_CHUNK).
CHUNK = int(os.environ.get("REFLOW_CHUNK", "1024"))
MLPS = {"demo196": (196, (512, 512), 16), "mnist784": (784, (1024, 1024), 16)}


def make_model(dim, hidden, embed):
    layers, width = [], dim + embed
    for h in hidden:
        layers += [torch.nn.Linear(width, h), torch.nn.SiLU()]
        width = h
    layers.append(torch.nn.Linear(width, dim))
    return torch.nn.Sequential(*layers).eval()


def frequencies(embed):
    half = embed // 2
    if half <= 1:
        return torch.ones(half)
    return torch.tensor([1000.0 ** (i / (half - 1)) for i in range(half)], dtype=torch.float32)


def integrate(model, omega, start, steps, reverse, straightness=True, chunk=CHUNK):
    """Euler from `start` (n x d); returns the end points and the mean straightness (or None)."""
    n = start.shape[0]
    delta = (-1.0 if reverse else 1.0) / steps
    out = torch.empty_like(start)
    speed_sq = torch.zeros((), dtype=torch.float64)
    chord_sq = torch.zeros((), dtype=torch.float64)
    for c0 in range(0, n, chunk):
        x = start[c0:c0 + chunk].clone()
        x0 = x.clone() if straightness else None
        rows = x.shape[0]
        for j in range(steps):
            t = torch.full((rows, 1), (steps - j if reverse else j) / steps)
            phase = t * omega
            v = model(torch.cat([x, torch.sin(phase), torch.cos(phase)], dim=1))
            x.add_(v, alpha=delta)
            if straightness:
                speed_sq += v.square().sum(dtype=torch.float64)
        if straightness:
            chord_sq += (x - x0).square().sum(dtype=torch.float64)
        out[c0:c0 + chunk] = x
    if not straightness:
        return out, None
    return out, float((speed_sq / steps - chord_sq) / n)


def starts(dim):
    g = torch.Generator().manual_seed(7)
    noise = torch.randn(ROWS, dim, generator=g)
    images = torch.sin(torch.arange(ROWS * dim, dtype=torch.float32) * 0.37).reshape(ROWS, dim)
    return noise, images


def bench_integrate(name, direction, straightness, repeats, warmup):
    dim, hidden, embed = MLPS[name]
    torch.manual_seed(0)
    model, omega = make_model(dim, hidden, embed), frequencies(embed)
    noise, images = starts(dim)
    reverse = direction == "reverse"
    x = images if reverse else noise
    for _ in range(warmup):
        integrate(model, omega, x, STEPS, reverse, straightness)
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        integrate(model, omega, x, STEPS, reverse, straightness)
        times.append(time.perf_counter() - t0)
    best, med = min(times), statistics.median(times)
    return {"peer": "torch", "what": "integrate", "mlp": name, "direction": direction, "steps": STEPS,
            "rows": ROWS, "chunk": CHUNK, "straightness": straightness, "seconds_best": best,
            "seconds_median": med, "images_per_s": ROWS / best, "images_per_s_median": ROWS / med}


def bench_forward(name, repeats):
    dim, hidden, embed = MLPS[name]
    model = make_model(dim, hidden, embed)
    inp = torch.randn(CHUNK, dim + embed)
    for _ in range(20):
        model(inp)
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        for _ in range(50):
            model(inp)
        times.append((time.perf_counter() - t0) / 50)
    return {"peer": "torch", "what": "mlp_forward", "mlp": name, "rows": CHUNK,
            "ms_best": min(times) * 1e3, "ms_median": statistics.median(times) * 1e3}


def read_f32(path, shape):
    with open(path, "rb") as f:
        return torch.frombuffer(bytearray(f.read()), dtype=torch.float32).reshape(shape)


def check(dir_):
    with open(os.path.join(dir_, "meta.json")) as f:
        meta = json.load(f)
    dim, hidden, embed, rows, steps = meta["dim"], meta["hidden"], meta["embed"], meta["rows"], meta["steps"]
    model = make_model(dim, hidden, embed)
    flat = read_f32(os.path.join(dir_, "params.f32"), (-1,))
    offset = 0
    for p in model.parameters():  # weight [out, in] then bias, layer after layer: the Rust layout
        p.copy_(flat[offset:offset + p.numel()].reshape(p.shape))
        offset += p.numel()
    assert offset == flat.numel(), (offset, flat.numel())
    for direction in ("forward", "reverse"):
        start = read_f32(os.path.join(dir_, f"{direction}_start.f32"), (rows, dim))
        want = read_f32(os.path.join(dir_, f"{direction}_end.f32"), (rows, dim))
        got, _ = integrate(model, frequencies(embed), start, steps, direction == "reverse")
        diff = (got - want).abs()
        print(json.dumps({"peer": "torch", "what": "check", "direction": direction,
                          "max_abs_diff": float(diff.max()), "mean_abs_diff": float(diff.mean()),
                          "max_abs_value": float(want.abs().max()),
                          "rel_l2": float((got - want).norm() / want.norm())}), flush=True)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--mlps", default="demo196,mnist784")
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--warmup", type=int, default=1)
    ap.add_argument("--no-straightness", action="store_true", help="only the variant without the sums")
    ap.add_argument("--check", metavar="DIR", help="compare with the Rust end points in DIR (REFLOW_DUMP)")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    print(json.dumps({"peer": "torch", "version": torch.__version__, "threads": torch.get_num_threads(),
                      "config": torch.__config__.parallel_info().splitlines()[:6]}), flush=True)
    with torch.inference_mode():
        if args.check:
            check(args.check)
            return
        variants = [False] if args.no_straightness else [True, False]
        for name in args.mlps.split(","):
            for direction in ("forward", "reverse"):
                for straightness in variants:
                    repeats = args.repeats if MLPS[name][0] < 512 else max(2, math.ceil(args.repeats / 2))
                    print(json.dumps(bench_integrate(name, direction, straightness, repeats, args.warmup)),
                          flush=True)
            print(json.dumps(bench_forward(name, args.repeats)), flush=True)


if __name__ == "__main__":
    main()
