"""How far a published version's answers move with their batch, measured outside the server.

Usage: /usr/bin/python3 scripts/batch-invariance.py VERSION_DIR...
For each version directory (model.pt + model.json), runs its golden examples with Python's torch
(onednn quantized engine, as the server uses for int8) alone, as the card's batch and among
1,024 rows (the rest random, of the examples' scale), and prints the largest difference in any
probability. fp32 versions move by ~1e-7 (summation order); int8 versions with static activation
ranges by 0; int8 versions quantized per batch by ~1e-2.
"""
import json
import sys

import torch

torch.backends.quantized.engine = "onednn"
torch.manual_seed(0)
for d in sys.argv[1:]:
    card = json.load(open(f"{d}/model.json"))
    model = torch.jit.load(f"{d}/model.pt")
    golden = torch.tensor([e["input"] for e in card["golden"]["examples"]])
    n = len(golden)
    alone = torch.cat([model(golden[i:i + 1]) for i in range(n)])
    batch = model(golden)
    others = torch.randn(1024 - n, golden.size(1)) * golden.std()
    among = model(torch.cat([golden, others]))[:n]
    kind = "int8" if "quantization" in card else "fp32"
    print(f"{d} ({kind}): alone vs the golden batch of {n}: {(alone - batch).abs().max():.2e}; "
          f"alone vs among 1,024 rows: {(alone - among).abs().max():.2e}")
