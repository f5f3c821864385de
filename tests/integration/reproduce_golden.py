"""Python's torch loads a published version's model.pt and reproduces its golden probabilities.

    python3 reproduce_golden.py VERSION_DIR [TOLERANCE]

Exit 0 when every probability is within TOLERANCE (default 1e-5) of model.json's, 1 when not,
77 when this Python has no torch (the caller skips).
"""
import json
import sys

try:
    import torch
except ImportError:
    sys.exit(77)

directory = sys.argv[1]
tolerance = float(sys.argv[2]) if len(sys.argv) > 2 else 1e-5
card = json.load(open(directory + "/model.json"))
if "quantization" in card:
    torch.backends.quantized.engine = card["quantization"]["engine"]
model = torch.jit.load(directory + "/model.pt")
x = torch.tensor([g["input"] for g in card["golden"]["examples"]])
want = torch.tensor([g["probabilities"] for g in card["golden"]["examples"]])
difference = (model(x) - want).abs().max().item()
print(f"torch {torch.__version__}: max difference {difference:.3g} (tolerance {tolerance:g})")
sys.exit(0 if difference <= tolerance else 1)
