#!/usr/bin/env bash
# The GEMM register kernel alone, reading A from the heap array, through a segment view and
# pre-broadcast, at 4, 5, 6 and 12 rows (and 3 and 4 rows three vectors wide), under -XX:UseAVX=2,
# with 128-bit vectors and at the machine's own width (issue 18; see bench/kernel-broadcast/org/tessera/engine/cpu/KernelBroadcast.java).
# One thread, ~20 s per width.
#   bench/kernel-broadcast.sh [--isa native|avx2|128|all] [--only 'TEXT|TEXT']
# --only times only the variants whose names hold one of the texts (and the engine's own kernel);
# KERNEL_BENCH_OPTS adds JVM options (bench/emitted-code.sh prints the compiled code this way).
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
source "$root/scripts/find-jdk.sh"
source "$root/bench/vector-widths.sh"
isa=all only=""
while [[ $# -gt 0 ]]; do
    case $1 in
        --isa) isa=$2; shift 2 ;;
        --only) only=$2; shift 2 ;;
        *) echo "kernel-broadcast.sh: unknown option $1 (see the header of this script)" >&2; exit 2 ;;
    esac
done
widths=$(widths_for "$isa" kernel-broadcast.sh)
"$root/tessera" --version >/dev/null # builds the jars first if they are stale
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
"$JAVA_HOME/bin/javac" --add-modules jdk.incubator.vector -nowarn -cp "$root/cli/target/lib/*" -d "$out" \
    "$root/bench/kernel-broadcast/org/tessera/engine/cpu/KernelBroadcast.java" 2> >(grep -v 'incubator\|^1 warning' >&2)
for width in $widths; do
    restrict "$width"
    # shellcheck disable=SC2086 # the flags are words
    "$JAVA_HOME/bin/java" --add-modules jdk.incubator.vector $jvm_opts ${KERNEL_BENCH_OPTS:-} \
        -cp "$out:$root/cli/target/lib/*" org.tessera.engine.cpu.KernelBroadcast "$only" \
        2> >(grep -v 'incubator modules' >&2)
done
