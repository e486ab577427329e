"""Reference tensors for the stdlib AutoencoderKL (dsl/.../stdlib/vae.tess).

diffusers' AutoencoderKL (models/autoencoders/autoencoder_kl.py, with the Encoder and Decoder of
vae.py: DownEncoderBlock2D / UpDecoderBlock2D, ResnetBlock2D without a time embedding, the
UNetMidBlock2D with one single-head Attention) written here from its semantics with plain PyTorch
functions — diffusers is not installed here, and the check should not share our code anyway. A tiny
configuration (block_out_channels [8, 16, 16], one layer per block, 4 groups) with every weight
drawn from N(0, 0.1²) (the norms' weights around 1), in float32 on the CPU.

    /usr/bin/python3 runtime/src/test/python/vae_golden.py runtime/src/test/resources/vae

writes vae_tiny.safetensors (diffusers' state-dict names; vae_tiny_old_names.safetensors with the
attention keys spelled as before diffusers renamed them) and vae_tiny_reference.safetensors:
encode.x → encode.out (latent_dist.mean and latent_dist.logvar joined on the channel axis) and
decode.z → decode.out (vae.decode(z).sample).
"""
import json
import sys

import torch
import torch.nn.functional as F

sys.path.insert(0, __file__.rsplit("/", 1)[0])
from latte_golden import save  # noqa: E402  (the same minimal safetensors writer)

CONFIG = dict(in_channels=3, out_channels=3, block_out_channels=[8, 16, 16], layers_per_block=1,
              norm_num_groups=4, latent_channels=4)
EPS = 1e-6


def weights(cfg, g):
    shapes = {}

    def conv(name, cin, cout, k):
        shapes[name + ".weight"] = (cout, cin, k, k)
        shapes[name + ".bias"] = (cout,)

    def norm(name, c):
        shapes[name + ".weight"] = ("norm", c)
        shapes[name + ".bias"] = (c,)

    def resnet(name, cin, cout):
        norm(name + ".norm1", cin)
        conv(name + ".conv1", cin, cout, 3)
        norm(name + ".norm2", cout)
        conv(name + ".conv2", cout, cout, 3)
        if cin != cout:
            conv(name + ".conv_shortcut", cin, cout, 1)

    def mid(name, c):
        resnet(name + ".resnets.0", c, c)
        norm(name + ".attentions.0.group_norm", c)
        for proj in ("to_q", "to_k", "to_v", "to_out.0"):
            shapes[f"{name}.attentions.0.{proj}.weight"] = (c, c)
            shapes[f"{name}.attentions.0.{proj}.bias"] = (c,)
        resnet(name + ".resnets.1", c, c)

    ch = cfg["block_out_channels"]
    n = len(ch)
    lat = cfg["latent_channels"]
    conv("encoder.conv_in", cfg["in_channels"], ch[0], 3)
    out = ch[0]
    for i in range(n):
        cin, out = out, ch[i]
        for j in range(cfg["layers_per_block"]):
            resnet(f"encoder.down_blocks.{i}.resnets.{j}", cin if j == 0 else out, out)
        if i < n - 1:
            conv(f"encoder.down_blocks.{i}.downsamplers.0.conv", out, out, 3)
    mid("encoder.mid_block", ch[-1])
    norm("encoder.conv_norm_out", ch[-1])
    conv("encoder.conv_out", ch[-1], 2 * lat, 3)
    conv("quant_conv", 2 * lat, 2 * lat, 1)
    conv("post_quant_conv", lat, lat, 1)
    conv("decoder.conv_in", lat, ch[-1], 3)
    mid("decoder.mid_block", ch[-1])
    rev = list(reversed(ch))
    out = rev[0]
    for i in range(n):
        cin, out = out, rev[i]
        for j in range(cfg["layers_per_block"] + 1):
            resnet(f"decoder.up_blocks.{i}.resnets.{j}", cin if j == 0 else out, out)
        if i < n - 1:
            conv(f"decoder.up_blocks.{i}.upsamplers.0.conv", out, out, 3)
    norm("decoder.conv_norm_out", ch[0])
    conv("decoder.conv_out", ch[0], cfg["out_channels"], 3)
    w = {}
    for k, s in shapes.items():
        if s[0] == "norm":
            w[k] = 1 + 0.1 * torch.randn(s[1], generator=g)
        else:
            w[k] = 0.1 * torch.randn(s, generator=g)
    return w


def conv(x, w, name, stride=1, padding=0):
    return F.conv2d(x, w[name + ".weight"], w[name + ".bias"], stride=stride, padding=padding)


def group_norm(x, w, name, groups):
    return F.group_norm(x, groups, w[name + ".weight"], w[name + ".bias"], eps=EPS)


def resnet(x, w, name, groups):
    h = conv(F.silu(group_norm(x, w, name + ".norm1", groups)), w, name + ".conv1", padding=1)
    h = conv(F.silu(group_norm(h, w, name + ".norm2", groups)), w, name + ".conv2", padding=1)
    if name + ".conv_shortcut.weight" in w:
        x = conv(x, w, name + ".conv_shortcut")
    return x + h  # output_scale_factor 1


def attention(x, w, name, groups):
    b, c, hh, ww = x.shape
    t = group_norm(x, w, name + ".group_norm", groups).reshape(b, c, hh * ww).transpose(1, 2)
    q = F.linear(t, w[name + ".to_q.weight"], w[name + ".to_q.bias"])
    k = F.linear(t, w[name + ".to_k.weight"], w[name + ".to_k.bias"])
    v = F.linear(t, w[name + ".to_v.weight"], w[name + ".to_v.bias"])
    a = torch.softmax(q @ k.transpose(1, 2) * c ** -0.5, dim=-1)  # one head of width c
    o = F.linear(a @ v, w[name + ".to_out.0.weight"], w[name + ".to_out.0.bias"])
    return x + o.transpose(1, 2).reshape(b, c, hh, ww)  # residual_connection, rescale 1


def mid(x, w, name, groups):
    x = resnet(x, w, name + ".resnets.0", groups)
    x = attention(x, w, name + ".attentions.0", groups)
    return resnet(x, w, name + ".resnets.1", groups)


def encode(x, w, cfg):
    g = cfg["norm_num_groups"]
    n = len(cfg["block_out_channels"])
    h = conv(x, w, "encoder.conv_in", padding=1)
    for i in range(n):
        for j in range(cfg["layers_per_block"]):
            h = resnet(h, w, f"encoder.down_blocks.{i}.resnets.{j}", g)
        if i < n - 1:
            # Downsample2D with padding = 0: pad right and bottom by one, then a stride-2 conv
            h = conv(F.pad(h, (0, 1, 0, 1), mode="constant", value=0), w,
                     f"encoder.down_blocks.{i}.downsamplers.0.conv", stride=2)
    h = mid(h, w, "encoder.mid_block", g)
    h = conv(F.silu(group_norm(h, w, "encoder.conv_norm_out", g)), w, "encoder.conv_out", padding=1)
    mean, logvar = conv(h, w, "quant_conv").chunk(2, dim=1)
    return torch.cat([mean, logvar.clamp(-30.0, 20.0)], dim=1)


def decode(z, w, cfg):
    g = cfg["norm_num_groups"]
    n = len(cfg["block_out_channels"])
    h = conv(conv(z, w, "post_quant_conv"), w, "decoder.conv_in", padding=1)
    h = mid(h, w, "decoder.mid_block", g)
    for i in range(n):
        for j in range(cfg["layers_per_block"] + 1):
            h = resnet(h, w, f"decoder.up_blocks.{i}.resnets.{j}", g)
        if i < n - 1:
            h = conv(F.interpolate(h, scale_factor=2.0, mode="nearest"), w,
                     f"decoder.up_blocks.{i}.upsamplers.0.conv", padding=1)
    return conv(F.silu(group_norm(h, w, "decoder.conv_norm_out", g)), w, "decoder.conv_out", padding=1)


def main(folder):
    g = torch.Generator().manual_seed(2029)
    w = weights(CONFIG, g)
    x = torch.rand(2, 3, 16, 12, generator=g) * 2 - 1  # not square: the height and width stay apart
    z = torch.randn(2, 4, 4, 3, generator=g)
    with torch.no_grad():
        enc = encode(x, w, CONFIG)
        dec = decode(z, w, CONFIG)
    save(f"{folder}/vae_tiny.safetensors", w, {"config": json.dumps(CONFIG)})
    # The attention keys as checkpoints published before diffusers renamed them (sd-vae-ft-ema's
    # era) spell them: query, key, value, proj_attn.
    old = {".to_q.": ".query.", ".to_k.": ".key.", ".to_v.": ".value.", ".to_out.0.": ".proj_attn."}
    renamed = {}
    for k, v in w.items():
        for new, previous in old.items():
            k = k.replace(new, previous)
        renamed[k] = v
    save(f"{folder}/vae_tiny_old_names.safetensors", renamed)
    save(f"{folder}/vae_tiny_reference.safetensors",
         {"encode.x": x, "encode.out": enc, "decode.z": z, "decode.out": dec},
         {"made_by": f"runtime/src/test/python/vae_golden.py, PyTorch {torch.__version__}"})
    print("encode.out", tuple(enc.shape), "decode.out", tuple(dec.shape), float(dec.abs().max()))


if __name__ == "__main__":
    main(sys.argv[1])
