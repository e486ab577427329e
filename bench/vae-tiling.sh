#!/usr/bin/env bash
# Tiled against whole decoding of a 128×128×4 latent into a 1024×1024 image with the SD VAE
# (random weights), issue 15 item 2: the wall time and peak memory (the process's maximum resident
# set, weights and JVM included) of each, and the largest difference between the two images.
# Minutes on 2 cores.
#   bench/vae-tiling.sh [TILE] [OVERLAP] [THREADS]
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
tile=${1:-32}
overlap=${2:-8}
threads=${3:-2}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
for mode in whole tiled; do
    extra=$([[ $mode == tiled ]] && echo ", tile = $tile, overlap = $overlap" || true)
    cat >"$work/$mode.tess" <<TESS
import "dit.tess"
import "vae.tess"
pipeline vae_$mode {
    # a latent to decode: one cheap DDIM step of a tiny random DiT (all that matters is its size)
    let z = sample(model = DiT(input_size = 128, patch_size = 8, in_channels = 4, hidden_size = 32, depth = 1,
                               num_heads = 2, num_classes = 1, learn_sigma = false),
                   weights = random(seed = 1), sampler = ddim(steps = 1), guidance = none, classes = [0])
    let image = decode(z, model = SdVae(run = "decode"), weights = random(seed = 0, std = 0.02)$extra)
    output "image.safetensors" = tensors(image)
}
TESS
    /usr/bin/time -f "%e %M" -o "$work/$mode.time" \
        "$root/tessera" run "$work/$mode.tess" --out "$work/$mode" --threads "$threads" >&2
done
/usr/bin/python3 - "$work" "$tile" "$overlap" <<'PY'
import json, struct, sys
import numpy as np
work, tile, overlap = sys.argv[1], sys.argv[2], sys.argv[3]
def load(path, name):
    with open(path, "rb") as f:
        n = struct.unpack("<Q", f.read(8))[0]
        header = json.loads(f.read(n))
        start, end = header[name]["data_offsets"]
        f.seek(8 + n + start)
        return np.frombuffer(f.read(end - start), dtype=np.float32).reshape(header[name]["shape"])
whole = load(f"{work}/whole/image.safetensors", "image")
tiled = load(f"{work}/tiled/image.safetensors", "image")
t = {m: open(f"{work}/{m}.time").read().split() for m in ("whole", "tiled")}
d = np.abs(whole - tiled)
print("mode,seconds,max_rss_mb")
for m in ("whole", "tiled"):
    print(f"{m},{t[m][0]},{int(t[m][1]) / 1024:.0f}")
print(f"tiled / whole peak memory: {int(t['tiled'][1]) / int(t['whole'][1]):.2f} (tile {tile}, overlap {overlap} latent pixels)")
print(f"image {list(whole.shape)}, values in [{whole.min():.3f}, {whole.max():.3f}]: max |tiled - whole| {d.max():.4f}, mean {d.mean():.5f}")
PY
