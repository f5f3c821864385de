"""Loads a published version with Python's torch.jit.load and checks it against model.json.

Usage: load_torchscript.py VERSION_DIR. Exit 0 when the TorchScript reproduces every golden
example within the recorded tolerance; prints the largest difference.
"""
import json
import sys

import torch

version_dir = sys.argv[1]
card = json.load(open(f"{version_dir}/model.json"))
module = torch.jit.load(f"{version_dir}/model.pt")
examples = card["golden"]["examples"]
inputs = torch.tensor([e["input"] for e in examples], dtype=torch.float32)
expected = torch.tensor([e["probabilities"] for e in examples], dtype=torch.float32)
with torch.no_grad():
    got = module(inputs)
assert got.shape == (len(examples), len(card["labels"])), got.shape
diff = (got - expected).abs().max().item()
print(f"python torch {torch.__version__}: max |diff| {diff:.3g} over {len(examples)} golden examples")
sys.exit(0 if diff <= card["golden"]["tolerance"] else 1)
