#!/usr/bin/env bash
# Pair generation (forward, noise -> data) and inversion (reverse, data -> noise) with K = 50 Euler steps
# over n = 1024 rows, in Rust (sampler::integrate, CPU backend, 2 threads) and in PyTorch eager (2 threads),
# side by side in one run. Prints images/s and the Rust / PyTorch throughput ratios (goal >= 1.5x).
#
#   ./benches/peers/compare_reflow.sh                 # the demo MLP (196 -> 512 -> 512) and the 784 one
#   REFLOW_MLPS=demo196 ./benches/peers/compare_reflow.sh   # the demo MLP only (about 1 minute)
#   REFLOW_CHECK=1 ./benches/peers/compare_reflow.sh  # first check that both run the same loop
#   REFLOW_CHUNK=256 ./benches/peers/compare_reflow.sh  # rows integrated at once on both sides (default:
#                                                     # the Rust sampler's SamplerConfig::DEFAULT_CHUNK)
#
# Run it on an otherwise idle machine (check `uptime`): both sides use both cores.
set -euo pipefail
cd "$(dirname "$0")/../.."
mlps=${REFLOW_MLPS:-demo196,mnist784}
python3 -c 'import torch' 2>/dev/null || pip install --quiet torch

if ! log=$(cargo bench --bench reflow_pairs --no-run 2>&1); then
    echo "$log" | tail -n 30
    exit 1
fi
if [[ -n "${REFLOW_CHECK:-}" ]]; then
    dir=$(mktemp -d)
    REFLOW_DUMP="$dir" cargo bench --bench reflow_pairs -- '^$' >/dev/null 2>&1
    python3 benches/peers/reflow_pairs_torch.py --check "$dir" | tail -n 2
    rm -r "$dir"
fi
filter="^reflow_(forward|reverse)/(${mlps//,/|})\$|^reflow_parts/(${mlps//,/|})_"
echo "load before: $(uptime)"
cargo bench --bench reflow_pairs -- "$filter" >/dev/null 2>&1
target=${CARGO_TARGET_DIR:-target}
# The chunk the Rust side ran with (the throughput of its reflow_parts bench), for the peer to match.
chunk=$(python3 -c 'import json, sys; print(json.load(open(sys.argv[1]))["throughput"]["Elements"])' \
    "$target/criterion/reflow_parts/${mlps%%,*}_forward_chunk/new/benchmark.json")
peer=$(REFLOW_CHUNK=$chunk python3 benches/peers/reflow_pairs_torch.py --mlps "$mlps")
echo "load after:  $(uptime)"
echo "chunk: $chunk rows at a time on both sides"

python3 - "$peer" "$mlps" "$target" "$chunk" <<'PY'
import json, sys
lines = [json.loads(l) for l in sys.argv[1].splitlines() if l.strip()]
print(f"torch {lines[0]['version']}, {lines[0]['threads']} threads")
rows = 1024

def crit(path):
    """Criterion mean and fastest sample, in seconds per iteration."""
    base = f"{sys.argv[3]}/criterion/{path}/new"
    with open(f"{base}/estimates.json") as f:
        mean = json.load(f)["mean"]["point_estimate"] / 1e9
    with open(f"{base}/sample.json") as f:
        s = json.load(f)
    return mean, min(t / i for t, i in zip(s["times"], s["iters"])) / 1e9

for mlp in sys.argv[2].split(","):
    for direction in ("forward", "reverse"):
        mean, best = crit(f"reflow_{direction}/{mlp}")
        rust = rows / mean
        peers = {l["straightness"]: l for l in lines[1:]
                 if l["what"] == "integrate" and l["mlp"] == mlp and l["direction"] == direction}
        fastest = max(p["images_per_s"] for p in peers.values())
        print(f"{mlp} {direction}: rust {rust:.0f} images/s (criterion mean; fastest sample {rows / best:.0f})")
        for s, p in sorted(peers.items(), reverse=True):
            what = "with the straightness sums" if s else "no straightness sums"
            print(f"  torch, {what:26s}: {p['images_per_s']:.0f} images/s best "
                  f"(median {p['images_per_s_median']:.0f}) -> rust/torch {rust / p['images_per_s']:.2f}x")
        print(f"  rust/torch vs the fastest torch variant: {rust / fastest:.2f}x (goal >= 1.5x)")
    chunk = int(sys.argv[4])
    fwd = [l for l in lines if l.get("what") == "mlp_forward" and l["mlp"] == mlp][0]
    mean, one = crit(f"reflow_parts/{mlp}_forward_chunk")
    _, total = crit(f"reflow_forward/{mlp}")
    calls = 50 * -(-rows // chunk)
    print(f"  one {chunk}-row MLP forward: rust {mean * 1e3:.3f} ms (mean; fastest {one * 1e3:.3f}), "
          f"torch {fwd['ms_best']:.3f} ms (best)")
    print(f"  fastest samples: rust forward integrate {total * 1e3:.0f} ms = {calls} MLP forwards "
          f"({calls * one * 1e3:.0f} ms) + {(total - calls * one) * 1e3:.0f} ms of the rest of the loop "
          f"(noisy: the two were timed at different moments)")
PY
