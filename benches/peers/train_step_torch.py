#!/usr/bin/env python3
"""PyTorch eager peer of benches/train_step.rs: one flow-matching training step of the
784 + 16 -> 1024 -> 1024 -> 784 SiLU MLP on the CPU, plus a 2048^3 SGEMM.

The step does what flowcollapse's Trainer::step does, with the same shapes and hyperparameters:
  x1 = rows of a 1000 x 784 data matrix drawn with replacement, x0 ~ N(0, I), t ~ U(0, 1);
  x_t = t x1 + (1 - t) x0, u = x1 - x0; gamma(t) = [sin(w_i t), cos(w_i t)], w_i = 1000^(i/7);
  v = MLP([x_t ; gamma(t)]); loss = mean((v - u)^2); backward; clip_grad_norm_(1.0);
  Adam(lr 5e-4, betas (0.9, 0.999), eps 1e-8); EMA of the weights with decay 0.999 (one foreach lerp).

Prints one JSON line per measurement: ms per step (best and median of the repeats), images/s, and
GFLOP/s counted like the Rust bench (8 large products + 2 small time-embedding ones, 2*m*n*k each).
"""

import argparse
import json
import statistics
import time

import torch

DIM, EMBED, HIDDEN = 784, 16, 1024


def step_flops(b):
    big = [(b, HIDDEN, DIM), (b, HIDDEN, HIDDEN), (b, DIM, HIDDEN),  # forward
           (HIDDEN, DIM, b), (HIDDEN, HIDDEN, b), (DIM, HIDDEN, b),  # weight gradients
           (b, HIDDEN, HIDDEN), (b, HIDDEN, DIM)]  # input gradients of layers 1 and 2
    small = [(b, HIDDEN, EMBED), (HIDDEN, EMBED, b)]
    return sum(2 * m * n * k for m, n, k in big + small)


def make_model():
    return torch.nn.Sequential(
        torch.nn.Linear(DIM + EMBED, HIDDEN), torch.nn.SiLU(),
        torch.nn.Linear(HIDDEN, HIDDEN), torch.nn.SiLU(),
        torch.nn.Linear(HIDDEN, DIM),
    )


def bench_train(batch, adam_impl, steps, repeats, warmup):
    torch.manual_seed(0)
    model = make_model()
    params = list(model.parameters())
    ema = [p.detach().clone() for p in params]
    kwargs = {"lr": 5e-4, "betas": (0.9, 0.999), "eps": 1e-8}
    if adam_impl == "fused":
        kwargs["fused"] = True
    elif adam_impl == "foreach":
        kwargs["foreach"] = True
    opt = torch.optim.Adam(params, **kwargs)
    data = torch.sin(torch.arange(1000 * DIM, dtype=torch.float32) * 0.37).reshape(1000, DIM)
    omega = 1000.0 ** (torch.arange(EMBED // 2, dtype=torch.float32) / (EMBED // 2 - 1))

    def step():
        x1 = data[torch.randint(0, data.shape[0], (batch,))]
        x0 = torch.randn(batch, DIM)
        t = torch.rand(batch, 1)
        xt = t * x1 + (1 - t) * x0
        u = x1 - x0
        phase = t * omega
        inp = torch.cat([xt, torch.sin(phase), torch.cos(phase)], dim=1)
        loss = torch.mean((model(inp) - u) ** 2)
        opt.zero_grad(set_to_none=False)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(params, 1.0)
        opt.step()
        with torch.no_grad():
            torch._foreach_lerp_(ema, [p.detach() for p in params], 1 - 0.999)
        return loss

    for _ in range(warmup):
        step()
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        for _ in range(steps):
            step()
        times.append((time.perf_counter() - t0) / steps)
    best, med = min(times), statistics.median(times)
    return {
        "peer": "torch", "what": "train_step", "batch": batch, "adam": adam_impl,
        "ms_best": best * 1e3, "ms_median": med * 1e3, "images_per_s": batch / best,
        "gflops_best": step_flops(batch) / best * 1e-9,
    }


def bench_sgemm(n, repeats):
    a, b = torch.randn(n, n), torch.randn(n, n)
    c = a @ b
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        torch.mm(a, b, out=c)
        times.append(time.perf_counter() - t0)
    best = min(times)
    return {"peer": "torch", "what": f"sgemm_{n}", "ms_best": best * 1e3,
            "ms_median": statistics.median(times) * 1e3, "gflops_best": 2 * n ** 3 / best * 1e-9}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--steps", type=int, default=40)
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--warmup", type=int, default=10)
    ap.add_argument("--adam", default="default,foreach,fused")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    print(json.dumps({"peer": "torch", "version": torch.__version__, "threads": torch.get_num_threads(),
                      "config": torch.__config__.parallel_info().splitlines()[:6]}), flush=True)
    for batch in (128, 32):
        for impl in args.adam.split(","):
            print(json.dumps(bench_train(batch, impl, args.steps, args.repeats, args.warmup)), flush=True)
    print(json.dumps(bench_sgemm(2048, 10)), flush=True)


if __name__ == "__main__":
    main()
