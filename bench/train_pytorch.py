#!/usr/bin/env python3
"""PyTorch's side of the training-step comparison (issue 13): steps of L_simple on the DiT of
samples/fashion-dit-train.tess (32×32×1, patch 4, hidden 192, depth 6, 6 heads, 10 classes),
timed on this machine. Each step is what `tessera train` does: uniform timesteps, x_t noised,
the model's first channel against ε by mean squared error, backward, gradients clipped to norm
1, AdamW (lr 3e-4, no decay), an EMA of the weights (0.999). Random data: the time does not
depend on it. Prints one CSV line:

    framework,batch,threads,median_ms,min_ms

    bench/train_pytorch.py --batch 32 --threads 2 --steps 40
"""
import argparse
import copy
import os
import statistics
import sys
import time

import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from dit_pytorch import DiT  # noqa: E402  (the same architecture as the forward comparison)


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--batch", type=int, default=32)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--steps", type=int, default=40)
    p.add_argument("--warmup", type=int, default=5)
    a = p.parse_args()
    torch.manual_seed(0)
    torch.set_num_threads(a.threads)
    model = DiT(input_size=32, patch=4, in_channels=1, hidden=192, depth=6, heads=6, classes=10)
    ema = copy.deepcopy(model).requires_grad_(False)
    opt = torch.optim.AdamW(model.parameters(), lr=3e-4, weight_decay=0.0)
    betas = torch.linspace(1e-4, 0.02, 1000, dtype=torch.float64)
    alpha_bar = torch.cumprod(1 - betas, 0).float()
    x0 = torch.rand(a.batch, 1, 32, 32) * 2 - 1
    y = torch.randint(0, 10, (a.batch,))

    def step():
        t = torch.randint(0, 1000, (a.batch,))
        noise = torch.randn_like(x0)
        ab = alpha_bar[t].view(-1, 1, 1, 1)
        xt = ab.sqrt() * x0 + (1 - ab).sqrt() * noise
        loss = F.mse_loss(model(xt, t, y)[:, :1], noise)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        with torch.no_grad():
            for e, w in zip(ema.parameters(), model.parameters()):
                e.lerp_(w, 1 - 0.999)

    times = []
    for i in range(a.warmup + a.steps):
        start = time.perf_counter()
        step()
        if i >= a.warmup:
            times.append((time.perf_counter() - start) * 1000)
    print("framework,batch,threads,median_ms,min_ms")
    print(f"pytorch-{torch.__version__},{a.batch},{a.threads},{statistics.median(times):.1f},{min(times):.1f}")


if __name__ == "__main__":
    main()
