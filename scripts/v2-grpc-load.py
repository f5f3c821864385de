#!/usr/bin/env python3
"""Closed-loop v2 gRPC load for make cluster-test: CONCURRENCY threads send one-embedding
inference.GRPCInferenceService/ModelInfer requests (the model's default version) to TARGET for
SECONDS, and print a JSON report shaped like arginator-loadgen's ({"count": N,
"statusCodeDistribution": {"OK": n, ...}}), which h2load cannot give for gRPC (its status is in
the trailers). The stubs are the build's (build/python, target arginator_python_stubs).

Usage: v2-grpc-load.py STUBS_DIR TARGET MODEL MODEL_JSON SECONDS [CONCURRENCY]
"""
import collections
import json
import struct
import sys
import threading
import time

STUBS, TARGET, MODEL, CARD, SECONDS = sys.argv[1:6]
CONCURRENCY = int(sys.argv[6]) if len(sys.argv) > 6 else 2
sys.path.insert(0, STUBS)
import grpc  # noqa: E402
from inference import grpc_predict_v2_pb2 as pb, grpc_predict_v2_pb2_grpc as pb_grpc  # noqa: E402


def main():
    row = json.load(open(CARD))["golden"]["examples"][0]["input"]
    request = pb.ModelInferRequest(model_name=MODEL)
    tensor = request.inputs.add(name="embedding", datatype="FP32", shape=[1, len(row)])
    del tensor
    request.raw_input_contents.append(struct.pack(f"<{len(row)}f", *row))
    codes = collections.Counter()
    lock = threading.Lock()
    end = time.monotonic() + float(SECONDS)

    def worker():
        with grpc.insecure_channel(TARGET) as channel:
            infer = pb_grpc.GRPCInferenceServiceStub(channel).ModelInfer
            while time.monotonic() < end:
                try:
                    infer(request, timeout=20)
                    code = "OK"
                except grpc.RpcError as error:
                    code = error.code().name
                with lock:
                    codes[code] += 1

    threads = [threading.Thread(target=worker) for _ in range(CONCURRENCY)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    print(json.dumps({"count": sum(codes.values()), "statusCodeDistribution": dict(codes)}))


if __name__ == "__main__":
    main()
