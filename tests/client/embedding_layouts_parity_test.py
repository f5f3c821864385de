#!/usr/bin/env python3
"""Issue 25: both clients read every embedding layout the field writes alike. Each fixture (written
with h5py exactly as bio_embeddings, ProtTrans' prott5_embedder.py and UniProt write them, plus
the CSV and id-map cases) goes through `arginator-client inspect --ids` and the Python client's
`inspect --ids`; the exit status, stdout (layout, ids source, precision, pooled count, every id and
L2 norm) and stderr (the error message) must be byte-identical. The ids are checked once more
against what each tool's user expects (FASTA ids, not digests or mangled headers).

Usage: embedding_layouts_parity_test.py SOURCE_DIR ARGINATOR_CLIENT_BINARY
"""
import importlib.util
import os
import subprocess
import sys
import tempfile

import h5py
import numpy as np

SOURCE, CPP = sys.argv[1], sys.argv[2]
spec = importlib.util.spec_from_file_location(
    "fixtures", os.path.join(SOURCE, "tests", "client", "python_embedding_layouts_test.py"))
fixtures = importlib.util.module_from_spec(spec)
sys.argv = sys.argv[:2]  # the fixture module reads SOURCE from argv[1]
spec.loader.exec_module(fixtures)
RECORDS, FASTA_IDS = fixtures.RECORDS, fixtures.FASTA_IDS
DIM = 1024
rng = np.random.default_rng(25)
failures = []


def vectors(n, dtype=np.float32, rows=None):
    shape = (n, DIM) if rows is None else (n, rows, DIM)
    return (rng.standard_normal(shape) * 0.05).astype(dtype)


def build(work):
    """(name, argv after `inspect`, ids the user should get or None for an error) per case."""
    cases = []
    headers = [h for h, _ in RECORDS]
    sequences = [s for _, s in RECORDS]
    fasta = os.path.join(work, "proteins.fasta")
    fixtures.write_fasta(fasta)

    for dtype in (np.float32, np.float16):
        path = os.path.join(work, f"bio_{np.dtype(dtype).name}", "reduce",
                            "reduced_embeddings_file.h5")
        fixtures.write_bio_embeddings(
            path, {fixtures.md5(s): v for s, v in zip(sequences, vectors(3, dtype))}, FASTA_IDS)
        cases.append((f"bio_embeddings {np.dtype(dtype).name}", ["--input", path], FASTA_IDS))

    md5_keys = {fixtures.md5(s): v for s, v in zip(sequences, vectors(3))}
    path = os.path.join(work, "bio_md5", "reduce", "reduced_embeddings_file.h5")
    fixtures.write_bio_embeddings(path, md5_keys)
    cases.append(("bio_embeddings md5 keys", ["--input", path], None))
    cases.append(("bio_embeddings md5 keys + --fasta", ["--input", path, "--fasta", fasta],
                  FASTA_IDS))
    path = os.path.join(work, "bio_mapping", "reduce", "reduced_embeddings_file.h5")
    fixtures.write_bio_embeddings(path, md5_keys)
    fixtures.write_mapping_file(os.path.join(work, "bio_mapping", "mapping_file.csv"),
                                [(fixtures.md5(s), i, len(s)) for s, i in
                                 zip(sequences, FASTA_IDS)])
    cases.append(("bio_embeddings + mapping_file.csv", ["--input", path], FASTA_IDS))
    cwd_relative = os.path.relpath(path, os.getcwd())
    cases.append(("bio_embeddings relative path", ["--input", cwd_relative], FASTA_IDS))

    path = os.path.join(work, "prott5_per_protein.h5")
    with h5py.File(path, "w") as f:
        for header, v in zip(headers, vectors(3, np.float16)):
            f.create_dataset(fixtures.prottrans_key(header), data=v)
    cases.append(("ProtTrans keys", ["--input", path], None))
    cases.append(("ProtTrans keys + --fasta", ["--input", path, "--fasta", fasta], FASTA_IDS))

    path = os.path.join(work, "prott5_per_residue.h5")
    with h5py.File(path, "w") as f:
        for header, sequence in zip(headers, sequences):
            f.create_dataset(fixtures.prottrans_key(header),
                             data=vectors(1, np.float32, rows=len(sequence))[0])
    cases.append(("per-residue, pooled", ["--input", path, "--fasta", fasta], FASTA_IDS))
    cases.append(("per-residue, --no-pooling", ["--input", path, "--no-pooling"], None))

    path = os.path.join(work, "per-protein.h5")
    with h5py.File(path, "w") as f:
        for accession, v in zip(["P62593", "A0A0B4J2F0", "Q9L5C8"], vectors(3)):
            f.create_dataset(accession, data=v)
    cases.append(("UniProt per-protein.h5", ["--input", path], ["A0A0B4J2F0", "P62593", "Q9L5C8"]))

    path = os.path.join(work, "quoted.csv")
    with open(path, "w") as f:
        f.write("," + ",".join(str(j) for j in range(DIM)) + "\n")  # pandas' header
        for i, v in enumerate(vectors(2)):
            name = ['"WP_1.1, TEM-1 ""blaTEM"""', " P2 "][i]
            f.write(name + "," + ",".join(repr(float(x)) for x in v) + "\n")
    cases.append(("quoted CSV ids", ["--input", path], ['WP_1.1, TEM-1 "blaTEM"', "P2"]))
    table = os.path.join(work, "ids.tsv")
    with open(table, "w") as f:
        f.write('key\tid\n"WP_1.1, TEM-1 ""blaTEM"""\tWP_1.1\nP2\tWP_2.1\n')
    cases.append(("--id-map", ["--input", path, "--id-map", table], ["WP_1.1", "WP_2.1"]))
    bad_table = os.path.join(work, "bad.tsv")
    with open(bad_table, "w") as f:
        f.write("P2\tWP_2.1\n")
    cases.append(("--id-map missing ids", ["--input", path, "--id-map", bad_table], None))

    path = os.path.join(work, "dup", "reduced_embeddings_file.h5")
    fixtures.write_bio_embeddings(path, {fixtures.md5(s): v for s, v in
                                         zip(sequences[:2], vectors(2))}, ["same", "same"])
    cases.append(("duplicate original_id", ["--input", path], None))
    return cases


def run(argv, env=None):
    done = subprocess.run(argv, capture_output=True, env=env, timeout=60)
    return done.returncode, done.stdout.decode(), done.stderr.decode()


def main():
    env = dict(os.environ, PYTHONPATH=os.path.join(SOURCE, "client", "python"))
    env.pop("ARGINATOR_PY_STUBS", None)
    with tempfile.TemporaryDirectory() as work:
        for name, args, ids in build(work):
            cpp = run([CPP, "inspect", "--ids", *args])
            py = run(["/usr/bin/python3", "-m", "arginator_client", "inspect", "--ids", *args],
                     env)
            if cpp != py:
                failures.append(f"{name}: the clients differ\n  C++:    {cpp}\n  Python: {py}")
                continue
            rc, out, err = cpp
            got = [line.split("\t")[0] for line in out.splitlines() if "\t" in line]
            if ids is not None and (rc != 0 or sorted(got) != sorted(ids)):
                failures.append(f"{name}: rc {rc}, ids {got}, expected {ids}; {err}")
            if ids is None and rc == 0 and "--fasta FILE" not in out:
                failures.append(f"{name}: read without an error or a hint: {out}")
            print(f"ok   {name}: rc {rc}, {len(got)} ids, {err.strip() or out.splitlines()[1]}")
    for failure in failures:
        print("FAIL", failure)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
