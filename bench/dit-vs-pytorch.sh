#!/usr/bin/env bash
# The DiT-XL/2 forward (batch 2, 32×32×4 latents, no guidance: 474.8 GFLOP) on Tessera and on
# PyTorch's CPU (Debian's python3-torch, which multiplies with OpenBLAS), on the same threads,
# side by side in one run, under each vector restriction (issue 18). Prints the best and mean
# milliseconds of each and the ratio PyTorch / Tessera (above 1: Tessera is faster).
#
#   bench/dit-vs-pytorch.sh [--isa native|avx2|128|all] [--threads 2] [--runs 3] [--rounds 2]
#
# native: each side at this CPU's best. avx2: the JVM under -XX:UseAVX=2; OpenBLAS's Haswell
# kernels (OPENBLAS_CORETYPE) and PyTorch's own AVX2 kernels (ATEN_CPU_CAPABILITY). 128: the JVM
# under -XX:UseAVX=2 -XX:MaxVectorSize=16; OpenBLAS's Nehalem SSE kernels and PyTorch's default
# (non-AVX) kernels. The sides alternate, --rounds times, each keeping its best and its mean.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
source "$root/bench/vector-widths.sh"
isa=native
threads=2
runs=3
rounds=2
while [[ $# -gt 0 ]]; do
    case $1 in
        --isa) isa=$2; shift 2 ;;
        --threads) threads=$2; shift 2 ;;
        --runs) runs=$2; shift 2 ;;
        --rounds) rounds=$2; shift 2 ;;
        -h|--help) sed -n '2,12p' "$0"; exit 0 ;;
        *) echo "dit-vs-pytorch: unknown argument $1 (try --help)" >&2; exit 2 ;;
    esac
done
isas=$(widths_for "$isa" dit-vs-pytorch)
if ! /usr/bin/python3 -c 'import torch' 2>/dev/null; then
    echo "dit-vs-pytorch: PyTorch is not installed for /usr/bin/python3 (apt install python3-torch libopenblas0-pthread)" >&2
    exit 1
fi
"$root/tessera" --version >/dev/null # builds the jars first if they are stale, outside the timing

summary=()
for one in $isas; do
    restrict "$one"
    echo "== $one: $(TESSERA_JAVA_OPTS="$jvm_opts" "$root/tessera" doctor 2>/dev/null | grep -m1 '^cpu' | sed 's/^cpu *//')" >&2
    tBest="" tMeans=() pBest="" pMeds=()
    for ((round = 1; round <= rounds; round++)); do
        line=$(TESSERA_JAVA_OPTS="$jvm_opts" "$root/tessera" bench "$root/samples/dit-xl-2-random.tess" \
            --set guidance=none --runs "$runs" --threads "$threads" 2>&1 | grep '^forward:')
        # forward: 1692.5 ms mean, 1612.7 ms best, ...
        mean=$(sed -E 's/^forward: ([0-9.]+) ms mean.*/\1/' <<<"$line")
        best=$(sed -E 's/.* ([0-9.]+) ms best.*/\1/' <<<"$line")
        tMeans+=("$mean")
        tBest=$(python3 -c "print(min(x for x in [$best, ${tBest:-1e9}]))")
        csv=$(env -u OPENBLAS_L2_SIZE -u OPENBLAS_CORETYPE ${openblas_coretype:+OPENBLAS_CORETYPE=$openblas_coretype} ${aten_capability:+ATEN_CPU_CAPABILITY=$aten_capability} \
            /usr/bin/python3 "$root/bench/dit_pytorch.py" --device cpu --threads "$threads" --batch 2 \
            --precision fp32 --runs "$runs" 2>/dev/null | tail -1)
        # cpu,fp32,2,2,median_ms,min_ms
        pMeds+=("$(cut -d, -f5 <<<"$csv")")
        pBest=$(python3 -c "print(min(x for x in [$(cut -d, -f6 <<<"$csv"), ${pBest:-1e9}]))")
        echo "  round $round: Tessera $best ms best ($mean mean); PyTorch $(cut -d, -f6 <<<"$csv") ms best ($(cut -d, -f5 <<<"$csv") median)" >&2
    done
    summary+=("$(python3 - "$one" "$tBest" "$pBest" "${tMeans[*]}" "${pMeds[*]}" <<'PY'
import sys
isa, tb, pb = sys.argv[1], float(sys.argv[2]), float(sys.argv[3])
tm = sum(map(float, sys.argv[4].split())) / len(sys.argv[4].split())
pm = sum(map(float, sys.argv[5].split())) / len(sys.argv[5].split())
print(f"{isa:<8} {tb:9.0f} {tm:9.0f} {pb:9.0f} {pm:9.0f} {pb / tb:7.2f} {pm / tm:7.2f}")
PY
)")
done
echo "DiT-XL/2 forward, batch 2, $threads thread(s), ms (best of all runs; mean of the rounds' means / medians)"
echo "isa      Tessera   (mean)   PyTorch   (mean)   ratio  (means)"
printf '%s\n' "${summary[@]}"
echo "ratio = PyTorch / Tessera: above 1, Tessera is faster."
