#!/usr/bin/env python3
"""The Python client's gene-symbol rule (arginator_client/hamronization.py gene_symbol_of) on the
cases the C++ client's test reads too (tests/client/gene_symbols.tsv), and when a row takes the
nearest reference's symbol. Needs no stubs: predictions are stand-ins with the v1 fields' names.
Usage: python_hamronization_test.py SOURCE_DIR"""
import os
import sys
from types import SimpleNamespace

source = sys.argv[1]
sys.path.insert(0, os.path.join(source, "client", "python"))
from arginator_client import hamronization  # noqa: E402

failures = 0
checked = 0
with open(os.path.join(source, "tests", "client", "gene_symbols.tsv"), encoding="utf-8") as f:
    for line in f.read().split("\n"):
        if not line or line.startswith("#"):
            continue
        reference_id, expected = line.split("\t")
        got = hamronization.gene_symbol_of(reference_id)
        checked += 1
        if got != expected:
            failures += 1
            print(f"FAIL {reference_id!r}: {got!r}, expected {expected!r}")


def symbol(disagrees, evidence=True):
    p = SimpleNamespace(
        id="contig_7_3", label="class_A", call="class_A", confidence="High",
        evidence_disagrees=disagrees,
        evidence=[SimpleNamespace(id="WP_000027057.1|blaTEM-1", label="class_A", cosine=0.97)]
        if evidence else [])
    row = hamronization.row(p, "betalactamase-class", "3", 3, "proteins.h5", False)
    return row[hamronization.COLUMNS.index("gene_symbol")]


for got, expected, what in [(symbol(False), "blaTEM-1", "agreeing nearest reference"),
                            (symbol(True), "bla", "disagreeing nearest reference"),
                            (symbol(False, evidence=False), "bla", "no evidence")]:
    if got != expected:
        failures += 1
        print(f"FAIL {what}: gene_symbol {got!r}, expected {expected!r}")
print(f"{checked} gene-symbol cases, {failures} failure(s)")
sys.exit(1 if failures or checked < 10 else 0)
