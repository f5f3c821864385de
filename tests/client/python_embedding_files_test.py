#!/usr/bin/env python3
"""The Python client's readers against the C++ ones' rules: the CSV header rule (issue 25: pandas'
`df.to_csv()` header of column numbers was classified as a protein). Same cases as
tests/common/embedding_files_test.cc's AHeaderRowIsRecognisedNotReadAsAProtein, plus a first
row of numbers with a typo, which stays an error; and float16 `.npy` (EmbeddingFilesTest.
Float16NpyIsReadExactly). Usage: python_embedding_files_test.py SOURCE_DIR
"""
import os
import sys
import tempfile

import numpy as np

sys.path.insert(0, os.path.join(sys.argv[1], "client", "python"))
from arginator_client.embedding_files import read_embeddings  # noqa: E402
from arginator_client.errors import EmbeddingFileError  # noqa: E402


def main():
    failures = []
    row = "P1" + ",0.25" * 1024
    headers = {"pandas, no index name": "".join(f",{j}" for j in range(1024)),
               "named index, 1..1024": "protein" + "".join(f",{j + 1}" for j in range(1024)),
               "column names": "name" + "".join(f",f{j}" for j in range(1024))}
    with tempfile.TemporaryDirectory() as d:
        path = os.path.join(d, "h.csv")
        for what, header in headers.items():
            with open(path, "w") as f:
                f.write(header + "\n" + row + "\n")
            got = read_embeddings(path)
            if got.ids != ["P1"]:
                failures.append(f"{what}: ids {got.ids[:3]}, expected ['P1']")
        with open(path, "w") as f:
            f.write(row + "\n" + headers["pandas, no index name"] + "\n")
        if len(read_embeddings(path).ids) != 2:
            failures.append("column numbers on line 2 must be data")
        with open(path, "w") as f:
            f.write(row.replace(",0.25", ",abc", 1) + "\n")
        try:
            read_embeddings(path)
            failures.append("a first row with one bad value was accepted")
        except EmbeddingFileError as error:
            if "line 1 ('P1'), value 1 is not a number: 'abc'" not in str(error):
                failures.append(f"typo row: {error}")
        # float16 .npy (issue 25: refused although float16 HDF5 was read), converted exactly.
        half = np.array([[0.5, -2.0, 2.0 ** -24, 65504.0] + [1.0] * 1020], dtype=np.float16)
        npy = os.path.join(d, "half.npy")
        np.save(npy, half)
        got = read_embeddings(npy)
        if got.values.dtype != np.float32 or not np.array_equal(got.values,
                                                               half.astype(np.float32)):
            failures.append(f"float16 npy read as {got.values[0, :4]} ({got.values.dtype})")
    for f in failures:
        print(f"FAIL {f}")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
