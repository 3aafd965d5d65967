#!/usr/bin/env bash
# The one GPU check of the CUDA backend: conformance tests, a short training run on cuda and on cpu, the
# cuda_step criterion bench and its PyTorch eager peer, and the ratios against the targets (a step at most
# 0.5x PyTorch eager's time; the GEMM at least 70% of cuBLAS FP32 on the layer shapes).
# See "GPU check" in benches/peers/README.md.
#
# Two steps, because the GPU machine has no Rust toolchain and no network:
#
#   bash benches/peers/gpu_check.sh --prepare    # here, with cargo: builds the release binary, the two
#                                                # test binaries holding the kernel_cuda tests and the
#                                                # cuda_step bench, stripped, into target/gpu-check/bin
#   bash benches/peers/gpu_check.sh              # on the GPU machine, from the repository root, with
#                                                # target/gpu-check carried there; 10 minutes at most
#
# Where cargo is on the PATH and target/gpu-check/bin is missing, the check runs --prepare first. Running
# the binaries directly is what cargo would run: `<test binary> kernel_cuda --ignored` is
# `cargo test --release kernel_cuda -- --ignored` for the two test files that hold kernel_cuda tests, and
# `<bench binary> --bench --noplot` is `cargo bench --bench cuda_step -- --noplot`.
#
# Results go to $OUT (a temporary folder when unset), at most 8 files and no sub-folders, so that all of
# them come back from the device machine: log.txt (everything printed), summary.txt and summary.json
# (the ratios), criterion.json (every estimates.json of the bench, by id), torch.jsonl (the peer's
# lines), train-cuda.jsonl and train-cpu.jsonl (the two runs' records). Run directories and criterion's
# own folder stay in a scratch folder.
#
# Environment: OUT; GPU_CHECK_BUDGET (seconds for the whole check, default 570: every stage's timeout is
# cut to what is left, keeping 30 s for the summary); GPU_CHECK_STEPS (training steps, default 3000).
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/../.."
ROOT=$PWD
BIN=$ROOT/target/gpu-check/bin
TESTS=(kernel_parity train_ops)

prepare() {
    command -v cargo >/dev/null || { echo "--prepare needs cargo" >&2; return 1; }
    mkdir -p "$BIN"
    cargo build --release --bin flowcollapse
    local tests_json bench_json
    tests_json=$(cargo test --release --no-run --message-format=json "${TESTS[@]/#/--test=}")
    bench_json=$(cargo bench --no-run --bench cuda_step --message-format=json)
    # The executables cargo reports, by target name.
    printf '%s\n%s\n' "$tests_json" "$bench_json" | python3 -c '
import json, sys
for line in sys.stdin:
    if not line.startswith("{"):
        continue
    m = json.loads(line)
    if m.get("reason") == "compiler-artifact" and m.get("executable") and m["target"]["kind"] != ["bin"]:
        print(m["target"]["name"], m["executable"])
' | while read -r name exe; do
        case $name in
            cuda_step) dest=cuda_step ;;
            kernel_parity | train_ops) dest=test-$name ;;
            *) continue ;;
        esac
        strip -o "$BIN/$dest" "$exe" 2>/dev/null || cp "$exe" "$BIN/$dest"
    done
    strip -o "$BIN/flowcollapse" target/release/flowcollapse 2>/dev/null || cp target/release/flowcollapse "$BIN/"
    for t in "${TESTS[@]/#/test-}" cuda_step flowcollapse; do
        [[ -x $BIN/$t ]] || { echo "missing $BIN/$t after the build" >&2; return 1; }
    done
    du -sh "$BIN"/*
    echo "prepared $BIN ($(du -sh "$BIN" | cut -f1)); carry target/gpu-check to the GPU machine"
}

if [[ ${1:-} == --prepare ]]; then
    prepare
    exit
fi

OUT=${OUT:-$(mktemp -d "${TMPDIR:-/tmp}/gpu-check-out.XXXXXX")}
mkdir -p "$OUT"
WORK=$(mktemp -d "${TMPDIR:-/tmp}/gpu-check-work.XXXXXX")
export CRITERION_HOME=$WORK/criterion PYTHONUNBUFFERED=1
exec > >(tee -a "$OUT/log.txt") 2>&1
BUDGET=${GPU_CHECK_BUDGET:-570}
STEPS=${GPU_CHECK_STEPS:-3000}
START=$SECONDS
FAILED=()
echo "gpu_check: repository $ROOT, results in $OUT, scratch in $WORK, budget ${BUDGET}s"

# stage NAME LIMIT_S CMD...: run CMD under `timeout`, cut to the budget left (30 s kept for the summary);
# a failure or timeout is recorded and the next stage runs.
stage() {
    local name=$1 limit=$2 rc=0
    shift 2
    local left=$((BUDGET - 30 - (SECONDS - START)))
    ((limit > left)) && limit=$left
    if ((limit < 5)); then
        echo "=== [$name] skipped: the budget is spent"
        FAILED+=("$name(no time)")
        return 0
    fi
    echo "=== [$name] $(date -u +%H:%M:%S) limit ${limit}s"
    timeout --kill-after=10 "$limit" "$@" || rc=$?
    echo "=== [$name] rc=$rc after $((SECONDS - START))s in all"
    ((rc == 0)) || FAILED+=("$name(rc=$rc)")
}

# ---- 0: the card, the driver and the CUDA libraries --------------------------------------------------------
preflight() {
    nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv || echo "nvidia-smi failed"
    ldconfig -p | grep -E 'libcuda\.so|libnvrtc' || echo "ldconfig lists no libcuda/libnvrtc"
}
stage preflight 30 bash -c "set -uo pipefail; $(declare -f preflight); preflight"
# cudarc loads libnvrtc.so or libnvrtc.so.12 (the crate is built for CUDA 12.8) from the loader's path: add
# the toolkit's lib64, and where only a versioned NVRTC is there (CUDA 13), a link named libnvrtc.so to it
# (the toolkit's first, else the one of pip's nvidia-cuda-nvrtc wheel).
for d in /usr/local/cuda/targets/x86_64-linux/lib /usr/local/cuda/lib64; do
    if [[ -d $d ]]; then
        export LD_LIBRARY_PATH=$d${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}
    fi
done
ld_cache=$(ldconfig -p 2>/dev/null || true)
if ! grep -qE 'libnvrtc\.so(\.12)? ' <<<"$ld_cache"; then
    wheel_libs=$(python3 -c 'import glob, site; print(" ".join(sorted({p.rsplit("/", 1)[0] for s in site.getsitepackages()
        for p in glob.glob(s + "/nvidia/**/libnvrtc.so*", recursive=True)})))' 2>/dev/null || true)
    ld_dirs=${LD_LIBRARY_PATH:-}
    for d in ${ld_dirs//:/ } $wheel_libs; do
        [[ -e $d/libnvrtc.so || -e $d/libnvrtc.so.12 ]] && break
        if compgen -G "$d/libnvrtc.so.1[0-9]*" >/dev/null; then
            mkdir -p "$WORK/lib"
            nvrtc=$(compgen -G "$d/libnvrtc.so.1[0-9]*" | sort -V | head -1)
            ln -sf "$nvrtc" "$WORK/lib/libnvrtc.so"
            export LD_LIBRARY_PATH=$WORK/lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}
            echo "linked $WORK/lib/libnvrtc.so -> $nvrtc"
            break
        fi
    done
fi
echo "LD_LIBRARY_PATH=${LD_LIBRARY_PATH:-}"

# ---- 1: binaries ------------------------------------------------------------------------------------------
if [[ ! -x $BIN/cuda_step ]]; then
    if command -v cargo >/dev/null; then
        stage build 400 bash "$ROOT/benches/peers/gpu_check.sh" --prepare
    else
        echo "no $BIN/cuda_step and no cargo: run --prepare where cargo is and carry target/gpu-check"
        FAILED+=("build(missing)")
    fi
fi

# ---- 2: the kernel_cuda conformance and parity tests (ignored unless asked for) ----------------------------
tests() {
    local rc=0 t
    for t in "$@"; do
        echo "--- $t kernel_cuda --ignored"
        "$BIN/test-$t" kernel_cuda --ignored || rc=$?
    done
    return "$rc"
}
stage tests 180 bash -c "set -euo pipefail; BIN='$BIN'; $(declare -f tests); tests ${TESTS[*]}"

# ---- 3: the demo model, a fixed number of steps on cuda and on cpu, wall times -------------------------------
train() {
    local device=$1 t0 t1
    t0=$(date +%s.%N)
    "$BIN/flowcollapse" train --downsample --hidden 512,512 --steps "$STEPS" --device "$device" \
        --out "$WORK/train-$device" --format jsonl >"$OUT/train-$device.jsonl"
    t1=$(date +%s.%N)
    tail -1 "$OUT/train-$device.jsonl"
    python3 -c "print('wall_s $device', round($t1 - $t0, 3))" | tee "$WORK/wall-$device"
}
for device in cuda cpu; do
    stage "train-$device" 180 bash -c "set -euo pipefail; BIN='$BIN' WORK='$WORK' OUT='$OUT' STEPS='$STEPS'; $(declare -f train); train $device"
done

# ---- 4: the criterion bench (cuda_train_step, cuda_sgemm) -----------------------------------------------------
stage bench 240 "$BIN/cuda_step" --bench --noplot

# ---- 5: the PyTorch eager peer ---------------------------------------------------------------------------------
if python3 -c "import torch" 2>/dev/null; then
    stage torch 180 bash -c "set -euo pipefail; python3 '$ROOT/benches/peers/cuda_step_torch.py' | tee '$OUT/torch.jsonl'"
else
    echo "=== [torch] skipped: python3 cannot import torch (nothing can be installed on the GPU machine)"
    FAILED+=("torch(missing)")
fi

# ---- 6: the ratios ------------------------------------------------------------------------------------------------
echo "=== [summary]"
timeout 30 python3 - "$CRITERION_HOME" "$OUT" "$WORK" "$ROOT/benches/peers" <<'PY' || FAILED+=("summary")
import json, os, sys
crit, out, work, peers = sys.argv[1:5]
sys.path.insert(0, peers)
from cuda_step_torch import BATCHES, gemm, flops, step_flops, step_products  # no torch needed

def estimate(group, ident):
    path = os.path.join(crit, group, *ident.split("/"), "new", "estimates.json")
    if not os.path.exists(path):
        return None
    return json.load(open(path))

bundle = {}
for dirpath, _, files in os.walk(crit):
    if "estimates.json" in files and os.path.basename(dirpath) == "new":
        ident = os.path.relpath(os.path.dirname(dirpath), crit)
        bundle[ident] = json.load(open(os.path.join(dirpath, "estimates.json")))
json.dump(bundle, open(os.path.join(out, "criterion.json"), "w"), indent=1, sort_keys=True)

torch_lines = []
if os.path.exists(os.path.join(out, "torch.jsonl")):
    for line in open(os.path.join(out, "torch.jsonl")):
        try:
            torch_lines.append(json.loads(line))
        except ValueError:
            pass
walls = {}
for dev in ("cuda", "cpu"):
    p = os.path.join(work, f"wall-{dev}")
    if os.path.exists(p):
        walls[dev] = float(open(p).read().split()[-1])

rows, lines = {"step": [], "gemm": [], "train_wall_s": walls}, []
head = next((l for l in torch_lines if "version" in l), {})
lines.append(f"torch {head.get('version', '-')} on {head.get('device', '-')}, tf32 {head.get('tf32', '-')}")
if walls:
    lines.append("train --downsample --hidden 512,512 wall time: "
                 + ", ".join(f"{d} {s:.1f} s" for d, s in walls.items())
                 + (f" (cpu/cuda {walls['cpu'] / walls['cuda']:.2f}x)" if len(walls) == 2 else ""))
lines.append("")
lines.append(f"{'step':<12}{'ours ms':>10}{'torch ms':>10}  {'torch variant':<22}{'ours/torch':>11}  target <= 0.50")
for b in BATCHES:
    e = estimate("cuda_train_step", f"batch/{b}")
    ours = e["median"]["point_estimate"] * 1e-6 if e else None
    peers_b = [l for l in torch_lines if l.get("what") == "step" and l.get("batch") == b]
    best = min(peers_b, key=lambda l: l["ms"]) if peers_b else None
    ratio = ours / best["ms"] if ours and best else None
    rows["step"].append({"batch": b, "ours_ms": ours, "torch_ms": best and best["ms"],
                         "torch_variant": best and f"adam={best['adam']} sync={best['sync']}", "ratio": ratio,
                         "meets": None if ratio is None else ratio <= 0.5})
    f = lambda x, w=10, p=3: f"{x:>{w}.{p}f}" if x is not None else f"{'-':>{w}}"
    variant = rows["step"][-1]["torch_variant"] or "-"
    verdict = "" if ratio is None else ("  ok" if ratio <= 0.5 else "  MISSED")
    lines.append(f"{'batch ' + str(b):<12}{f(ours)}{f(best and best['ms'])}  {variant:<22}{f(ratio, 11, 2)}{verdict}")
lines.append("")
lines.append(f"{'gemm':<16}{'m x n x k':>18}{'ours GF/s':>11}{'torch GF/s':>11}{'ours/torch':>11}  target >= 0.70")
shapes = [(f"{n}/{b}", g) for b in BATCHES for n, g in step_products(b)]
shapes.append(("square/4096", gemm(4096, 4096, 4096, False, False)))
for ident, g in shapes:
    e = estimate("cuda_sgemm", ident)
    ours = flops(g) / e["median"]["point_estimate"] if e else None
    peer = next((l for l in torch_lines if l.get("what") == "mm" and l.get("id") == ident), None)
    theirs = peer["gflops"] if peer else None
    ratio = ours / theirs if ours and theirs else None
    # The target is on the 8 layer products; the two 16-wide time-embedding ones and 4096^3 are shown only.
    targeted = ident.split("/")[0] not in ("fwd0_t", "dw0_t", "square")
    meets = (ratio >= 0.7) if ratio is not None and targeted else None
    rows["gemm"].append({"id": ident, "m": g["m"], "n": g["n"], "k": g["k"], "ta": g["ta"], "tb": g["tb"],
                         "ours_gflops": ours, "torch_gflops": theirs, "ratio": ratio, "meets": meets})
    f = lambda x, w=11, p=1: f"{x:>{w}.{p}f}" if x is not None else f"{'-':>{w}}"
    verdict = "  (no target)" if not targeted else "" if meets is None else ("  ok" if meets else "  MISSED")
    mnk = f"{g['m']}x{g['n']}x{g['k']}"
    lines.append(f"{ident:<16}{mnk:>18}{f(ours)}{f(theirs)}{f(ratio, 11, 2)}{verdict}")
text = "\n".join(lines)
print(text)
open(os.path.join(out, "summary.txt"), "w").write(text + "\n")
json.dump(rows, open(os.path.join(out, "summary.json"), "w"), indent=1)
PY

echo "=== done in $((SECONDS - START))s; results in $OUT: $(cd "$OUT" && echo *)"
if ((${#FAILED[@]})); then
    echo "stages that failed: ${FAILED[*]}" | tee -a "$OUT/summary.txt"
    exit 1
fi
