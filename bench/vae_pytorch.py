"""PyTorch's time for the SD VAE (sd-vae-ft-ema's architecture, random weights) at 256×256:
decode of a 32×32×4 latent and encode of a 256×256 image, best of RUNS after a warm-up, on THREADS
threads. The forward is runtime/src/test/python/vae_golden.py's (F.conv2d, F.group_norm, ...: what
diffusers' AutoencoderKL computes), so both engines run the same layers.

    /usr/bin/python3 bench/vae_pytorch.py THREADS RUNS
"""
import os
import sys
import time

import torch

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "runtime", "src", "test", "python"))
import vae_golden as vae  # noqa: E402

threads = int(sys.argv[1]) if len(sys.argv) > 1 else 2
runs = int(sys.argv[2]) if len(sys.argv) > 2 else 3
torch.set_num_threads(threads)
cfg = dict(in_channels=3, out_channels=3, block_out_channels=[128, 256, 512, 512], layers_per_block=2,
           norm_num_groups=32, latent_channels=4)
w = {k: t * 0.2 for k, t in vae.weights(cfg, torch.Generator().manual_seed(0)).items()}
z = torch.randn(1, 4, 32, 32)
x = torch.rand(1, 3, 256, 256) * 2 - 1
with torch.no_grad():
    for name, f, a in (("decode", vae.decode, z), ("encode", vae.encode, x)):
        f(a, w, cfg)
        times = []
        for _ in range(runs):
            t0 = time.perf_counter()
            f(a, w, cfg)
            times.append(time.perf_counter() - t0)
        print(f"{name},{threads},{min(times) * 1e3:.1f}")
