#!/usr/bin/env python3
"""A version's reference index against exact search (issue 26), with FAISS's own Python binding.

Above 16,384 references the trainer writes an approximate index (HNSW, M 32, efSearch 128);
this measures what that costs in answers and what it saves in time: recall@1 (the approximate
nearest reference is the exact one) and recall@K (the share of the exact K nearest found), the
largest cosine difference of the nearest reference, and milliseconds per query of both, one query
at a time and as one batch, on one thread. The exact side is an IndexFlatIP over the very vectors
the index holds (reconstructed from it), so only the search differs. Also times an exact index of
16,384 of them, the size up to which the trainer keeps search exact.

Queries: proteins that are not references, e.g. `arginator-train gen-data --sample-seed 7` (a
held-out sample of the same synthetic world), L2-normalised as the server normalises them.

Usage: reference_recall.py MODEL_DIR QUERIES.h5 [QUERIES.h5 ...] [--k K] [--single N]
"""
import argparse
import time

import faiss
import h5py
import numpy as np


def read_queries(paths):
    rows = []
    for path in paths:
        with h5py.File(path, "r") as f:
            for key in f.keys():
                rows.append(np.asarray(f[key], dtype=np.float32).reshape(-1))
    x = np.stack(rows)
    x /= np.linalg.norm(x, axis=1, keepdims=True)
    return np.ascontiguousarray(x)


def per_query_ms(index, queries, k):
    start = time.perf_counter()
    for q in queries:
        index.search(q[None, :], k)
    return 1000 * (time.perf_counter() - start) / len(queries)


def batch_ms(index, queries, k):
    start = time.perf_counter()
    _, ids = index.search(queries, k)
    return 1000 * (time.perf_counter() - start) / len(queries), ids


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("model_dir")
    parser.add_argument("queries", nargs="+")
    parser.add_argument("--k", type=int, default=5)
    parser.add_argument("--single", type=int, default=500, help="queries timed one at a time")
    parser.add_argument("--max-queries", type=int, default=5000, help="queries in the batch")
    args = parser.parse_args()
    faiss.omp_set_num_threads(1)

    index = faiss.read_index(f"{args.model_dir}/references.faiss")
    n, dim = index.ntotal, index.d
    vectors = index.reconstruct_n(0, n)
    exact = faiss.IndexFlatIP(dim)
    exact.add(vectors)
    queries = read_queries(args.queries)[:args.max_queries]
    kind = type(index).__name__
    print(f"references {n} ({kind}), queries {len(queries)}, k {args.k}, FAISS {faiss.__version__},"
          " 1 thread")

    exact_batch_ms, exact_ids = batch_ms(exact, queries, args.k)
    index_batch_ms, index_ids = batch_ms(index, queries, args.k)
    recall1 = float(np.mean(exact_ids[:, 0] == index_ids[:, 0]))
    recallk = float(np.mean([len(set(a) & set(b)) / args.k
                             for a, b in zip(exact_ids, index_ids)]))
    exact_d, _ = exact.search(queries, 1)
    index_d, _ = index.search(queries, 1)
    single = queries[:args.single]
    exact_single = per_query_ms(exact, single, args.k)
    index_single = per_query_ms(index, single, args.k)
    small = faiss.IndexFlatIP(dim)
    small.add(vectors[:min(n, 16384)])
    small_single = per_query_ms(small, single, args.k)

    print(f"recall@1 {recall1:.4f}  recall@{args.k} {recallk:.4f}  "
          f"largest nearest-cosine difference {float(np.max(exact_d - index_d)):.2e}")
    print(f"ms per query, one at a time: exact {exact_single:.3f}  {kind} {index_single:.3f}  "
          f"exact over {min(n, 16384)} {small_single:.3f}")
    print(f"ms per query, one batch of {len(queries)}: exact {exact_batch_ms:.4f}  "
          f"{kind} {index_batch_ms:.4f}")


if __name__ == "__main__":
    main()
