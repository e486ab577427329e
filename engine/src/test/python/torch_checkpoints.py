"""PyTorch checkpoints for TorchCheckpointReaderTest, written by torch.save itself.

    /usr/bin/python3 engine/src/test/python/torch_checkpoints.py engine/src/test/resources/torch

tiny.pt          a state dict in the zip archive torch.save writes (PyTorch ≥ 1.6): f32, f16, bf16,
                 f64, int64, int32, uint8, int8, int16 and bool tensors, a transposed view, two views
                 of one storage, a 0-d tensor, an nn.Parameter and a plain int beside them
tiny-legacy.pt   the same in the legacy format (_use_new_zipfile_serialization=False)
tiny-legacy-p4.pt  and with pickle protocol 4 (its pickles start with a FRAME)
train.pt         a DiT-style training checkpoint: {"model", "ema", "opt", "args"} with an
                 argparse.Namespace and AdamW's state
evil.pt          a dict holding an object whose __reduce__ names posix.system: must be refused
expected.safetensors  every tensor of tiny.pt as a contiguous float32 / int64 copy, to compare with
"""
import argparse
import os
import sys

import torch

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "..", "..", "..", "runtime", "src", "test", "python"))
from latte_golden import save  # noqa: E402


class Evil:
    def __reduce__(self):
        return (os.system, ("echo this must never run",))


def state_dict():
    g = torch.Generator().manual_seed(7)
    base = torch.randn(6, 5, generator=g)
    shared = torch.arange(20, dtype=torch.float32)
    sd = {
        "f32": torch.randn(3, 4, generator=g),
        "f16": torch.randn(2, 3, generator=g).half(),
        "bf16": torch.randn(2, 3, generator=g).bfloat16(),
        "f64": torch.randn(4, generator=g).double(),
        "i64": torch.tensor([1, -2, 3], dtype=torch.int64),
        "i32": torch.tensor([[7, -8]], dtype=torch.int32),
        "u8": torch.tensor([0, 200, 255], dtype=torch.uint8),
        "i8": torch.tensor([-128, 5, 127], dtype=torch.int8),
        "i16": torch.tensor([-30000, 2], dtype=torch.int16),
        "flag": torch.tensor([True, False, True]),
        "transposed": base.t(),  # a strided view: stride (1, 5)
        "shared.first": shared[2:8].view(2, 3),  # two views of one storage
        "shared.second": shared[10:14],
        "scalar": torch.tensor(2.5),
        "param": torch.nn.Parameter(torch.randn(2, 2, generator=g)),
        "step": 12,  # not a tensor: skipped
    }
    return sd


def main(folder):
    sd = state_dict()
    torch.save(sd, f"{folder}/tiny.pt")
    torch.save(sd, f"{folder}/tiny-legacy.pt", _use_new_zipfile_serialization=False)
    torch.save(sd, f"{folder}/tiny-legacy-p4.pt", _use_new_zipfile_serialization=False, pickle_protocol=4)
    expected = {}
    for k, v in sd.items():
        if isinstance(v, torch.Tensor):
            v = v.detach()
            expected[k] = (v.long() if not v.is_floating_point() else v.float()).contiguous()
    save(f"{folder}/expected.safetensors", expected)

    model = torch.nn.Sequential(torch.nn.Linear(3, 4), torch.nn.Linear(4, 2))
    ema = torch.nn.Sequential(torch.nn.Linear(3, 4), torch.nn.Linear(4, 2))
    opt = torch.optim.AdamW(model.parameters(), lr=1e-4)
    model(torch.randn(5, 3)).sum().backward()
    opt.step()
    args = argparse.Namespace(model="DiT-XL/2", image_size=256, num_classes=1000, epochs=1400)
    torch.save({"model": model.state_dict(), "ema": ema.state_dict(), "opt": opt.state_dict(), "args": args},
               f"{folder}/train.pt")
    save(f"{folder}/train-ema.safetensors", {k: v.contiguous() for k, v in ema.state_dict().items()})
    torch.save({"weight": torch.zeros(2), "payload": Evil()}, f"{folder}/evil.pt")
    print("torch", torch.__version__, sorted(os.listdir(folder)))


if __name__ == "__main__":
    main(sys.argv[1])
