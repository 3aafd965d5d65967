#!/usr/bin/env python3
"""numpy peer: finite-sample Monte Carlo of a linear denoising autoencoder
retrained on its own outputs (strategy "Replace", rule "noisy").

Vectorised across replicates: every array is (R, n, d) or (R, d, d) and the
only Python loop is over generations. float64 throughout. See README.md in
this directory for the exact algorithm and how the numbers were measured.
"""

import argparse
import json
import math
import statistics
import sys
import time

import numpy as np

try:  # scipy is optional; used only for the t quantile when present
    from scipy.stats import t as _scipy_t  # type: ignore
except Exception:  # pragma: no cover - depends on the environment
    _scipy_t = None


# --------------------------------------------------------------------------
# Student-t quantile
# --------------------------------------------------------------------------

def _hill_t_upper(p2, df):
    """Hill (1970), CACM algorithm 396: t with P(|T| > t) = p2, df degrees of freedom."""
    n = float(df)
    if df == 1:
        q = p2 * math.pi / 2.0
        return math.cos(q) / math.sin(q)
    if df == 2:
        return math.sqrt(2.0 / (p2 * (2.0 - p2)) - 2.0)
    a = 1.0 / (n - 0.5)
    b = 48.0 / (a * a)
    c = ((20700.0 * a / b - 98.0) * a - 16.0) * a + 96.36
    d = ((94.5 / (b + c) - 3.0) / b + 1.0) * math.sqrt(a * math.pi / 2.0) * n
    x = d * p2
    y = x ** (2.0 / n)
    if y > 0.05 + a:
        # asymptotic inverse expansion about the normal quantile
        x = statistics.NormalDist().inv_cdf(0.5 * p2)
        y = x * x
        if df < 5:
            c += 0.3 * (n - 4.5) * (x + 0.6)
        c = (((0.05 * d * x - 5.0) * x - 7.0) * x - 2.0) * x + b + c
        y = (((((0.4 * y + 6.3) * y + 36.0) * y + 94.5) / c - y - 3.0) / b + 1.0) * x
        y = math.expm1(a * y * y)
    else:
        y = ((1.0 / (((n + 6.0) / (n * y) - 0.089 * d - 0.822) * (n + 2.0) * 3.0)
              + 0.5 / (n + 4.0)) * y - 1.0) * (n + 1.0) / (n + 2.0) + 1.0 / y
    return math.sqrt(n * y)


def t_quantile(prob, df):
    """Quantile of Student's t at probability prob (> 0.5), and the method used."""
    if _scipy_t is not None:
        return float(_scipy_t.ppf(prob, df)), "scipy.stats.t.ppf"
    return _hill_t_upper(2.0 * (1.0 - prob), df), "Hill 1970 (CACM 396) approximation"


# --------------------------------------------------------------------------
# Closed form
# --------------------------------------------------------------------------

def spectrum(dim):
    return 2.0 * 0.9 ** np.arange(dim, dtype=np.float64)


def closed_form_trace_ratio(lam, s, generations):
    """Population recursion mu_k = mu_{k-1}^2 / (mu_{k-1} + s); returns sum(mu_G)/sum(lam)."""
    mu = lam.copy()
    for _ in range(generations):
        mu = mu * mu / (mu + s)
    return float(mu.sum() / lam.sum())


# --------------------------------------------------------------------------
# Monte Carlo
# --------------------------------------------------------------------------

def _top_singular(m):
    """Largest singular value of each (R, d, d) matrix: sqrt(lambda_max(M M^T))."""
    g = m @ m.swapaxes(-1, -2)
    return np.sqrt(np.maximum(np.linalg.eigvalsh(g)[:, -1], 0.0))


def run(dim, n, reps, gens, s, rng):
    """Runs the whole loop once for `reps` replicates drawing from Generator `rng`.

    Returns a dict of per-generation metric arrays, each (G, reps).
    """
    lam = spectrum(dim)
    lam_sum = float(lam.sum())
    sqrt_lam = np.sqrt(lam)
    sigma = math.sqrt(s)
    shape = (reps, n, dim)
    inv_n = 1.0 / n

    def fill(buf):
        rng.standard_normal(out=buf)

    def noisy(dst, src):  # dst <- src + sigma * N(0, 1), in place, no temporaries
        rng.standard_normal(out=dst)
        np.multiply(dst, sigma, out=dst)
        np.add(dst, src, out=dst)

    x = np.empty(shape)       # current generation's samples
    y = np.empty(shape)       # noisy inputs (also reused for X + sigma E')
    z = np.empty(shape)       # next generation's samples
    ones = np.ones(n)
    syy = np.empty((reps, dim, dim))
    syx = np.empty((reps, dim, dim))   # Sxy^T = (Y - ybar)^T (X - xbar)
    gram = np.empty((reps, dim, dim))
    phi = np.broadcast_to(np.eye(dim), (reps, dim, dim)).copy()

    trace_ratio = np.empty((gens, reps))
    top_eig = np.empty((gens, reps))
    w_norm = np.empty((gens, reps))
    phi_norm = np.empty((gens, reps))

    # generation 0: x = sqrt(lambda) * standard normal
    fill(x)
    np.multiply(x, sqrt_lam, out=x)
    xbar = (ones @ x) * inv_n                      # (R, d)

    for k in range(gens):
        # 1. Y = X + sigma E
        noisy(y, x)
        ybar = (ones @ y) * inv_n

        # 2. centred Grams: Syy = Y^T Y - n ybar ybar^T, Sxy^T = Y^T X - n ybar xbar^T
        yt = y.swapaxes(-1, -2)
        np.matmul(yt, y, out=syy)
        np.matmul(yt, x, out=syx)
        syy -= n * (ybar[:, :, None] * ybar[:, None, :])
        syx -= n * (ybar[:, :, None] * xbar[:, None, :])
        # W = Sxy Syy^{-1}  <=>  Syy W^T = Sxy^T
        wt = np.linalg.solve(syy, syx)             # W^T, (R, d, d)
        b = xbar - (ybar[:, None, :] @ wt)[:, 0, :]  # b = xbar - W ybar

        # 3. Z = (X + sigma E') W^T + b   (E' fresh)
        noisy(y, x)
        np.matmul(y, wt, out=z)
        z += b[:, None, :]

        # 4. metrics
        zbar = (ones @ z) * inv_n
        np.matmul(z.swapaxes(-1, -2), z, out=gram)
        gram -= n * (zbar[:, :, None] * zbar[:, None, :])
        gram *= 1.0 / (n - 1)                      # Cov Z
        trace_ratio[k] = np.einsum("rii->r", gram) / lam_sum
        top_eig[k] = np.linalg.eigvalsh(gram)[:, -1]
        w = wt.swapaxes(-1, -2)
        w_norm[k] = _top_singular(w)
        phi = w @ phi
        phi_norm[k] = _top_singular(phi)

        # Z becomes the next X (swap buffers; its mean is already known)
        x, z = z, x
        xbar = zbar

    return {"trace_ratio": trace_ratio, "top_eig": top_eig,
            "w_norm": w_norm, "phi_norm": phi_norm}


def simulate(dim, n, reps, gens, s, seed, threads=1):
    """The whole Monte Carlo. threads == 1: one default_rng(seed) stream, one vectorised pass
    over all replicates. threads == T > 1: default_rng(seed).spawn(T) child streams, the
    replicates split into T contiguous slabs, each slab running the same vectorised loop in its
    own Python thread (numpy releases the GIL in the RNG, ufuncs, matmul and LAPACK calls).
    Replicates are independent, so the slabs never synchronise."""
    root = np.random.default_rng(seed)
    if threads <= 1:
        return run(dim, n, reps, gens, s, root)
    from concurrent.futures import ThreadPoolExecutor
    t = min(threads, reps)
    bounds = [reps * i // t for i in range(t + 1)]
    children = root.spawn(t)
    with ThreadPoolExecutor(t) as pool:
        parts = list(pool.map(
            lambda i: run(dim, n, bounds[i + 1] - bounds[i], gens, s, children[i]), range(t)))
    return {key: np.concatenate([p[key] for p in parts], axis=1) for key in parts[0]}


def blas_info():
    """(BLAS name/version, threads) from threadpoolctl when importable, else from numpy's config."""
    try:
        from threadpoolctl import threadpool_info
        pools = [p for p in threadpool_info() if p.get("user_api") == "blas"]
        if pools:
            p = pools[0]
            return f"{p.get('internal_api')} {p.get('version')} ({p.get('architecture')})", \
                p.get("num_threads")
    except Exception:
        pass
    try:
        cfg = np.show_config(mode="dicts")["Build Dependencies"]["blas"]
        return f"{cfg.get('name')} {cfg.get('version')}", None
    except Exception:
        return "unknown", None


def summarise(values, tq):
    """Per-generation mean and 95% t confidence interval over replicates; values is (G, R)."""
    reps = values.shape[1]
    mean = values.mean(axis=1)
    sd = values.std(axis=1, ddof=1) if reps > 1 else np.zeros_like(mean)
    half = tq * sd / math.sqrt(reps)
    return mean, mean - half, mean + half


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--dim", type=int, default=32)
    ap.add_argument("--samples", type=int, default=4096)
    ap.add_argument("--replicates", type=int, default=64)
    ap.add_argument("--generations", type=int, default=30)
    ap.add_argument("--s", type=float, default=0.1, help="noise variance (sigma = sqrt(s))")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--threads", type=int, default=1,
                    help="1 (default): one default_rng(seed) stream, one vectorised pass, BLAS "
                         "threads as configured. T > 1: replicates split into T slabs run in T "
                         "Python threads with default_rng(seed).spawn(T) streams, BLAS limited "
                         "to 1 thread (needs threadpoolctl, else set OPENBLAS_NUM_THREADS=1)")
    ap.add_argument("--per-generation", action="store_true",
                    help="also print per-generation means/CIs (last run) to stderr")
    a = ap.parse_args(argv)
    if a.samples < 2 or a.replicates < 1 or a.generations < 1 or a.dim < 1:
        ap.error("need samples >= 2, replicates >= 1, generations >= 1, dim >= 1")

    limiter = None
    if a.threads > 1:
        try:
            from threadpoolctl import threadpool_limits
            limiter = threadpool_limits(limits=1, user_api="blas")
        except Exception:
            print("note: threadpoolctl not importable; BLAS threads not limited "
                  "(set OPENBLAS_NUM_THREADS=1 to avoid oversubscription)", file=sys.stderr)
    blas, blas_threads = blas_info()

    times = []
    result = None
    for _ in range(a.repeat):
        t0 = time.perf_counter()
        result = simulate(a.dim, a.samples, a.replicates, a.generations, a.s, a.seed, a.threads)
        tq, tq_method = t_quantile(0.975, max(a.replicates - 1, 1))
        tr_mean, tr_lo, tr_hi = summarise(result["trace_ratio"], tq)
        dt = time.perf_counter() - t0
        times.append(dt)
        print(json.dumps({"peer": "numpy", "numpy": np.__version__, "dim": a.dim,
                          "samples": a.samples, "replicates": a.replicates,
                          "generations": a.generations, "seconds": dt}), flush=True)
    if limiter is not None:
        limiter.restore_original_limits()

    lam = spectrum(a.dim)
    if a.per_generation:
        for k in range(a.generations):
            row = {"generation": k + 1,
                   "closed_form_trace_ratio": closed_form_trace_ratio(lam, a.s, k + 1)}
            for key, vals in result.items():
                m, lo, hi = summarise(vals, tq)
                row[key] = [float(m[k]), float(lo[k]), float(hi[k])]
            print(json.dumps(row), file=sys.stderr)

    print(json.dumps({
        "peer": "numpy",
        "best_seconds": min(times),
        "median_seconds": statistics.median(times),
        "trace_ratio_final_mean": float(tr_mean[-1]),
        "trace_ratio_final_ci": [float(tr_lo[-1]), float(tr_hi[-1])],
        "closed_form_trace_ratio_final": closed_form_trace_ratio(lam, a.s, a.generations),
        "t_quantile": tq,
        "t_quantile_method": tq_method,
        "threads": a.threads,
        "blas": blas,
        "blas_threads": blas_threads,
    }), flush=True)


if __name__ == "__main__":
    main()
