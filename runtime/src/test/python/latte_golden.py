"""Reference tensors for the stdlib Latte (dsl/.../stdlib/latte.tess).

Latte's forward as Vchitect/Latte's models/latte.py defines it (class Latte), for each of its
conditionings: extras = 2 (timestep and class), 78 (timestep and a flattened, projected text
embedding; the final layer sees the timestep alone) and 1 (the timestep alone), written here from its semantics with plain PyTorch operations — reshape
and permute where the published code uses einops, conv2d where it uses timm's PatchEmbed — so
that the check does not share our einops or patch-embedding code. A tiny configuration with
every parameter drawn from N(0, 0.05²) (the sin-cos tables as the published code makes them),
in float32 on the CPU.

    /usr/bin/python3 runtime/src/test/python/latte_golden.py runtime/src/test/resources/latte

writes latte_tiny.safetensors (the weights, with the reference state-dict names) and
latte_tiny_reference.safetensors (forward.x, forward.t, forward.y → forward.out) for extras = 2,
(and the same weights as latte_tiny.pt, by torch.save), and the same pair named latte_tiny_text* (forward.text_embedding for y) and latte_tiny_uncond*
for extras = 78 and 1, and latte_tiny_grad_reference.safetensors (forward.x, t, y and r → grad.NAME, the gradients of
Σ r·out for every learned weight). The text embedding is [B, 3, 5] here, not CLIP's [B, 77, 768]: the
published code's 77 · 768 is a parameter of ours (text_tokens, text_dim).
"""
import json
import math
import struct
import sys

import numpy as np
import torch
import torch.nn.functional as F

CONFIG = dict(input_size=8, patch_size=2, in_channels=4, hidden_size=32, depth=4, num_heads=2,
              mlp_ratio=4.0, num_frames=3, num_classes=5, class_dropout_prob=0.1, learn_sigma=True,
              extras=2)
TEXT_TOKENS, TEXT_DIM = 3, 5


def sincos_1d(dim, positions):
    # MAE's get_1d_sincos_pos_embed_from_grid: [sin(p·ω), cos(p·ω)], ω_i = 10000^(−i/(dim/2))
    omega = 1.0 / 10000 ** (np.arange(dim // 2, dtype=np.float64) / (dim / 2.0))
    out = np.outer(positions.reshape(-1).astype(np.float64), omega)
    return np.concatenate([np.sin(out), np.cos(out)], axis=1)


def sincos_2d(dim, grid):
    # MAE's get_2d_sincos_pos_embed: half the width encodes one grid axis, half the other
    w, h = np.meshgrid(np.arange(grid, dtype=np.float32), np.arange(grid, dtype=np.float32))
    return np.concatenate([sincos_1d(dim // 2, w), sincos_1d(dim // 2, h)], axis=1)


def weights(cfg, generator):
    d = cfg["hidden_size"]
    c = cfg["in_channels"]
    p = cfg["patch_size"]
    out = 2 * c if cfg["learn_sigma"] else c
    hidden = int(d * cfg["mlp_ratio"])
    shapes = {
        "x_embedder.proj.weight": (d, c, p, p), "x_embedder.proj.bias": (d,),
        "t_embedder.mlp.0.weight": (d, 256), "t_embedder.mlp.0.bias": (d,),
        "t_embedder.mlp.2.weight": (d, d), "t_embedder.mlp.2.bias": (d,),
        "final_layer.linear.weight": (p * p * out, d), "final_layer.linear.bias": (p * p * out,),
        "final_layer.adaLN_modulation.1.weight": (2 * d, d), "final_layer.adaLN_modulation.1.bias": (2 * d,),
    }
    if cfg["extras"] == 2:
        # (inserted where the class-conditional goldens have always had it: same draws)
        shapes = dict(list(shapes.items())[:6] + [("y_embedder.embedding_table.weight", (cfg["num_classes"] + 1, d))]
                      + list(shapes.items())[6:])
    elif cfg["extras"] == 78:
        shapes["text_embedding_projection.1.weight"] = (d, TEXT_TOKENS * TEXT_DIM)
        shapes["text_embedding_projection.1.bias"] = (d,)
    for i in range(cfg["depth"]):
        b = f"blocks.{i}."
        shapes.update({
            b + "attn.qkv.weight": (3 * d, d), b + "attn.qkv.bias": (3 * d,),
            b + "attn.proj.weight": (d, d), b + "attn.proj.bias": (d,),
            b + "mlp.fc1.weight": (hidden, d), b + "mlp.fc1.bias": (hidden,),
            b + "mlp.fc2.weight": (d, hidden), b + "mlp.fc2.bias": (d,),
            b + "adaLN_modulation.1.weight": (6 * d, d), b + "adaLN_modulation.1.bias": (6 * d,),
        })
    w = {k: torch.randn(s, generator=generator) * 0.05 for k, s in shapes.items()}
    grid = cfg["input_size"] // p
    w["pos_embed"] = torch.from_numpy(sincos_2d(d, grid)).float().unsqueeze(0)
    w["temp_embed"] = torch.from_numpy(sincos_1d(d, np.arange(cfg["num_frames"]))).float().unsqueeze(0)
    return w


def linear(x, w, name):
    return F.linear(x, w[name + ".weight"], w[name + ".bias"])


def modulate(x, shift, scale):
    return x * (1 + scale.unsqueeze(1)) + shift.unsqueeze(1)


def block(x, c, w, i, heads):
    b = f"blocks.{i}."
    shift_msa, scale_msa, gate_msa, shift_mlp, scale_mlp, gate_mlp = linear(F.silu(c), w, b + "adaLN_modulation.1").chunk(6, dim=1)
    n, tokens, d = x.shape
    h = modulate(F.layer_norm(x, (d,), eps=1e-6), shift_msa, scale_msa)
    qkv = linear(h, w, b + "attn.qkv").reshape(n, tokens, 3, heads, d // heads).permute(2, 0, 3, 1, 4)
    q, k, v = qkv[0], qkv[1], qkv[2]
    attn = ((q @ k.transpose(-2, -1)) * (d // heads) ** -0.5).softmax(dim=-1)
    o = (attn @ v).transpose(1, 2).reshape(n, tokens, d)
    x = x + gate_msa.unsqueeze(1) * linear(o, w, b + "attn.proj")
    h = modulate(F.layer_norm(x, (d,), eps=1e-6), shift_mlp, scale_mlp)
    h = linear(F.gelu(linear(h, w, b + "mlp.fc1"), approximate="tanh"), w, b + "mlp.fc2")
    return x + gate_mlp.unsqueeze(1) * h


def timestep_embedding(t, dim=256, max_period=10000):
    half = dim // 2
    freqs = torch.exp(-math.log(max_period) * torch.arange(half, dtype=torch.float32) / half)
    args = t[:, None].float() * freqs[None]
    return torch.cat([torch.cos(args), torch.sin(args)], dim=-1)


def forward(x, t, y, w, cfg):
    """y: class labels (extras = 2), a text embedding [B, tokens, dim] (extras = 78), or None."""
    batch, frames, channels, height, width = x.shape
    p = cfg["patch_size"]
    d = cfg["hidden_size"]
    out_channels = 2 * channels if cfg["learn_sigma"] else channels
    h = F.conv2d(x.reshape(batch * frames, channels, height, width), w["x_embedder.proj.weight"],
                 w["x_embedder.proj.bias"], stride=p)
    h = h.flatten(2).transpose(1, 2) + w["pos_embed"]  # (b f) t d
    tokens = h.shape[1]
    temb = linear(F.silu(linear(timestep_embedding(t), w, "t_embedder.mlp.0")), w, "t_embedder.mlp.2")
    if cfg["extras"] == 2:
        extra = w["y_embedder.embedding_table.weight"][y]
    elif cfg["extras"] == 78:
        extra = linear(F.silu(y.reshape(batch, -1)), w, "text_embedding_projection.1")
    else:
        extra = torch.zeros_like(temb)
    # the published code repeats t and y separately and adds them: the same numbers
    c_spatial = temb.repeat_interleave(frames, dim=0) + extra.repeat_interleave(frames, dim=0)
    c_temporal = temb.repeat_interleave(tokens, dim=0) + extra.repeat_interleave(tokens, dim=0)
    # its final layer sees t + y with classes, t alone otherwise (text included)
    c_final = c_spatial if cfg["extras"] == 2 else temb.repeat_interleave(frames, dim=0)
    for i in range(0, cfg["depth"], 2):
        h = block(h, c_spatial, w, i, cfg["num_heads"])
        h = h.reshape(batch, frames, tokens, d).permute(0, 2, 1, 3).reshape(batch * tokens, frames, d)
        if i == 0:
            h = h + w["temp_embed"]
        h = block(h, c_temporal, w, i + 1, cfg["num_heads"])
        h = h.reshape(batch, tokens, frames, d).permute(0, 2, 1, 3).reshape(batch * frames, tokens, d)
    shift, scale = linear(F.silu(c_final), w, "final_layer.adaLN_modulation.1").chunk(2, dim=1)
    h = linear(modulate(F.layer_norm(h, (d,), eps=1e-6), shift, scale), w, "final_layer.linear")
    g = height // p
    h = h.reshape(batch * frames, g, g, p, p, out_channels).permute(0, 5, 1, 3, 2, 4)
    return h.reshape(batch, frames, out_channels, height, width)


def save(path, tensors, metadata=None):
    header = {}
    blobs = []
    offset = 0
    for name, t in tensors.items():
        t = t.contiguous()
        dtype = {torch.float32: "F32", torch.int64: "I64"}[t.dtype]
        data = t.numpy().tobytes()
        header[name] = {"dtype": dtype, "shape": list(t.shape), "data_offsets": [offset, offset + len(data)]}
        blobs.append(data)
        offset += len(data)
    if metadata:
        header["__metadata__"] = metadata
    raw = json.dumps(header).encode()
    raw += b" " * (-len(raw) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(raw)))
        f.write(raw)
        for b in blobs:
            f.write(b)


def golden(folder, name, cfg, seed):
    generator = torch.Generator().manual_seed(seed)
    w = weights(cfg, generator)
    x = torch.randn(2, cfg["num_frames"], cfg["in_channels"], cfg["input_size"], cfg["input_size"], generator=generator)
    t = torch.tensor([3, 500], dtype=torch.int64)
    inputs = {"forward.x": x, "forward.t": t}
    y = None
    if cfg["extras"] == 2:
        y = inputs["forward.y"] = torch.tensor([1, 4], dtype=torch.int64)
    elif cfg["extras"] == 78:
        y = inputs["forward.text_embedding"] = torch.randn(2, TEXT_TOKENS, TEXT_DIM, generator=generator)
    with torch.no_grad():
        out = forward(x, t, y, w, cfg)
    save(f"{folder}/{name}.safetensors", w, {"config": json.dumps(cfg)})
    if cfg["extras"] == 2:
        # the same weights as torch.save writes them, as a published checkpoint would come
        torch.save(w, f"{folder}/{name}.pt")
    save(f"{folder}/{name}_reference.safetensors", {**inputs, "forward.out": out},
         {"made_by": f"runtime/src/test/python/latte_golden.py, PyTorch {torch.__version__}"})
    print(name, "forward.out", tuple(out.shape), float(out.abs().max()))


def gradient_golden(folder, name, cfg, seed):
    """∂(Σ r·out)/∂w for every learned weight of the class-conditional tiny Latte (the weights and
    inputs of golden(folder, name, cfg, seed)), r drawn from N(0, 1): the backward pass a training
    step takes through the spatial/temporal rearranges, the per-frame and per-position
    conditioning and the temporal table, by PyTorch's autograd."""
    generator = torch.Generator().manual_seed(seed)
    w = weights(cfg, generator)
    x = torch.randn(2, cfg["num_frames"], cfg["in_channels"], cfg["input_size"], cfg["input_size"], generator=generator)
    t = torch.tensor([3, 500], dtype=torch.int64)
    y = torch.tensor([1, 4], dtype=torch.int64)
    fixed = {"pos_embed", "temp_embed"}
    for k, v in w.items():
        v.requires_grad_(k not in fixed)
    out = forward(x, t, y, w, cfg)
    r = torch.randn(out.shape, generator=torch.Generator().manual_seed(seed + 1))
    (out * r).sum().backward()
    grads = {"grad." + k: v.grad for k, v in w.items() if k not in fixed}
    save(f"{folder}/{name}_grad_reference.safetensors",
         {"forward.x": x, "forward.t": t, "forward.y": y, "forward.r": r, **grads},
         {"made_by": f"runtime/src/test/python/latte_golden.py, PyTorch {torch.__version__}"})
    print(name, "gradients of", len(grads), "weights")


def main(folder):
    golden(folder, "latte_tiny", CONFIG, 2026)
    gradient_golden(folder, "latte_tiny", CONFIG, 2026)
    golden(folder, "latte_tiny_text", {**CONFIG, "extras": 78}, 2027)
    golden(folder, "latte_tiny_uncond", {**CONFIG, "extras": 1}, 2028)


if __name__ == "__main__":
    main(sys.argv[1])
