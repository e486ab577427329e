#!/usr/bin/env python3
"""PyTorch's side of the DiT-XL/2 comparison: the same architecture, timed on the same machine.

DiT as facebookresearch/DiT defines it (adaLN-Zero blocks, fixed 2-D sin-cos positions,
learned sigma), written here in plain PyTorch so that nothing but torch is needed. Weights are
random unless --weights names a safetensors checkpoint with the reference key names (the
timing does not depend on the values). Prints one CSV line per configuration:

    device,precision,batch,threads,median_ms,min_ms

    bench/dit_pytorch.py --device cuda --batch 2,8,32 --precision fp32,tf32,bf16
    bench/dit_pytorch.py --device cpu --threads 16,2 --batch 2
"""
import argparse
import math
import statistics
import time

import torch
import torch.nn.functional as F
from torch import nn


def timestep_embedding(t, dim, max_period=10000):
    half = dim // 2
    freqs = torch.exp(-math.log(max_period) * torch.arange(half, dtype=torch.float32, device=t.device) / half)
    args = t[:, None].float() * freqs[None]
    return torch.cat([torch.cos(args), torch.sin(args)], dim=-1)


def attention(q, k, v):
    """softmax(q·kᵀ/√d)·v: PyTorch 2's fused kernel where there is one, else the plain form
    (Debian's python3-torch is 1.13)."""
    if hasattr(F, "scaled_dot_product_attention"):
        return F.scaled_dot_product_attention(q, k, v)
    return torch.softmax(q @ k.transpose(-2, -1) / math.sqrt(q.shape[-1]), dim=-1) @ v


def modulate(x, shift, scale):
    return x * (1 + scale.unsqueeze(1)) + shift.unsqueeze(1)


class Block(nn.Module):
    def __init__(self, hidden, heads):
        super().__init__()
        self.heads = heads
        self.norm1 = nn.LayerNorm(hidden, elementwise_affine=False, eps=1e-6)
        self.attn = nn.Module()
        self.attn.qkv = nn.Linear(hidden, 3 * hidden)
        self.attn.proj = nn.Linear(hidden, hidden)
        self.norm2 = nn.LayerNorm(hidden, elementwise_affine=False, eps=1e-6)
        self.mlp = nn.Module()
        self.mlp.fc1 = nn.Linear(hidden, 4 * hidden)
        self.mlp.fc2 = nn.Linear(4 * hidden, hidden)
        self.adaLN_modulation = nn.Sequential(nn.SiLU(), nn.Linear(hidden, 6 * hidden))

    def forward(self, x, c):
        shift_msa, scale_msa, gate_msa, shift_mlp, scale_mlp, gate_mlp = self.adaLN_modulation(c).chunk(6, dim=1)
        b, n, d = x.shape
        h = modulate(self.norm1(x), shift_msa, scale_msa)
        q, k, v = self.attn.qkv(h).reshape(b, n, 3, self.heads, d // self.heads).permute(2, 0, 3, 1, 4)
        a = attention(q, k, v).transpose(1, 2).reshape(b, n, d)
        x = x + gate_msa.unsqueeze(1) * self.attn.proj(a)
        h = modulate(self.norm2(x), shift_mlp, scale_mlp)
        x = x + gate_mlp.unsqueeze(1) * self.mlp.fc2(F.gelu(self.mlp.fc1(h), approximate="tanh"))
        return x


class DiT(nn.Module):
    def __init__(self, input_size=32, patch=2, in_channels=4, hidden=1152, depth=28, heads=16, classes=1000):
        super().__init__()
        self.patch, self.in_channels, self.out_channels = patch, in_channels, 2 * in_channels
        self.grid = input_size // patch
        self.x_embedder = nn.Module()
        self.x_embedder.proj = nn.Conv2d(in_channels, hidden, patch, stride=patch)
        self.t_embedder = nn.Module()
        self.t_embedder.mlp = nn.Sequential(nn.Linear(256, hidden), nn.SiLU(), nn.Linear(hidden, hidden))
        self.y_embedder = nn.Module()
        self.y_embedder.embedding_table = nn.Embedding(classes + 1, hidden)
        self.register_buffer("pos_embed", torch.zeros(1, self.grid * self.grid, hidden))
        self.blocks = nn.ModuleList(Block(hidden, heads) for _ in range(depth))
        self.final_layer = nn.Module()
        self.final_layer.norm_final = nn.LayerNorm(hidden, elementwise_affine=False, eps=1e-6)
        self.final_layer.linear = nn.Linear(hidden, patch * patch * self.out_channels)
        self.final_layer.adaLN_modulation = nn.Sequential(nn.SiLU(), nn.Linear(hidden, 2 * hidden))

    def forward(self, x, t, y):
        x = self.x_embedder.proj(x).flatten(2).transpose(1, 2) + self.pos_embed
        c = self.t_embedder.mlp(timestep_embedding(t, 256)) + self.y_embedder.embedding_table(y)
        for block in self.blocks:
            x = block(x, c)
        shift, scale = self.final_layer.adaLN_modulation(c).chunk(2, dim=1)
        x = self.final_layer.linear(modulate(self.final_layer.norm_final(x), shift, scale))
        b, p, g, o = x.shape[0], self.patch, self.grid, self.out_channels
        x = x.reshape(b, g, g, p, p, o).permute(0, 5, 1, 3, 2, 4)
        return x.reshape(b, o, g * p, g * p)


def load_weights(model, path):
    from safetensors.torch import load_file  # only needed with --weights
    state = load_file(path)
    missing, unexpected = model.load_state_dict(state, strict=False)
    if missing or unexpected:
        raise SystemExit(f"dit_pytorch: {path}: missing {missing[:5]}, unexpected {unexpected[:5]}")


def time_ms(fn, device, runs):
    for _ in range(3):
        fn()
    times = []
    for _ in range(runs):
        if device == "cuda":
            start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
            torch.cuda.synchronize()
            start.record()
            fn()
            end.record()
            torch.cuda.synchronize()
            times.append(start.elapsed_time(end))
        else:
            t0 = time.perf_counter()
            fn()
            times.append((time.perf_counter() - t0) * 1e3)
    return statistics.median(times), min(times)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--device", default="cuda", choices=["cuda", "cpu"])
    ap.add_argument("--batch", default="2,8,32")
    ap.add_argument("--precision", default="fp32,tf32,bf16")
    ap.add_argument("--threads", default="0", help="CPU threads, comma-separated (0 = torch's default)")
    ap.add_argument("--runs", type=int, default=10)
    ap.add_argument("--compile", action="store_true", help="also time torch.compile (tf32)")
    ap.add_argument("--weights", help="a DiT-XL/2 safetensors checkpoint (reference key names)")
    args = ap.parse_args()

    torch.manual_seed(0)
    model = DiT().to(args.device).eval()
    if args.weights:
        load_weights(model, args.weights)
    print("device,precision,batch,threads,median_ms,min_ms", flush=True)
    for threads in [int(x) for x in args.threads.split(",")]:
        if args.device == "cpu" and threads > 0:
            torch.set_num_threads(threads)
        for batch in [int(x) for x in args.batch.split(",")]:
            x = torch.randn(batch, 4, 32, 32, device=args.device)
            t = torch.randint(0, 1000, (batch,), device=args.device).float()
            y = torch.randint(0, 1000, (batch,), device=args.device)
            for precision in args.precision.split(","):
                if args.device == "cpu" and precision != "fp32":
                    continue
                tf32 = precision == "tf32"
                torch.backends.cuda.matmul.allow_tf32 = tf32
                torch.backends.cudnn.allow_tf32 = tf32

                def forward():
                    with torch.no_grad(), torch.autocast(args.device, dtype=torch.bfloat16, enabled=precision == "bf16"):
                        return model(x, t, y)

                med, best = time_ms(forward, args.device, args.runs)
                print(f"{args.device},{precision},{batch},{torch.get_num_threads()},{med:.2f},{best:.2f}", flush=True)
            if args.compile and args.device == "cuda":
                torch.backends.cuda.matmul.allow_tf32 = True
                compiled = torch.compile(model)

                def forward_compiled():
                    with torch.no_grad():
                        return compiled(x, t, y)

                med, best = time_ms(forward_compiled, args.device, args.runs)
                print(f"cuda,tf32-compile,{batch},{torch.get_num_threads()},{med:.2f},{best:.2f}", flush=True)


if __name__ == "__main__":
    main()
