"""Open a flowcollapse training checkpoint with the reference safetensors reader (what PyTorch users do)
and check it against the run's own records: every state group and tensor, their shapes from the metadata,
finite values, and the step. Usage: python3 read_checkpoint.py RUN_DIR"""

import json
import sys
from pathlib import Path

import numpy as np
from safetensors import safe_open


def main(run: Path) -> None:
    path = run / "checkpoint.safetensors"
    with safe_open(str(path), framework="numpy") as f:
        meta = f.metadata()
        names = set(f.keys())
        tensors = {name: f.get_tensor(name) for name in names}
    assert meta["format"] == "flowcollapse-train-state-v1", meta
    dim, embed = int(meta["mlp.dim"]), int(meta["mlp.embed"])
    hidden = [int(w) for w in meta["mlp.hidden"].split(",") if w]
    widths = [dim + embed] + hidden + [dim]
    for group in ["params", "adam_m", "adam_v", "ema"]:
        for layer, (fan_in, fan_out) in enumerate(zip(widths, widths[1:])):
            w, b = tensors[f"{group}.layers.{layer}.weight"], tensors[f"{group}.layers.{layer}.bias"]
            assert w.shape == (fan_out, fan_in) and b.shape == (fan_out,), (group, layer, w.shape, b.shape)
            assert w.dtype == np.float32 and np.isfinite(w).all() and np.isfinite(b).all()
    assert len(names) == 4 * 2 * (len(widths) - 1), sorted(names)
    assert (tensors["adam_v.layers.0.weight"] >= 0).all(), "second moments are non-negative"
    records = json.loads((run / "records.json").read_text())
    assert int(meta["step"]) == records[-1]["step"], (meta["step"], records[-1])
    print(f"{path}: {len(names)} tensors, step {meta['step']}, read by safetensors")


if __name__ == "__main__":
    main(Path(sys.argv[1]))
