#!/usr/bin/env bash
# Checks the CUDA-on-CPU harness (cuda_on_cpu.h) and the kernels compiled through it:
#   1. selftest.cpp, normal build (-O2): every harness feature against known results, the 4096 × 256 timing;
#      its failure modes (a barrier after an early return, __syncthreads under launch_independent) must abort;
#   2. selftest.cpp under ThreadSanitizer: zero reports, and the reduction with its barriers deleted
#      (`selftest race`) MUST be reported as a data race (TSan does catch a missing __syncthreads);
#   3. tsan_kernels.cpp (every kernel of shim.cpp on awkward shapes) normal and under ThreadSanitizer:
#      zero reports.
# Usage: kernels/host/check.sh   (from anywhere; needs g++ ≥ 12 with libtsan). Exit 0 when all pass.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
kernels="$(dirname "$here")"
cxx="${CXX:-g++}"
work="$(mktemp -d "${TMPDIR:-/tmp}/fc-shim-check.XXXXXX")"
trap 'rm -rf "$work"' EXIT

flags=(-std=c++20 -fno-fast-math -ffp-contract=off -pthread -Wall -Wextra -I "$kernels")
tsan_flags=(-fsanitize=thread -O1 -g)
export TSAN_OPTIONS="halt_on_error=1 second_deadlock_stack=1 ${TSAN_OPTIONS:-}"

fail() { echo "check.sh: FAIL: $*" >&2; exit 1; }
step() { echo "== $*"; }

# Runs a TSan binary; if the runtime cannot map its shadow memory under this kernel's ASLR setting
# (vm.mmap_rnd_bits too large: "unexpected memory mapping"), runs it again without ASLR.
run_tsan() {
    local log="$work/tsan.log" rc=0
    "$@" >"$log" 2>&1 || rc=$?
    if grep -q -e "unexpected memory mapping" -e "FATAL: ThreadSanitizer" "$log"; then
        echo "(TSan could not start under ASLR; rerunning with setarch $(uname -m) -R)"
        rc=0
        setarch "$(uname -m)" -R "$@" >"$log" 2>&1 || rc=$?
    fi
    cat "$log"
    return "$rc"
}

# Expects "$@" to abort with a message containing $pattern.
expect_abort() {
    local pattern="$1" rc=0
    shift
    "$@" >"$work/abort.log" 2>&1 || rc=$?
    [ "$rc" -ne 0 ] || fail "$* exited 0; expected an abort with '$pattern'"
    grep -q -- "$pattern" "$work/abort.log" || { cat "$work/abort.log"; fail "$*: no '$pattern' in its output"; }
    echo "aborted as expected: $(grep -m1 -- "$pattern" "$work/abort.log" | cut -c1-160)"
}

step "build selftest (-O2)"
"$cxx" "${flags[@]}" -O2 "$here/selftest.cpp" -o "$work/selftest"
step "run selftest"
"$work/selftest" || fail "selftest"
step "selftest race (no barriers; the normal build may or may not give 256 256 256)"
"$work/selftest" race
step "selftest diverge / independent (must abort)"
expect_abort "barrier mismatch" "$work/selftest" diverge
expect_abort "launch_independent" "$work/selftest" independent

step "build selftest (ThreadSanitizer)"
"$cxx" "${flags[@]}" "${tsan_flags[@]}" "$here/selftest.cpp" -o "$work/selftest_tsan"
step "run selftest under TSan (zero reports)"
FC_SELFTEST_TSAN=1 run_tsan "$work/selftest_tsan" || fail "selftest under ThreadSanitizer"
step "selftest race under TSan (must report a data race)"
rc=0
run_tsan "$work/selftest_tsan" race >"$work/race.log" 2>&1 || rc=$?
grep -q "WARNING: ThreadSanitizer: data race" "$work/race.log" || { cat "$work/race.log"; fail "TSan missed the deleted barriers"; }
[ "$rc" -ne 0 ] || fail "selftest race under TSan exited 0"
grep -m1 -A1 "WARNING: ThreadSanitizer" "$work/race.log"
grep -m1 "SUMMARY" "$work/race.log"

step "build and run tsan_kernels (-O2)"
"$cxx" "${flags[@]}" -O2 "$here/tsan_kernels.cpp" -o "$work/tsan_kernels"
"$work/tsan_kernels" || fail "tsan_kernels"
step "build and run tsan_kernels under TSan (zero reports)"
"$cxx" "${flags[@]}" "${tsan_flags[@]}" "$here/tsan_kernels.cpp" -o "$work/tsan_kernels_tsan"
run_tsan "$work/tsan_kernels_tsan" || fail "tsan_kernels under ThreadSanitizer"

echo "check.sh: all harness checks passed"
