"""The Python prototype's serving stack (FastAPI + uvicorn + PyTorch), for side-by-side REST
benchmarks only (scripts/bench-rest-vs-prototype.sh): a v2-style JSON infer endpoint as the
prototype served it, the body read as JSON, the TorchScript model.pt on one thread.
Needs Debian's python3-fastapi and python3-uvicorn (not installed by install-deps.sh).
Usage: python3 scripts/prototype-rest-server.py MODEL_DIR PORT
"""
import sys
import torch
import uvicorn
from fastapi import FastAPI, Request


torch.set_num_threads(1)
model = torch.jit.load(f"{sys.argv[1]}/model.pt")
model.eval()
app = FastAPI()


@app.post("/v2/models/{name}/infer")
async def infer(name: str, request: Request):
    # The body as plain JSON (json.loads): a pydantic model of it (List[float]) measured 7-15x
    # slower here, so the comparison is against the faster way to write the prototype.
    tensor = (await request.json())["inputs"][0]
    x = torch.tensor(tensor["data"], dtype=torch.float32).reshape(tensor["shape"])
    with torch.inference_mode():
        probabilities = model(x)
    return {"model_name": name,
            "outputs": [{"name": "probabilities", "datatype": "FP32",
                         "shape": list(probabilities.shape),
                         "data": probabilities.flatten().tolist()}]}


uvicorn.run(app, host="127.0.0.1", port=int(sys.argv[2]), log_level="warning")
