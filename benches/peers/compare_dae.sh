#!/usr/bin/env bash
# The DAE Monte Carlo (d = 32, n = 4096, R = 64, 30 generations) in Rust and in numpy, side by side in one
# run on this machine. Prints the times and the ratios the foundation issue asks for.
set -euo pipefail
cd "$(dirname "$0")/../.."
python3 -c 'import numpy' 2>/dev/null || pip install --quiet numpy

cargo bench --bench dae -- monte_carlo >/dev/null
python3 -c 'import threadpoolctl' 2>/dev/null || pip install --quiet threadpoolctl
peer=$(python3 benches/peers/dae_numpy.py --repeat 3 | tail -n 1)
peer2=$(python3 benches/peers/dae_numpy.py --repeat 3 --threads 2 | tail -n 1)

python3 - "$peer" "$peer2" <<'PY'
import json, sys
peer, peer2 = json.loads(sys.argv[1]), json.loads(sys.argv[2])
base = "target/criterion/monte_carlo_d32_n4096_r64_g30"
def seconds(threads):
    with open(f"{base}/threads_{threads}/new/estimates.json") as f:
        return json.load(f)["mean"]["point_estimate"] / 1e9
one, two = seconds(1), seconds(2)
numpy = peer["best_seconds"]
print(f"rust, 1 thread : {one:.3f} s")
print(f"rust, 2 threads: {two:.3f} s   (speed-up {one / two:.2f}x, goal >= 1.8x)")
print(f"numpy (best of 3): {numpy:.3f} s (median {peer['median_seconds']:.3f} s)")
print(f"numpy, replicates split over 2 threads (best of 3): {peer2['best_seconds']:.3f} s")
print(f"rust 2 threads vs numpy (one stream, the issue's peer): {numpy / two:.2f}x faster (goal >= 5x)")
print(f"rust 2 threads vs numpy on 2 threads: {peer2['best_seconds'] / two:.2f}x faster")
PY
