#!/usr/bin/env bash
# The SD VAE's decode (32×32×4 → 256×256×3) and encode (256×256×3 → 32×32×8) with random weights,
# Tessera (`tessera bench`: the best forward of RUNS) against PyTorch on the same threads
# (Debian's python3-torch; its convolutions run in oneDNN), in one run. Issue 15 item 7.
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
    "$root/tessera" bench "$work/$run.tess" --threads "$threads" --runs "$runs" >"$work/log" 2>&1
    cat "$work/log" >&2
    ms[$run]=$(grep '^forward:' "$work/log" | sed -E 's/.* ([0-9.]+) ms best.*/\1/')
done
/usr/bin/python3 "$root/bench/vae_pytorch.py" "$threads" "$runs" >"$work/torch"
echo "run,threads,tessera_ms,pytorch_ms,ratio"
for run in decode encode; do
    torch_ms=$(grep "^$run," "$work/torch" | cut -d, -f3)
    python3 -c "print(f'$run,$threads,${ms[$run]},$torch_ms,{${ms[$run]} / $torch_ms:.2f}')"
done
