#!/usr/bin/env bash
# The SD VAE's decode (32×32×4 → 256×256×3) and encode (256×256×3 → 32×32×8) with random weights,
# Tessera (`tessera bench`: the best forward of RUNS) against PyTorch on the same threads
# (Debian's python3-torch; its convolutions run in oneDNN), in one run. Issue 15 item 7. Tessera
# runs twice, with its 3×3 convolutions by Winograd's F(2×2, 3×3) (the default) and all by im2col
# (-Dtessera.conv.winograd=false). ROUNDS (default 2) alternate the three, each keeping its best,
# because this machine's speed drifts within a run.
#   bench/vae-vs-pytorch.sh [THREADS] [RUNS]
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
threads=${1:-2}
runs=${2:-5}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
/usr/bin/python3 - "$work" "$root" <<'PY'
import sys, torch
sys.path.insert(0, sys.argv[2] + "/runtime/src/test/python")
from latte_golden import save
torch.manual_seed(0)
save(sys.argv[1] + "/in.safetensors", {"z": torch.randn(1, 4, 32, 32), "x": torch.rand(1, 3, 256, 256) * 2 - 1})
PY
declare -A ms
best() { python3 -c "import sys; print(min(float(a) for a in sys.argv[1:] if a))" "$@"; }
for round in $(seq "${ROUNDS:-2}"); do
    for run in decode encode; do
        input=$([[ $run == decode ]] && echo z || echo x)
        cat >"$work/$run.tess" <<TESS
import "vae.tess"
pipeline sd_vae_$run {
    model   = SdVae(run = "$run")
    weights = random(seed = 0, std = 0.02)
    inputs  = load("in.safetensors", $input = "$input")
    output "out.safetensors" = tensors(out)
}
TESS
        for conv in winograd im2col; do
            opts=$([[ $conv == im2col ]] && echo -Dtessera.conv.winograd=false || true)
            TESSERA_JAVA_OPTS="${TESSERA_JAVA_OPTS:-} $opts" \
                "$root/tessera" bench "$work/$run.tess" --threads "$threads" --runs "$runs" >"$work/log" 2>&1
            echo "round $round, $run, Tessera ($conv):" >&2
            grep -E '^forward:|conv2d' "$work/log" | head -3 >&2
            key=$run,$conv
            ms[$key]=$(best "${ms[$key]:-}" "$(grep '^forward:' "$work/log" | sed -E 's/.* ([0-9.]+) ms best.*/\1/')")
        done
    done
    /usr/bin/python3 "$root/bench/vae_pytorch.py" "$threads" "$runs" >"$work/torch-$round"
    cat "$work/torch-$round" >&2
done
echo "run,threads,tessera_ms,tessera_im2col_ms,pytorch_ms,ratio"
for run in decode encode; do
    torch_ms=$(best $(grep -h "^$run," "$work"/torch-* | cut -d, -f3))
    python3 -c "print(f'$run,$threads,${ms[$run,winograd]},${ms[$run,im2col]},$torch_ms,{${ms[$run,winograd]} / $torch_ms:.2f}')"
done
