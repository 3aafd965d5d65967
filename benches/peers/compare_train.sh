#!/usr/bin/env bash
# One training step of the 784 + 16 -> 1024 -> 1024 -> 784 MLP in Rust (CPU backend, 2 threads) and in
# PyTorch eager (2 threads), side by side, plus each one's 2048^3 SGEMM. Prints ms/step, images/s,
# GFLOP/s and the ratios the trainer issue asks for. Run it on an otherwise idle machine.
set -euo pipefail
cd "$(dirname "$0")/../.."
python3 -c 'import torch' 2>/dev/null || pip install --quiet torch

cargo bench --bench train_step -- 'train_step/|sgemm/square' >/dev/null 2>&1
peer=$(python3 benches/peers/train_step_torch.py)

python3 - "$peer" <<'PY'
import json, sys
lines = [json.loads(l) for l in sys.argv[1].splitlines() if l.strip()]
torch_steps = {}
for l in lines[1:]:
    if l["what"] == "train_step":
        torch_steps.setdefault(l["batch"], []).append(l)
torch_sgemm = [l for l in lines if l.get("what") == "sgemm_2048"][0]
def est(path):
    with open(f"target/criterion/{path}/new/estimates.json") as f:
        e = json.load(f)
    return e["mean"]["point_estimate"] / 1e6, e["median"]["point_estimate"] / 1e6
def flops(b):
    H, D, E = 1024, 784, 16
    big = [(b, H, D), (b, H, H), (b, D, H), (H, D, b), (H, H, b), (D, H, b), (b, H, H), (b, H, D)]
    return sum(2 * m * n * k for m, n, k in big + [(b, H, E), (H, E, b)])
peak_ms, _ = est("sgemm/square_2048")
peak = 2 * 2048 ** 3 / peak_ms * 1e-6
print(f"rust gemm 2048^3: {peak:.1f} GFLOP/s; torch 2048^3: {torch_sgemm['gflops_best']:.1f} GFLOP/s")
for b, goal in [(128, 1.4), (32, 2.0)]:
    mean, med = est(f"train_step/batch/{b}")
    gf = flops(b) / mean * 1e-6
    best_torch = min(torch_steps[b], key=lambda l: l["ms_best"])
    print(f"batch {b}: rust {mean:.2f} ms/step (median {med:.2f}), {b / mean * 1e3:.0f} images/s, {gf:.1f} GFLOP/s "
          f"= {gf / peak * 100:.0f}% of gemm peak")
    for l in torch_steps[b]:
        print(f"  torch adam={l['adam']:8s} {l['ms_best']:.2f} ms/step (median {l['ms_median']:.2f}), "
              f"{l['images_per_s']:.0f} images/s -> rust is {l['ms_best'] / mean:.2f}x")
    print(f"  vs the fastest torch variant ({best_torch['adam']}): {best_torch['ms_best'] / mean:.2f}x (goal >= {goal}x)")
PY
