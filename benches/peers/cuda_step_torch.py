#!/usr/bin/env python3
"""PyTorch eager peer of benches/cuda_step.rs, on the GPU: one flow-matching training step of the
784 + 16 -> 1024 -> 1024 -> 784 SiLU MLP at batch 128, 256 and 1024, and torch.mm on the products of
that step plus a 4096^3 product.

FP32 against FP32: TF32 is off for matmuls and cuDNN (torch.backends.cuda.matmul.allow_tf32 = False,
torch.backends.cudnn.allow_tf32 = False, float32 matmul precision "highest").

The step does what flowcollapse's Trainer::step does (OptimConfig::default(), src/train/optim.rs):
  x1 = rows of a 1000 x 784 data matrix (on the GPU) drawn with replacement, x0 ~ N(0, I), t ~ U(0, 1),
  all drawn on the device; x_t = t x1 + (1 - t) x0, u = x1 - x0;
  gamma(t) = [sin(w_i t)..., cos(w_i t)...], w_i = 1000^(i/7), i < 8 (src/train/model.rs: embed_frequency,
  time_embedding), concatenated after x_t; v = MLP([x_t ; gamma(t)]); loss = mean((v - u)^2); backward;
  clip_grad_norm_(1.0) (global norm); Adam(lr 5e-4, betas (0.9, 0.999), eps 1e-8); EMA of the weights
  with the crate's warm-up decay d_t = min(0.999, (1 + t)/(10 + t)), as two foreach ops:
  torch._foreach_mul_(ema, d_t) then torch._foreach_add_(ema, params, alpha=1 - d_t).
Adam runs as torch's foreach implementation (the CUDA default) and as fused=True. Each is timed with
sync=item (loss.item() every step: the Rust step reads its loss and gradient norm back every step, which
synchronises) and sync=none (no host round trip; the queue stays full). The fastest is the one to beat.

Timing: CUDA events around `steps` steps (or `launches` products) after a warm-up; `ms` is the median
over the repeats of the time per step (per product), `ms_best` the best.

stdout, one JSON line per measurement:
  {"peer":"torch","what":"step","batch":...,"adam":...,"sync":...,"ms":...,"ms_best":...,"gflops":...}
  {"peer":"torch","what":"mm","id":"fwd0_x/128","name":"fwd0_x","batch":128,"ms":...,"gflops":...}
  {"peer":"torch","what":"mm","id":"square/4096","name":"square","size":4096,"ms":...,"gflops":...}
The mm ids are the criterion ids of benches/cuda_step.rs's cuda_sgemm group (same m, n, k, transposes
as .t() views, and leading dimensions as column slices of wider buffers). GFLOP/s count 2 m n k per
product; a step counts the same 10 products as the Rust bench.

Without a CUDA device (or without torch) it prints {"peer":"torch","skipped":"..."} and exits 0.
--dry-run-cpu runs every code path once on the CPU with tiny counts (to check the script; the numbers
mean nothing).
"""

import argparse
import json
import statistics
import sys
import time

try:
    import torch
except ImportError:  # the shapes and flop counts below are imported by gpu_check.sh's summary without torch
    torch = None

DIM, EMBED, HIDDEN = 784, 16, 1024
BATCHES = (128, 256, 1024)
OPTIM = {"lr": 5e-4, "betas": (0.9, 0.999), "eps": 1e-8}
CLIP, EMA_DECAY = 1.0, 0.999


def gemm(m, n, k, ta, tb, lda=None, ldb=None, ldc=None, acc=False):
    """A product as flowcollapse's Gemm: C (+)= op(A) op(B), row-major, leading dimensions default dense."""
    lda = lda or (m if ta else k)
    ldb = ldb or (k if tb else n)
    ldc = ldc or n
    return {"m": m, "n": n, "k": k, "ta": ta, "tb": tb, "lda": lda, "ldb": ldb, "ldc": ldc, "acc": acc}


def step_products(b):
    """benches/cuda_step.rs step_products(b), the same names, shapes and leading dimensions."""
    ld0 = DIM + EMBED
    return [
        ("fwd0_x", gemm(b, HIDDEN, DIM, False, True, ldb=ld0)),
        ("fwd0_t", gemm(b, HIDDEN, EMBED, False, True, ldb=ld0, acc=True)),
        ("fwd1", gemm(b, HIDDEN, HIDDEN, False, True)),
        ("fwd2", gemm(b, DIM, HIDDEN, False, True)),
        ("dw2", gemm(DIM, HIDDEN, b, True, False)),
        ("dx2", gemm(b, HIDDEN, DIM, False, False)),
        ("dw1", gemm(HIDDEN, HIDDEN, b, True, False)),
        ("dx1", gemm(b, HIDDEN, HIDDEN, False, False)),
        ("dw0_x", gemm(HIDDEN, DIM, b, True, False, ldc=ld0)),
        ("dw0_t", gemm(HIDDEN, EMBED, b, True, False, ldc=ld0)),
    ]


def flops(g):
    return 2 * g["m"] * g["n"] * g["k"]


def step_flops(b):
    return sum(flops(g) for _, g in step_products(b))


class Clock:
    """CUDA events on the GPU, perf_counter on the CPU (dry run); milliseconds."""

    def __init__(self, device):
        self.cuda = device.type == "cuda"

    def time(self, fn, count):
        if self.cuda:
            start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
            start.record()
            for _ in range(count):
                fn()
            end.record()
            end.synchronize()
            return start.elapsed_time(end) / count
        t0 = time.perf_counter()
        for _ in range(count):
            fn()
        return (time.perf_counter() - t0) * 1e3 / count


def sync(device):
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def bench_step(device, clock, batch, adam, sync_mode, steps, repeats, warmup):
    torch.manual_seed(0)
    model = torch.nn.Sequential(
        torch.nn.Linear(DIM + EMBED, HIDDEN), torch.nn.SiLU(),
        torch.nn.Linear(HIDDEN, HIDDEN), torch.nn.SiLU(),
        torch.nn.Linear(HIDDEN, DIM),
    ).to(device)
    params = list(model.parameters())
    with torch.no_grad():
        ema = [p.detach().clone() for p in params]
    kwargs = dict(OPTIM)
    if adam == "fused":
        kwargs["fused"] = True
    elif adam == "foreach":
        kwargs["foreach"] = True
    opt = torch.optim.Adam(params, **kwargs)
    data = torch.sin(torch.arange(1000 * DIM, dtype=torch.float32) * 0.37).reshape(1000, DIM).to(device)
    half = EMBED // 2
    omega = (1000.0 ** (torch.arange(half, dtype=torch.float64) / (half - 1))).to(torch.float32).to(device)
    count = [0]

    def step():
        x1 = data[torch.randint(0, data.shape[0], (batch,), device=device)]
        x0 = torch.randn(batch, DIM, device=device)
        t = torch.rand(batch, 1, device=device)
        xt = t * x1 + (1 - t) * x0
        u = x1 - x0
        phase = t * omega
        inp = torch.cat([xt, torch.sin(phase), torch.cos(phase)], dim=1)
        loss = torch.mean((model(inp) - u) ** 2)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(params, CLIP)
        opt.step()
        count[0] += 1
        s = count[0]
        decay = min(EMA_DECAY, (1 + s) / (10 + s))
        with torch.no_grad():
            torch._foreach_mul_(ema, decay)
            torch._foreach_add_(ema, [p.detach() for p in params], alpha=1 - decay)
        if sync_mode == "item":
            loss.item()

    for _ in range(warmup):
        step()
    sync(device)
    times = [clock.time(step, steps) for _ in range(repeats)]
    med, best = statistics.median(times), min(times)
    return {"peer": "torch", "what": "step", "batch": batch, "adam": adam, "sync": sync_mode, "ms": med,
            "ms_best": best, "images_per_s": batch / med * 1e3, "gflops": step_flops(batch) / med * 1e-6}


def operands(device, g):
    """Buffers laid out as the Gemm says, and the product as a closure over .t() views."""
    def stored(rows, cols, ld):
        return torch.randn(rows, ld, device=device)[:, :cols]

    m, n, k = g["m"], g["n"], g["k"]
    a = stored(*((k, m) if g["ta"] else (m, k)), g["lda"])
    b = stored(*((n, k) if g["tb"] else (k, n)), g["ldb"])
    c = torch.zeros(m, g["ldc"], device=device)[:, :n]
    op_a = a.t() if g["ta"] else a
    op_b = b.t() if g["tb"] else b
    assert op_a.shape == (m, k) and op_b.shape == (k, n) and c.shape == (m, n)
    if g["acc"]:
        return lambda: c.addmm_(op_a, op_b)
    return lambda: torch.mm(op_a, op_b, out=c)


def bench_mm(device, clock, name, g, launches, repeats, extra):
    fn = operands(device, g)
    for _ in range(max(3, launches // 5)):
        fn()
    sync(device)
    times = [clock.time(fn, launches) for _ in range(repeats)]
    med = statistics.median(times)
    out = {"peer": "torch", "what": "mm", "id": None, "name": name, **extra, "ms": med, "ms_best": min(times),
           "gflops": flops(g) / med * 1e-6, "m": g["m"], "n": g["n"], "k": g["k"], "ta": g["ta"], "tb": g["tb"]}
    out["id"] = f"{name}/{extra.get('batch', extra.get('size'))}"
    return out


def emit(obj):
    print(json.dumps(obj), flush=True)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--steps", type=int, default=50, help="steps per timed repeat")
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--warmup", type=int, default=20, help="untimed steps first")
    ap.add_argument("--launches", type=int, default=50, help="products per timed repeat (square: a fifth)")
    ap.add_argument("--adam", default="foreach,fused")
    ap.add_argument("--sync", default="item,none")
    ap.add_argument("--batches", default=",".join(map(str, BATCHES)))
    ap.add_argument("--dry-run-cpu", action="store_true",
                    help="run every path once on the CPU with tiny counts (checks the script; numbers mean nothing)")
    args = ap.parse_args()
    batches = [int(b) for b in args.batches.split(",")]

    if torch is None:
        print("cuda_step_torch.py: torch is not installed; nothing measured", file=sys.stderr)
        emit({"peer": "torch", "skipped": "torch is not installed"})
        return 0
    if args.dry_run_cpu:
        device = torch.device("cpu")
        args.steps, args.repeats, args.warmup, args.launches = 2, 1, 1, 2
        square = 256
    elif not torch.cuda.is_available():
        why = "no CUDA device: torch.cuda.is_available() is False"
        print(f"cuda_step_torch.py: {why} (torch {torch.__version__}, built for CUDA {torch.version.cuda}); "
              "nothing measured", file=sys.stderr)
        emit({"peer": "torch", "skipped": why})
        return 0
    else:
        device = torch.device("cuda", 0)
        square = 4096

    torch.backends.cuda.matmul.allow_tf32 = False
    torch.backends.cudnn.allow_tf32 = False
    torch.set_float32_matmul_precision("highest")
    clock = Clock(device)
    emit({"peer": "torch", "version": torch.__version__, "cuda": torch.version.cuda,
          "device": torch.cuda.get_device_name(device) if device.type == "cuda" else "cpu (dry run)",
          "tf32": torch.backends.cuda.matmul.allow_tf32, "matmul_precision": torch.get_float32_matmul_precision()})

    for batch in batches:
        for adam in args.adam.split(","):
            for sync_mode in args.sync.split(","):
                emit(bench_step(device, clock, batch, adam, sync_mode, args.steps, args.repeats, args.warmup))
    for batch in batches:
        for name, g in step_products(batch):
            emit(bench_mm(device, clock, name, g, args.launches, args.repeats, {"batch": batch}))
    g = gemm(square, square, square, False, False)
    emit(bench_mm(device, clock, "square", g, max(2, args.launches // 5), args.repeats, {"size": square}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
