#!/usr/bin/env bash
# Tessera's CPU GEMM side by side with OpenBLAS (through numpy) on the DiT-XL/2 shapes, at 1 and 2
# threads, in one run. Prints GF/s for both and the ratio ours / OpenBLAS, once with B packed up
# front (weights are constant, so the engine packs them at load) and once packing B in every call.
#
#   bench/gemm-vs-openblas.sh [--isa native|avx2|128|all] [--seconds S] [--shapes MxKxN,...]
#                             [--threads 1,2] [--variants 'NAME=JVM-OPTS;NAME=JVM-OPTS']   (ROUNDS=3)
#
# --isa restricts both sides to one vector width, a table each (issue 18: most machines are not
# AVX-512): native (this CPU's best; OpenBLAS picks its kernels), avx2 (the JVM under
# -XX:UseAVX=2, OpenBLAS's Haswell kernels) and 128 (-XX:UseAVX=2 -XX:MaxVectorSize=16, OpenBLAS's
# Nehalem SSE kernels); all runs the three. Otherwise numpy runs with OPENBLAS_CORETYPE and
# OPENBLAS_L2_SIZE unset (this machine sets them for old OpenBLAS builds; they slow a current one),
# for that command only. --variants compares settings of ours (e.g. 'kc256=-Dtessera.gemm.kc=256;
# kc512=-Dtessera.gemm.kc=512'): one warm Tessera process each, asked in turn within each shape's
# turn, so they see the same machine as each other and as OpenBLAS; a table each.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
source "$root/bench/vector-widths.sh"
seconds=1
shapes="256x1152x3456,256x1152x4608,256x4608x1152,512x1152x1152,2048x2048x2048"
threads="1,2"
variants="="
isa=native
while [[ $# -gt 0 ]]; do
    case $1 in
        --isa) isa=$2; shift 2 ;;
        --seconds) seconds=$2; shift 2 ;;
        --shapes) shapes=$2; shift 2 ;;
        --threads) threads=$2; shift 2 ;;
        --variants) variants=$2; shift 2 ;;
        -h|--help) sed -n '2,19p' "$0"; exit 0 ;;
        *) echo "gemm-vs-openblas: unknown argument $1 (try --help)" >&2; exit 2 ;;
    esac
done
isas=$(widths_for "$isa" gemm-vs-openblas)
command -v python3 >/dev/null && python3 -c 'import numpy' 2>/dev/null || {
    echo "gemm-vs-openblas: needs python3 with numpy (the OpenBLAS anchor)" >&2; exit 2; }

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

echo "numpy: $(python3 -c 'import numpy; print(numpy.__version__)'); CPU: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)" >&2
"$root/tessera" --version >/dev/null # builds the jars first if they are stale, outside the timing

# This machine's speed drifts (shared cores, frequency) from one second to the next. So the two
# sides alternate shape by shape: one warm numpy process per thread count and one warm Tessera
# process (`tessera bench gemm --serve`) answer one shape at a time, round after round, and each
# side keeps its best round per shape. Both see the machine within seconds of each other.
rounds=${ROUNDS:-3}
measure() { # $1: the restriction
restrict "$1"
echo "== $1: $(TESSERA_JAVA_OPTS="$jvm_opts" "$root/tessera" doctor 2>/dev/null | grep -m1 '^cpu' | sed 's/^cpu *//'); OpenBLAS: ${openblas_coretype:-its own choice}" >&2
CORETYPE=$openblas_coretype JVM_OPTS="$jvm_opts" python3 - "$root/tessera" "$shapes" "$threads" "$seconds" "$rounds" "$tmp" "$variants" <<'PY'
import os, subprocess, sys
tessera, shapes, threads, seconds, rounds, tmp, variants = sys.argv[1:]
shapes, threads = shapes.split(","), [int(t) for t in threads.split(",")]
variants = [v.split("=", 1) for v in variants.split(";") if v.strip()]
if any(len(v) != 2 for v in variants):
    sys.exit("gemm-vs-openblas: --variants is 'NAME=JVM-OPTS;NAME=JVM-OPTS'")

NUMPY = r"""
import sys, time
import numpy as np
seconds = float(sys.argv[1])
for line in sys.stdin:
    m, k, n = (int(x) for x in line.split()[0].lower().split("x"))
    rng = np.random.default_rng(1)
    a = rng.random((m, k), dtype=np.float32)
    b = rng.random((k, n), dtype=np.float32)
    c = np.empty((m, n), dtype=np.float32)
    end = time.perf_counter() + 0.3
    while time.perf_counter() < end:
        np.matmul(a, b, out=c)
    best, end = float("inf"), time.perf_counter() + seconds
    while time.perf_counter() < end:
        t0 = time.perf_counter()
        np.matmul(a, b, out=c)
        best = min(best, time.perf_counter() - t0)
    print(f"{2.0 * m * k * n / best / 1e9:.2f}", flush=True)
"""
def numpy_server(t):
    env = {k: v for k, v in os.environ.items() if k not in ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE")}
    if os.environ.get("CORETYPE"):  # a restricted run: OpenBLAS's kernels of that vector width
        env["OPENBLAS_CORETYPE"] = os.environ["CORETYPE"]
    env.update(OPENBLAS_NUM_THREADS=str(t), OMP_NUM_THREADS=str(t))
    return subprocess.Popen([sys.executable, "-c", NUMPY, seconds], stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, text=True, env=env)

blas = {t: numpy_server(t) for t in threads}
errors = open(f"{tmp}/tessera.err", "w")
def tessera_server(extra):
    env = dict(os.environ, TESSERA_JAVA_OPTS=(os.environ["JVM_OPTS"] + " " + extra).strip())
    return subprocess.Popen([tessera, "bench", "gemm", "--serve", "--seconds", seconds], stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, stderr=errors, text=True, env=env)
ours = [(name, tessera_server(extra)) for name, extra in variants]
def ask(proc, line):
    proc.stdin.write(line + "\n")
    proc.stdin.flush()
    answer = proc.stdout.readline()
    if not answer:
        errors.flush()
        detail = open(f"{tmp}/tessera.err").read().strip() if proc not in blas.values() else ""
        sys.exit(f"gemm-vs-openblas: {proc.args[0]} stopped answering" + (f":\n{detail}" if detail else ""))
    return answer.strip()

with open(f"{tmp}/numpy.csv", "w") as nf, open(f"{tmp}/tessera.csv", "w") as tf:
    for r in range(1, int(rounds) + 1):
        for t in threads:
            print(f"round {r}/{rounds} at {t} thread(s): each shape on OpenBLAS, then on Tessera ...", file=sys.stderr)
            for s in shapes:
                m, k, n = (str(int(x)) for x in s.lower().split("x")) # as Tessera prints them back
                nf.write(f"{m},{k},{n},{t},{ask(blas[t], s)}\n")
                # the variants in turn, starting one further each round, so no one always goes first
                for i in range(len(ours)):
                    name, proc = ours[(i + r - 1) % len(ours)]
                    tf.write(f"{name}," + ask(proc, f"{s} {t}") + "\n")
for p in list(blas.values()) + [proc for _, proc in ours]:
    p.stdin.close()
    p.wait()
PY

echo "== $1"
python3 - "$tmp/numpy.csv" "$tmp/tessera.csv" <<'PY'
import sys
blas, variants = {}, {}
for line in open(sys.argv[1]):
    m, k, n, t, g = line.strip().split(",")
    blas[(m, k, n, t)] = max(blas.get((m, k, n, t), 0.0), float(g))
for line in open(sys.argv[2]):
    name, m, k, n, t, pre, per = line.strip().split(",")
    ours = variants.setdefault(name, {})
    old = ours.get((m, k, n, t), (0.0, 0.0))
    ours[(m, k, n, t)] = (max(old[0], float(pre)), max(old[1], float(per)))
# The targets (0.95 pre-packed, 0.85 per call) are for DiT-XL/2's products; other shapes are shown
# without one.
DIT = {("256", "1152", "3456"), ("256", "1152", "4608"), ("256", "4608", "1152"), ("512", "1152", "1152")}
def table(ours):
    print(f"{'M×K×N':<18} {'thr':>3} {'OpenBLAS':>9} {'prepacked':>9} {'ratio':>6} {'per-call':>9} {'ratio':>6}")
    worst = {True: [9.0, 9.0], False: [9.0, 9.0]}
    for (m, k, n, t), (pre, per) in ours.items():
        b = blas[(m, k, n, t)]
        rp, rc = float(pre) / b, float(per) / b
        w = worst[(m, k, n) in DIT]
        w[0], w[1] = min(w[0], rp), min(w[1], rc)
        print(f"{m + '×' + k + '×' + n:<18} {t:>3} {b:>9.1f} {float(pre):>9.1f} {rp:>6.2f} {float(per):>9.1f} {rc:>6.2f}")
    print("GF/s; ratio = Tessera / OpenBLAS.")
    if worst[True][0] < 9.0:
        print(f"Worst on the DiT shapes: prepacked {worst[True][0]:.2f}, per-call {worst[True][1]:.2f}"
              f" (targets 0.95 and 0.85).")
    if worst[False][0] < 9.0:
        print(f"Worst on the other shapes (no target): prepacked {worst[False][0]:.2f}, per-call {worst[False][1]:.2f}.")
for name, ours in variants.items():
    if name:
        print(f"-- {name}")
    table(ours)
PY
}

for one in $isas; do
    measure "$one"
done
