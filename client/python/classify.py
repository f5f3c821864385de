#!/usr/bin/env python3
"""Example Arginator client in Python, using Debian's python3-grpcio and stubs generated from
proto/arginator/v1/classifier.proto (the build writes them to build/python; see README.md here).

    python3 client/python/classify.py --target localhost:50051 --model betalactamase-binary \
        --input embeddings.h5 [--stubs build/python] [--batch 256]

Reads an HDF5 file in the seed project's layout (one dataset of 1024 floats per protein), sends
the embeddings in packed batches, and prints id,label,score,out_of_distribution as CSV.
"""
import argparse
import os
import sys

import h5py
import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--target", default="localhost:50051")
    parser.add_argument("--model", required=True)
    parser.add_argument("--version", type=int, default=0)
    parser.add_argument("--input", required=True)
    parser.add_argument("--batch", type=int, default=256)
    parser.add_argument("--stubs", default=os.path.join(HERE, "..", "..", "build", "python"))
    args = parser.parse_args()

    sys.path.insert(0, args.stubs)
    import grpc
    from arginator.v1 import classifier_pb2 as pb
    from arginator.v1 import classifier_pb2_grpc as pb_grpc

    with h5py.File(args.input, "r") as f:
        ids = sorted(f.keys())
        embeddings = np.stack([np.asarray(f[i], dtype="<f4").reshape(-1) for i in ids])

    channel = grpc.insecure_channel(args.target)
    stub = pb_grpc.ClassifierStub(channel)
    spec = pb.ModelSpec(name=args.model)
    if args.version:
        spec.version = args.version
    print("id,label,score,out_of_distribution")
    for start in range(0, len(ids), args.batch):
        rows = embeddings[start:start + args.batch]
        request = pb.ClassifyRequest(model=spec, packed_values=rows.tobytes(),
                                     packed_ids=ids[start:start + args.batch])
        try:
            response = stub.Classify(request, timeout=30)
        except grpc.RpcError as error:
            print(f"error: {error.code().name}: {error.details()}", file=sys.stderr)
            return 1
        for p in response.predictions:
            print(f"{p.id},{p.label},{p.score:.6f},{str(p.out_of_distribution).lower()}")
    print(f"classified {len(ids)} embeddings with {response.model_name} v{response.model_version}",
          file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
