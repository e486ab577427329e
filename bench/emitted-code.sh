#!/usr/bin/env bash
# The innermost loop C2 emits for GEMM register kernels, decoded (issue 18): runs
# bench/kernel-broadcast.sh's broadcast kernels once under the given width with -XX:CompileCommand=print and
# decodes each method's last C2 compile with objdump (bench/emitted_code.py). Shows each loop's
# instruction count, its multiply-adds and its stack accesses (a spilled accumulator).
#   bench/emitted-code.sh [avx2|128|native] [Class::method ...]
# (default: avx2; the engine's 4-row kernel, and the 6-row one through a segment view, as the engine
# runs it with 128-bit vectors, and from the array, as bench/kernel-broadcast.sh has it.)
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
command -v objdump >/dev/null || { echo "emitted-code.sh: needs objdump (apt-get install binutils)" >&2; exit 1; }
width=${1:-avx2}
shift || true
methods=("$@")
if [[ ${#methods[@]} -eq 0 ]]; then
    methods=(org.tessera.engine.cpu.GemmKernel::kernelRows4 org.tessera.engine.cpu.KernelBroadcast::segmentBroadcast6
        org.tessera.engine.cpu.KernelBroadcast::arrayBroadcast6)
fi
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
prints="-XX:+UnlockDiagnosticVMOptions -XX:CompileCommand=quiet"
for m in "${methods[@]}"; do prints+=" -XX:CompileCommand=print,$m"; done
KERNEL_BENCH_OPTS="$prints" "$root/bench/kernel-broadcast.sh" --isa "$width" \
    --only "broadcast from the array|broadcast through a segment" > "$out/log" 2>&1
grep 'GF/s' "$out/log"
for m in "${methods[@]}"; do
    echo
    python3 "$root/bench/emitted_code.py" "$out/log" "${m##*.}" --loop || true
done
