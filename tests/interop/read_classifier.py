"""Open the shipped FD-classifier weights with the reference safetensors reader and re-score them in numpy
on the embedded Fashion-MNIST test subset, independently of the Rust code: the layer shapes must follow the
metadata and the test accuracy must match the stored one (up to a few near-ties that f32 and f64 break
differently). Usage: python3 read_classifier.py REPO_ROOT"""

import gzip
import sys
from pathlib import Path

import numpy as np
from safetensors import safe_open


def idx(path: Path) -> np.ndarray:
    data = gzip.decompress(path.read_bytes())
    dims = data[3]
    shape = [int.from_bytes(data[4 + 4 * i : 8 + 4 * i], "big") for i in range(dims)]
    return np.frombuffer(data, dtype=np.uint8, offset=4 + 4 * dims).reshape(shape)


def check(path: Path, images: np.ndarray, labels: np.ndarray) -> None:
    with safe_open(str(path), framework="numpy") as f:
        meta = f.metadata()
        tensors = {name: f.get_tensor(name) for name in f.keys()}
    assert meta["format"] == "flowcollapse-classifier-v1", meta
    channels, height, width = (int(s) for s in meta["input_shape"].split(","))
    widths = [channels * height * width] + [int(w) for w in meta["hidden"].split(",")] + [int(meta["classes"])]
    assert len(tensors) == 2 * (len(widths) - 1), sorted(tensors)

    x = images.astype(np.float64) / 127.5 - 1.0
    if height == 14:
        x = x.reshape(-1, 14, 2, 14, 2).mean(axis=(2, 4))
    h = x.reshape(len(x), -1)
    for layer, (fan_in, fan_out) in enumerate(zip(widths, widths[1:])):
        w, b = tensors[f"classifier.layers.{layer}.weight"], tensors[f"classifier.layers.{layer}.bias"]
        assert w.shape == (fan_out, fan_in) and b.shape == (fan_out,) and w.dtype == np.float32, (layer, w.shape)
        h = h @ w.T.astype(np.float64) + b
        if layer < len(widths) - 2:
            h = np.maximum(h, 0.0)
    correct = int((h.argmax(axis=1) == labels).sum())
    stored = int(meta["test_correct"])
    assert int(meta["test_total"]) == len(labels) and abs(correct - stored) <= 3, (path, correct, stored)
    print(f"{path.name}: {correct}/{len(labels)} correct in numpy, {stored} stored; read by safetensors")


def main(root: Path) -> None:
    images = idx(root / "data/fashion-mnist/t10k-images-idx3-ubyte.gz")
    labels = idx(root / "data/fashion-mnist/t10k-labels-idx1-ubyte.gz")
    for size in (28, 14):
        check(root / f"data/classifier/fashion-mnist-{size}.safetensors", images, labels)


if __name__ == "__main__":
    main(Path(sys.argv[1]))
