#!/usr/bin/env python3
"""Does a trained DiT use where its tokens are? Its denoising loss on real images, with its sin-cos
position table as trained and with the table shuffled among the tokens (every token keeps a valid
position, but not its own), at four noise levels, and with attention switched off for scale.

A model that relies on positions loses much when they are shuffled (the Fashion DiT: 1.7 to 3.9
times its loss); one that has learnt to ignore them barely notices, and draws patch-sized fragments,
each patch plausible but none placed (samples/moving-mnist-frames-train.tess tells the story).

    /usr/bin/python3 bench/position-shuffle.py samples/fashion-dit.safetensors --data fashion --size 32 --patch 4
    /usr/bin/python3 bench/position-shuffle.py train-out/dit.checkpoint.safetensors --prefix ema. --data moving-mnist \\
        --size 64 --patch 8
    /usr/bin/python3 bench/position-shuffle.py train-out/dit.checkpoint.safetensors --prefix model. --data moving-mnist \\
        --size 32 --patch 4 --frame 64 --predicts v

(--frame 64: Moving MNIST frames made at 64×64 and area-averaged to --size, as moving_mnist(..., frame = 64)
trains; --predicts v: a v-prediction model, whose output is turned into ε, ε = √ᾱ·v + √(1 − ᾱ)·x_t, so that
the losses compare.)

The forward is DiT's, written with plain PyTorch operations (runtime/src/test/python/latte_golden.py's
blocks); the loss is ‖ε − ε_θ(x_t, t, ∅)‖² over 64 images, the linear(1000) schedule, unconditional.
"""
import argparse
import gzip
import json
import os
import struct
import sys

import numpy as np
import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "runtime", "src", "test", "python"))
import latte_golden as L  # noqa: E402


def load(path, prefix):
    with open(path, "rb") as f:
        n = struct.unpack("<Q", f.read(8))[0]
        header = json.loads(f.read(n))
        data = f.read()
    out = {}
    for k, v in header.items():
        if k == "__metadata__" or not k.startswith(prefix) or v["dtype"] != "F32":
            continue
        a, b = v["data_offsets"]
        out[k[len(prefix):]] = torch.from_numpy(np.frombuffer(data[a:b], dtype=np.float32).reshape(v["shape"]).copy())
    if not out:
        sys.exit(f"{path}: no F32 tensors named {prefix}*")
    return out


def idx_images(path):
    raw = (gzip.open if path.endswith(".gz") else open)(path, "rb").read()
    return np.frombuffer(raw[16:], np.uint8).reshape(-1, 28, 28)


def images(kind, size, n, rng, frame=None):
    if frame:  # made at frame × frame, then each (frame/size)² block averaged
        k = frame // size
        return images(kind, frame, n, rng).reshape(n, 1, size, k, size, k).mean((3, 5))
    out = np.zeros((n, size, size), np.float32)
    if kind == "fashion":  # padded to the size, as fashion-dit-train.tess's idx(..., pad) does
        digits = idx_images("/usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz")
        pad = (size - 28) // 2
        for i in range(n):
            out[i, pad:pad + 28, pad:pad + 28] = digits[rng.integers(len(digits))] / 255.0
    else:  # a Moving MNIST frame: two digits anywhere, overlapping by their maximum
        digits = idx_images("/usr/share/datasets/mnist/train-images-idx3-ubyte")
        for i in range(n):
            for _ in range(2):
                r, c = rng.integers(0, size - 27, 2)
                out[i, r:r + 28, c:c + 28] = np.maximum(out[i, r:r + 28, c:c + 28], digits[rng.integers(len(digits))] / 255.0)
    return torch.from_numpy(out * 2 - 1).unsqueeze(1)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("weights")
    ap.add_argument("--prefix", default="", help="a training checkpoint's 'ema.' or 'model.'")
    ap.add_argument("--data", choices=["fashion", "moving-mnist"], required=True)
    ap.add_argument("--size", type=int, required=True)
    ap.add_argument("--patch", type=int, required=True)
    ap.add_argument("--heads", type=int, default=6)
    ap.add_argument("--frame", type=int, help="make Moving MNIST frames at this side and shrink them to --size")
    ap.add_argument("--predicts", choices=["eps", "v"], default="eps")
    args = ap.parse_args()
    torch.set_num_threads(2)
    w = load(args.weights, args.prefix)
    d = w["x_embedder.proj.bias"].shape[0]
    depth = len({k.split(".")[1] for k in w if k.startswith("blocks.")})
    p, g = args.patch, args.size // args.patch
    abar = torch.cumprod(1 - torch.linspace(1e-4, 0.02, 1000, dtype=torch.float64), 0).float()
    table = torch.from_numpy(L.sincos_2d(d, g)).float().unsqueeze(0)
    shuffled = table[:, torch.randperm(g * g, generator=torch.Generator().manual_seed(0))]
    no_attention = dict(w)
    for i in range(depth):
        no_attention[f"blocks.{i}.attn.proj.weight"] = torch.zeros_like(w[f"blocks.{i}.attn.proj.weight"])
        no_attention[f"blocks.{i}.attn.proj.bias"] = torch.zeros_like(w[f"blocks.{i}.attn.proj.bias"])

    def eps(x, t, pos, weights):
        n = x.shape[0]
        h = F.conv2d(x, weights["x_embedder.proj.weight"], weights["x_embedder.proj.bias"], stride=p)
        h = h.flatten(2).transpose(1, 2) + pos
        null = torch.full((n,), weights["y_embedder.embedding_table.weight"].shape[0] - 1)
        c = L.linear(F.silu(L.linear(L.timestep_embedding(t), weights, "t_embedder.mlp.0")), weights, "t_embedder.mlp.2")
        c = c + weights["y_embedder.embedding_table.weight"][null]
        for i in range(depth):
            h = L.block(h, c, weights, i, args.heads)
        shift, scale = L.linear(F.silu(c), weights, "final_layer.adaLN_modulation.1").chunk(2, dim=1)
        h = L.linear(L.modulate(F.layer_norm(h, (d,), eps=1e-6), shift, scale), weights, "final_layer.linear")
        out = h[..., :p * p].reshape(n, g, g, p, p, 1).permute(0, 5, 1, 3, 2, 4).reshape(n, 1, args.size, args.size)
        if args.predicts == "v":  # ε = √ᾱ·v + √(1 − ᾱ)·x_t
            out = abar[t].sqrt().view(-1, 1, 1, 1) * out + (1 - abar[t]).sqrt().view(-1, 1, 1, 1) * x
        return out

    x0 = images(args.data, args.size, 64, np.random.default_rng(1), args.frame)
    noise = torch.Generator().manual_seed(0)
    print(f"{args.weights}{' (' + args.prefix + ')' if args.prefix else ''}: {depth} blocks of {d}, patch {p},"
          f" {args.data} {args.size}×{args.size}{f' (made at {args.frame})' if args.frame else ''}, predicts {args.predicts}")
    print("| t | loss | positions shuffled | ratio | attention off |")
    print("| --- | --- | --- | --- | --- |")
    with torch.no_grad():
        for t in (50, 200, 500, 800):
            e = torch.randn(x0.shape, generator=noise)
            xt = abar[t].sqrt() * x0 + (1 - abar[t]).sqrt() * e
            ts = torch.full((x0.shape[0],), t)
            ok = F.mse_loss(eps(xt, ts, table, w), e).item()
            shuf = F.mse_loss(eps(xt, ts, shuffled, w), e).item()
            off = F.mse_loss(eps(xt, ts, table, no_attention), e).item()
            print(f"| {t} | {ok:.4f} | {shuf:.4f} | {shuf / ok:.2f} | {off:.4f} |")


if __name__ == "__main__":
    main()
