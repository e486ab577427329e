#!/usr/bin/env bash
# A training step of samples/fashion-dit-train.tess's DiT in Tessera and in PyTorch on this machine,
# side by side in one run, on the same threads and batch (issue 13, item 7). Needs Fashion-MNIST
# (scripts/install-datasets) and Debian's python3-torch (with libopenblas0-pthread) for
# /usr/bin/python3. Run it alone: a training run in the background halves both figures.
#   bench/train-vs-pytorch.sh [THREADS] [BATCH]
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
threads=${1:-2}
batch=${2:-32}
steps=60
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
"$root/tessera" train "$root/samples/fashion-dit-train.tess" --out "$tmp" --restart --threads "$threads" \
    --set dit.steps=$steps --set dit.batch="$batch" --set dit.checkpoint=$steps 2>"$tmp/log" >/dev/null
# steps/s over steps 2..60 (the first carries the JIT's warm-up), as tessera train reports it
rate=$(grep -o "step $steps/$steps .* \([0-9.]*\) steps/s" "$tmp/log" | sed -E 's/.* ([0-9.]+) steps\/s/\1/')
tessera_ms=$(python3 -c "print(f'{1000 / $rate:.1f}')")
# PyTorch's intra-op threads do the parallel work; OpenBLAS's own threads on top of them
# oversubscribe the cores (measured here: 872 ms at 2 threads against 470 ms with this set).
torch_line=$(OPENBLAS_NUM_THREADS=1 /usr/bin/python3 "$root/bench/train_pytorch.py" --batch "$batch" \
    --threads "$threads" --steps 40 | tail -1)
torch_ms=$(echo "$torch_line" | cut -d, -f4)
echo "framework,batch,threads,ms_per_step"
echo "tessera,$batch,$threads,$tessera_ms"
echo "$(echo "$torch_line" | cut -d, -f1),$batch,$threads,$torch_ms"
python3 -c "print(f'tessera / pytorch step time: {$tessera_ms / $torch_ms:.2f}')"
