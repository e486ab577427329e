#!/usr/bin/env bash
# Factorised against full 3-D attention on one 16-frame clip of 32×32×4 latents (4,096 tokens at
# patch 2), issue 14 item 7: `tessera bench` of Latte-XL/2 (spatial and temporal blocks) and of a
# VideoDiT of the same size attending over all tokens at once, the forward time of each and the
# ratio. One forward is one sampling step without guidance (guidance doubles both). Random
# weights; about 2.7 GB each; minutes on 2 cores.
#   bench/video-attention.sh [THREADS] [RUNS]
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
threads=${1:-2}
runs=${2:-1}
log=$(mktemp)
trap 'rm -f "$log"' EXIT
declare -A ms
for model in latte-xl-2-16f video-dit-xl-2-16f; do
    # the whole bench output to stderr, its forward line kept
    "$root/tessera" bench "$root/bench/$model.tess" --threads "$threads" --runs "$runs" >"$log" 2>&1
    cat "$log" >&2
    ms[$model]=$(grep '^forward:' "$log" | sed -E 's/^forward: ([0-9.]+) ms mean.*/\1/')
done
echo "model,threads,forward_ms"
echo "latte-xl-2 (factorised),$threads,${ms[latte-xl-2-16f]}"
echo "video-dit-xl-2 (full 3-D),$threads,${ms[video-dit-xl-2-16f]}"
python3 -c "print(f'full 3-D / factorised forward time: {${ms[video-dit-xl-2-16f]} / ${ms[latte-xl-2-16f]}:.2f}')"
