#!/usr/bin/python3
"""Black-box test of the Python client (client/python/arginator_client) against a real server,
with the C++ arginator-client as the reference.

    /usr/bin/python3 tests/integration/python_client_test.py GROUP --source REPO --stubs DIR \
        --target HOST:PORT --cpp-client build/bin/arginator-client --data DIR --work DIR \
        [--metrics http://HOST:PORT] [--certs DIR]

GROUP is what the server started by tests/integration/python_client_test.cc offers:
  parity  CSV and JSONL byte-identical to the C++ client's (h5, csv, npy; both models; ids with
          commas, quotes, a line break), stdout through "-", unary = stream (and which RPCs
          the server counted), the summary, models/metadata/health output;
  errors  every bad file, usage error and bad request exits 2 with one clean line (the C++
          client's message), an unreachable server exits 1, missing stubs are named;
  module  the importable API: read_embeddings, Client.classify/classify_stream/list_models/
          metadata/health, ArginatorError codes, retries with backoff;
  label   (version 2 published, label "canary" on version 1) --label and --version select;
  tls     (server with TLS) --ca-cert, --authority, and what fails without them;
  mtls    (server with mutual TLS) --cert + --key, and what fails without them.
Prints one line per check group and every failed check; exits 0 only when all passed.
"""
import argparse
import contextlib
import csv
import hashlib
import io
import json
import os
import subprocess
import sys
import time
import traceback
import urllib.request

import h5py
import numpy as np

BINARY, CLASS = "betalactamase-binary", "betalactamase-class"
PREFIX = "arginator-client: error: "
# Ids the CSV writer has to quote (RFC 4180), and one that is not ASCII.
AWKWARD_IDS = ['sp|P1,beta "A"', "q\"uote", "comma,id", "line\nbreak", "caf\u00e9", " spaced "]


class Checks:
    def __init__(self):
        self.failures = []
        self._group_failures = []
        self._count = 0

    @contextlib.contextmanager
    def group(self, name):
        self._group_failures, self._count = [], 0
        start = time.monotonic()
        try:
            yield
        except Exception as error:  # an unexpected exception ends the group, not the run
            self.fail(f"group aborted: {type(error).__name__}: {error}")
            traceback.print_exc(limit=4)
        status = "FAIL" if self._group_failures else "PASS"
        print(f"{status} {name}: {self._count - len(self._group_failures)}/{self._count} checks "
              f"passed ({time.monotonic() - start:.1f} s)", flush=True)
        for message in self._group_failures:
            print(f"    - {message}", flush=True)

    def fail(self, message):
        self._count += 1
        self._group_failures.append(message)
        self.failures.append(message)

    def check(self, condition, message):
        if condition:
            self._count += 1
        else:
            self.fail(message)
        return condition

    def equal(self, got, expected, what):
        if got == expected:
            return self.check(True, what)
        if isinstance(got, bytes) and isinstance(expected, bytes):
            return self.check(False, f"{what}: {first_difference(got, expected)}")
        return self.check(False, f"{what}: got {shorten(got)}, expected {shorten(expected)}")


def shorten(value, limit=600):
    text = repr(value)
    return text if len(text) <= limit else text[:limit] + f"... ({len(text)} chars)"


def first_difference(got, expected):
    got_lines, expected_lines = got.split(b"\n"), expected.split(b"\n")
    for i, (g, e) in enumerate(zip(got_lines, expected_lines)):
        if g != e:
            return f"line {i + 1} is {shorten(g, 300)}, expected {shorten(e, 300)}"
    return f"{len(got_lines)} lines, expected {len(expected_lines)}"


class Run:
    """One command's exit status and output."""

    def __init__(self, argv, env=None, cwd=None, timeout=120):
        completed = subprocess.run(argv, env=env, cwd=cwd, capture_output=True, timeout=timeout)
        self.argv, self.rc = argv, completed.returncode
        self.stdout, self.stderr = completed.stdout, completed.stderr.decode("utf-8", "replace")

    def __str__(self):
        return f"{' '.join(self.argv[-12:])} -> {self.rc}; stderr: {self.stderr[-800:]!r}"


class Clients:
    """Runs the Python CLI and the C++ client with the same arguments."""

    def __init__(self, args):
        self.args = args
        self.env = dict(os.environ, PYTHONPATH=os.path.join(args.source, "client", "python"),
                        ARGINATOR_PY_STUBS=args.stubs)

    def py(self, *argv, target=True, env=None, cwd=None):
        return Run([sys.executable, "-m", "arginator_client", *argv, *self._target(target)],
                   env=dict(self.env, **(env or {})), cwd=cwd)

    def cpp(self, *argv, target=True):
        return Run([self.args.cpp_client, *argv, *self._target(target)])

    def _target(self, target):
        return ["--target", self.args.target] if target is True else (
            ["--target", target] if target else [])


def write_inputs(args):
    """Inputs made from the generated data: every format, ids the writers must quote."""
    rows, ids = [], []
    for name in ("card_class_a_embeddings.h5", "non_betalactamase_embeddings_60k.h5"):
        with h5py.File(os.path.join(args.data, name), "r") as f:
            for key in sorted(f.keys())[:20]:
                rows.append(np.asarray(f[key], dtype=np.float32).reshape(-1))
                ids.append(key)
    for i, awkward in enumerate(AWKWARD_IDS):
        ids[2 * i] = awkward
    values = np.stack(rows)
    paths = {name: os.path.join(args.work, name) for name in ("in.h5", "in.csv", "in.npy")}
    with h5py.File(paths["in.h5"], "w") as f:
        for id_, row in zip(ids, values):
            f[id_] = row
    # CSV splits on commas and lines: its ids keep only the quote and the non-ASCII ones.
    csv_ids = [id_.replace(",", ";").replace("\n", " ") for id_ in ids]
    with open(paths["in.csv"], "w", encoding="utf-8") as f:
        f.write("id," + ",".join(f"v{j}" for j in range(values.shape[1])) + "\n")
        for id_, row in zip(csv_ids, values):
            f.write(id_ + "," + ",".join(str(v) for v in row) + "\n")
    np.save(paths["in.npy"], values)
    with open(paths["in.npy"] + ".ids", "w", encoding="utf-8") as f:
        f.write("".join(id_.replace("\n", " ") + "\n" for id_ in ids))
    return paths


def _input_rows(args):
    """20 embeddings of the generated class A file."""
    with h5py.File(os.path.join(args.data, "card_class_a_embeddings.h5"), "r") as f:
        return [np.asarray(f[key], dtype=np.float32).reshape(-1) for key in sorted(f.keys())[:20]]


def read_file(path):
    with open(path, "rb") as f:
        return f.read()


def summary_counts(stderr):
    """The per-label and out-of-distribution lines of a classify summary."""
    return [line for line in stderr.splitlines() if line.startswith("  ")]


def same_output(ch, clients, work, what, *argv):
    """The C++ and the Python client write the same bytes for `argv`."""
    cpp_out, py_out = os.path.join(work, "cpp.out"), os.path.join(work, "py.out")
    cpp = clients.cpp("classify", *argv, "--output", cpp_out)
    py = clients.py("classify", *argv, "--output", py_out)
    if not (ch.check(cpp.rc == 0, f"{what}: C++ client {cpp}")
            and ch.check(py.rc == 0, f"{what}: Python client {py}")):
        return b""
    expected = read_file(cpp_out)
    ch.equal(read_file(py_out), expected, f"{what}: Python output vs the C++ client's")
    ch.equal(summary_counts(py.stderr), summary_counts(cpp.stderr), f"{what}: summary counts")
    return expected


def requests_total(args, method):
    """arginator_requests_total of the binary model for `method` (Classify, ClassifyStream)."""
    with urllib.request.urlopen(args.metrics + "/metrics", timeout=10) as response:
        text = response.read().decode()
    return sum(float(line.rsplit(" ", 1)[1]) for line in text.splitlines()
               if line.startswith("arginator_requests_total{") and f'method="{method}"' in line
               and f'model="{BINARY}"' in line)


# hAMRonization 1.x, as its specification lists the fields (issue 26), written here from that list
# and not from the clients' code: the reader the test uses in place of `hamronize summarize`.
HAMRONIZATION_FIELDS = """input_file_name gene_symbol gene_name reference_database_name
reference_database_version reference_accession analysis_software_name analysis_software_version
genetic_variation_type antimicrobial_agent coverage_percentage coverage_depth coverage_ratio
drug_class input_gene_length input_gene_start input_gene_stop input_protein_length
input_protein_start input_protein_stop input_sequence_id nucleotide_mutation
nucleotide_mutation_interpretation predicted_phenotype predicted_phenotype_confidence_level
amino_acid_mutation amino_acid_mutation_interpretation reference_gene_length reference_gene_start
reference_gene_stop reference_protein_length reference_protein_start reference_protein_stop
resistance_mechanism strand_orientation sequence_identity""".split()
HAMRONIZATION_NUMERIC = {"coverage_percentage", "coverage_depth", "coverage_ratio",
                         "input_gene_length", "input_gene_start", "input_gene_stop",
                         "input_protein_length", "input_protein_start", "input_protein_stop",
                         "reference_gene_length", "reference_gene_start", "reference_gene_stop",
                         "reference_protein_length", "reference_protein_start",
                         "reference_protein_stop", "sequence_identity"}


def read_hamronization(ch, text, what):
    """Rows of a hAMRonization TSV as dicts, checking the header order, the mandatory fields and
    that every numeric field is empty or a number."""
    lines = text.split("\n")
    header = lines[0].split("\t")
    ch.equal(header[:len(HAMRONIZATION_FIELDS)], HAMRONIZATION_FIELDS, f"{what}: field order")
    rows = []
    for line in lines[1:]:
        if not line:
            continue
        values = line.split("\t")
        ch.equal(len(values), len(header), f"{what}: fields in a row")
        row = dict(zip(header, values))
        for field in HAMRONIZATION_FIELDS[:9]:
            ch.check(row.get(field), f"{what}: mandatory {field} empty in {row}")
        for field in HAMRONIZATION_NUMERIC:
            if row.get(field):
                try:
                    float(row[field])
                except ValueError:
                    ch.fail(f"{what}: {field} {row[field]!r} is not a number")
        rows.append(row)
    return rows


def group_hamronization(ch, args, clients, path, jsonl):
    calls = [json.loads(line) for line in jsonl.splitlines()]
    tsv = same_output(ch, clients, args.work, "hamronization", "--model", CLASS, "--input", path,
                      "--format", "hamronization").decode()
    rows = read_hamronization(ch, tsv, "hamronization")
    bl_calls = [c for c in calls if c["call"] not in ("uncertain", "non_betalactamase")]
    ch.equal([r["input_sequence_id"] for r in rows], [c["id"].replace("\n", " ") for c in bl_calls],
             "hamronization: one row per beta-lactamase call, in order")
    for row, call in zip(rows, bl_calls):
        ch.equal(row["gene_name"], f"class {call['call'][-1]} beta-lactamase", "gene_name")
        ch.equal(row["predicted_phenotype_confidence_level"], call["confidence"], "confidence")
        ch.equal(row["reference_database_name"], CLASS, "reference_database_name")
        ch.check(row["reference_database_version"].startswith(f"{call['version']} (data sha256:"),
                 f"reference_database_version {row['reference_database_version']!r}")
        ch.equal(row["input_file_name"], os.path.basename(path), "input_file_name")
    with_uncertain = same_output(ch, clients, args.work, "hamronization --include-uncertain",
                                 "--model", CLASS, "--input", path, "--format", "hamronization",
                                 "--include-uncertain").decode()
    uncertain = [c for c in calls if c["call"] == "uncertain"]
    ch.equal(len(read_hamronization(ch, with_uncertain, "--include-uncertain")),
             len(bl_calls) + len(uncertain), "--include-uncertain adds the uncertain calls")
    with_evidence = same_output(ch, clients, args.work, "hamronization --evidence 2", "--model",
                                CLASS, "--input", path, "--format", "hamronization",
                                "--evidence", "2").decode()
    evidence_rows = read_hamronization(ch, with_evidence, "--evidence 2")
    ch.equal(len(evidence_rows), len(rows), "--evidence keeps the rows")
    for row in evidence_rows:
        ch.check(row["reference_accession"] != f"{CLASS}:{row['reference_database_version'][0]}"
                 and row["reference_accession"], f"reference_accession {row['reference_accession']!r}"
                 " is the nearest known protein")
        ch.check(-1.0001 <= float(row["nearest_reference_cosine"] or "nan") <= 1.0001,
                 f"nearest_reference_cosine {row['nearest_reference_cosine']!r}")
    csv_evidence = same_output(ch, clients, args.work, "csv --evidence 3", "--model", CLASS,
                               "--input", path, "--evidence", "3").decode()
    ch.check(csv_evidence.startswith(
        "id,label,score,out_of_distribution,call,confidence,call_probability,ood_score,model,"
        "version,input_file,nearest_reference,nearest_label,nearest_cosine,evidence_disagrees,"
        "prob_class_A"), f"CSV header with evidence: {csv_evidence[:200]!r}")
    jsonl_evidence = same_output(ch, clients, args.work, "jsonl --evidence 3", "--model", CLASS,
                                 "--input", path, "--evidence", "3", "--format", "jsonl")
    first = json.loads(jsonl_evidence.splitlines()[0])
    ch.equal(len(first["evidence"]), 3, "JSONL evidence: three nearest references")
    ch.equal(sorted(first["evidence"][0]), ["cosine", "id", "label"], "JSONL evidence keys")
    as_json = json.loads(same_output(ch, clients, args.work, "hamronization-json", "--model",
                                     CLASS, "--input", path, "--format", "hamronization-json"))
    ch.equal(len(as_json), len(rows), "hamronization-json: the TSV's rows")
    for record, row in zip(as_json, rows):
        ch.equal(list(record)[:len(HAMRONIZATION_FIELDS)], HAMRONIZATION_FIELDS,
                 "hamronization-json: key order")
        ch.equal({k: v or "" for k, v in record.items()}, row, "hamronization-json = TSV")


def group_parity(ch, args, clients):
    inputs = write_inputs(args)
    outputs = {}
    for name, path in inputs.items():
        for model in (BINARY, CLASS):
            outputs[name, model] = same_output(ch, clients, args.work, f"{name} {model} csv",
                                               "--model", model, "--input", path)
    rows = 40 + 1 + 1  # the header, and the id with a line break is quoted over two lines
    ch.equal(outputs["in.h5", CLASS].count(b"\n"), rows, "lines of in.h5 results")
    ch.check(outputs["in.h5", CLASS].startswith(
        b"id,label,score,out_of_distribution,call,confidence,call_probability,ood_score,model,"
        b"version,input_file,prob_class_A,"), "CSV header")
    ch.check(b'\n"sp|P1,beta ""A""",' in outputs["in.h5", CLASS],
             "an id with a comma and quotes is quoted as RFC 4180 says")
    jsonl = same_output(ch, clients, args.work, "jsonl", "--model", CLASS, "--input",
                        inputs["in.h5"], "--format", "jsonl")
    ch.equal(sorted(json.loads((jsonl.splitlines() or [b"{}"])[0])), [
        "calibrated_probabilities", "call", "call_probability", "confidence", "id", "input_file",
        "l2_norm", "label", "model", "ood_score", "out_of_distribution", "probabilities", "score",
        "version"], "JSONL keys")
    group_hamronization(ch, args, clients, inputs["in.h5"], jsonl)
    bare = same_output(ch, clients, args.work, "--no-probabilities", "--model", CLASS, "--input",
                       inputs["in.npy"], "--no-probabilities")
    bare_rows = list(csv.reader(io.StringIO(bare.decode(), newline="")))[1:]
    ch.check(bare_rows and all(len(row) == 11 for row in bare_rows),
             f"--no-probabilities leaves the probability columns out: {bare_rows[:2]}")

    # Standard output through "-": the same bytes, no file named "-", the summary on stderr.
    stdout = clients.py("classify", "--model", CLASS, "--input", inputs["in.npy"],
                        "--no-probabilities", "--output", "-", cwd=args.work)
    ch.check(stdout.rc == 0, f"--output -: {stdout}")
    ch.equal(stdout.stdout, bare, "--output - writes the results to stdout")
    ch.check(not os.path.exists(os.path.join(args.work, "-")), "--output - wrote a file '-'")
    ch.check("results: standard output" in stdout.stderr, f"summary: {stdout.stderr!r}")

    # Unary and stream give the same rows, in input order, as the C++ client's stream.
    big = os.path.join(args.data, "non_betalactamase_embeddings_60k.h5")
    with h5py.File(big, "r") as f:
        ids = sorted(f.keys(), key=str.encode)
    streamed = same_output(ch, clients, args.work, "stream", "--model", BINARY, "--input", big,
                           "--batch", "37", "--stream", "always")
    batches = -(-len(ids) // 37)
    before = {m: requests_total(args, m) for m in ("Classify", "ClassifyStream")}
    py_streamed = clients.py("classify", "--model", BINARY, "--input", big, "--batch", "37",
                             "--stream", "always", "--output", os.devnull)
    middle = {m: requests_total(args, m) for m in ("Classify", "ClassifyStream")}
    unary = clients.py("classify", "--model", BINARY, "--input", big, "--batch", "37",
                       "--stream", "never", "--output", "-")
    after = {m: requests_total(args, m) for m in ("Classify", "ClassifyStream")}
    ch.check(py_streamed.rc == 0 and unary.rc == 0, f"{py_streamed}; {unary}")
    ch.equal((middle["ClassifyStream"] - before["ClassifyStream"],
              middle["Classify"] - before["Classify"]), (batches, 0),
             "--stream always: ClassifyStream messages, Classify calls")
    ch.equal((after["ClassifyStream"] - middle["ClassifyStream"],
              after["Classify"] - middle["Classify"]), (0, batches),
             "--stream never: ClassifyStream messages, Classify calls")
    ch.equal(unary.stdout, streamed, "--stream never vs --stream always")
    rows = list(csv.reader(io.StringIO(unary.stdout.decode())))[1:]
    ch.equal([r[0] for r in rows], ids, "rows in input order")
    ch.check(", Classify;" in unary.stderr, f"--stream never: {unary.stderr!r}")
    auto = clients.py("classify", "--model", BINARY, "--input", big, "--batch", "37",
                      "--output", os.path.join(args.work, "auto.csv"))
    ch.check(", ClassifyStream;" in auto.stderr, f"--stream auto streams a large input: {auto}")
    ch.check(f"classified {len(ids)} embeddings from {big} with {BINARY} v1 in " in auto.stderr,
             f"summary line: {auto.stderr!r}")

    # Issue 25: the layouts the field writes, classified by both clients with the same bytes and
    # the FASTA ids: bio_embeddings (md5 keys, original_id attributes), ProtTrans' embedder
    # (mangled whole headers, float16, recovered with --fasta) and per-residue arrays (pooled).
    headers = [f"WP_{900000 + i:06d}.1 synthetic protein {i}/x" for i in range(20)]
    fasta = os.path.join(args.work, "field.fasta")
    with open(fasta, "w") as f:
        f.write("".join(f">{h}\nM{'ACDEFGHIK'[i % 9] * (30 + i)}\n" for i, h in enumerate(headers)))
    sequences = [f"M{'ACDEFGHIK'[i % 9] * (30 + i)}" for i in range(len(headers))]
    values = np.stack([np.asarray(r, dtype=np.float32) for r in _input_rows(args)])
    fasta_ids = [h.split()[0] for h in headers]
    bio = os.path.join(args.work, "bio", "reduced_embeddings_file.h5")
    os.makedirs(os.path.dirname(bio), exist_ok=True)
    with h5py.File(bio, "w") as f:
        for sequence, fasta_id, row in zip(sequences, fasta_ids, values):
            key = hashlib.md5(sequence.encode()).hexdigest()
            f.create_dataset(key, data=row)
            f[key].attrs["original_id"] = fasta_id
    prottrans = os.path.join(args.work, "prott5.h5")
    with h5py.File(prottrans, "w") as f:
        for header, row in zip(headers, values):
            per_residue = np.stack([row - 0.01, row + 0.01]).astype(np.float16)
            f.create_dataset(header.replace("/", "_").replace(".", "_"), data=per_residue)
    for what, path, extra in (("bio_embeddings", bio, []),
                              ("ProtTrans per-residue", prottrans, ["--fasta", fasta])):
        out = same_output(ch, clients, args.work, what, "--model", CLASS, "--input", path, *extra)
        got = sorted(r[0] for r in list(csv.reader(io.StringIO(out.decode())))[1:])
        ch.equal(got, sorted(fasta_ids), f"{what}: the results carry the FASTA ids")

    for argv in (["models"], ["metadata", "--model", CLASS],
                 ["metadata", "--model", BINARY, "--version", "1"], ["health"],
                 ["health", "--service", BINARY], ["health", "--service", "nope"]):
        cpp, py = clients.cpp(*argv), clients.py(*argv)
        ch.equal((py.rc, py.stdout), (cpp.rc, cpp.stdout), " ".join(argv))
    ch.check(b"betalactamase-class      multiclass  1        READY      default" in
             clients.py("models").stdout, "models lists the class model")


def bad_files(work):
    """(file name, what its message says) for every kind of bad input file."""
    rng = np.random.default_rng(7)
    good = rng.standard_normal(1024).astype(np.float32)
    path = lambda name: os.path.join(work, name)  # noqa: E731
    with h5py.File(path("empty.h5"), "w"):
        pass
    with h5py.File(path("nested.h5"), "w") as f:
        f.create_group("proteins")["P1"] = good
    with h5py.File(path("wrong_dim.h5"), "w") as f:
        f["P1"] = good[:512]
    with h5py.File(path("integers.h5"), "w") as f:
        f["P1"] = np.arange(1024, dtype=np.int32)
    with h5py.File(path("nan.h5"), "w") as f:
        f["P1"] = np.where(np.arange(1024) == 9, np.nan, good)
    with h5py.File(path("rank3.h5"), "w") as f:
        f["P1"] = good.reshape(2, 2, 256)
    with h5py.File(path("corrupt.h5"), "w") as f:
        for i in range(8):
            f[f"P{i}"] = good
    data = read_file(path("corrupt.h5"))
    with open(path("corrupt.h5"), "wb") as f:
        f.write(data[:len(data) // 3])
    with open(path("text.h5"), "w") as f:
        f.write("id,v0\n")
    with open(path("wrong_width.csv"), "w") as f:
        f.write("P1,1,2,3\n")
    with open(path("word.csv"), "w") as f:
        f.write("P1," + ",".join(["0.5"] * 100 + ["abc"] + ["0.5"] * 923) + "\n")
    with open(path("empty.csv"), "w") as f:
        f.write("id,v0\n\n")
    np.save(path("big_endian.npy"), rng.standard_normal((2, 1024)).astype(">f4"))
    np.save(path("wrong_dim.npy"), rng.standard_normal((2, 512)).astype(np.float32))
    np.save(path("inf.npy"), np.where(np.arange(2048) == 1500, np.inf, 0.5).reshape(2, 1024))
    np.save(path("ids.npy"), rng.standard_normal((2, 1024)).astype(np.float32))
    with open(path("ids.npy.ids"), "w") as f:
        f.write("only-one\n")
    data = read_file(path("ids.npy"))
    with open(path("truncated.npy"), "wb") as f:
        f.write(data[:len(data) // 2])
    with open(path("notes.txt"), "w") as f:
        f.write("P1\n")
    return [
        ("empty.h5", "file contains no embeddings"),
        ("nested.h5", "object 'proteins' is not a dataset"),
        ("wrong_dim.h5", "dataset 'P1' has shape [512], expected [1024]"),
        ("integers.h5", "dataset 'P1' is not floating point"),
        ("nan.h5", "dataset 'P1' has NaN at position 9"),
        ("rank3.h5", "dataset 'P1' has rank 3"),
        ("corrupt.h5", "HDF5 file"),
        ("text.h5", "not an HDF5 file"),
        ("missing.h5", "no such readable file"),
        ("wrong_width.csv", "line 1 has 3 values after the id, expected 1024"),
        ("word.csv", "line 1 ('P1'), value 101 is not a number: 'abc'"),
        ("empty.csv", "no embeddings"),
        ("missing.csv", "cannot open"),
        ("big_endian.npy", "dtype must be little-endian float16, float32 or float64"),
        ("wrong_dim.npy", "has 512 columns, expected 1024"),
        ("inf.npy", "row 1 has Inf at column 476"),
        ("ids.npy", "has 1 ids for 2 rows"),
        ("truncated.npy", "holds fewer bytes than its shape"),
        ("notes.txt", "unknown format '.txt'"),
    ]


def one_clean_line(ch, run, what):
    """One error line, after the line saying what was read (both clients print it first)."""
    lines = [line for line in run.stderr.splitlines() if not line.startswith("read ")]
    ch.check(len(lines) == 1 and lines[0].startswith(PREFIX) and "Traceback" not in run.stderr,
             f"{what}: not one '{PREFIX}' line: {run.stderr!r}")


def group_errors(ch, args, clients):
    for name, expected in bad_files(args.work):
        path = os.path.join(args.work, name)
        argv = ["classify", "--model", BINARY, "--input", path, "--output", "-"]
        py, cpp = clients.py(*argv), clients.cpp(*argv)
        ch.equal(py.rc, 2, f"{name}: exit status ({py})")
        one_clean_line(ch, py, name)
        ch.check(py.stderr.startswith(f"{PREFIX}{path}") and expected in py.stderr,
                 f"{name}: message {py.stderr!r} lacks '{path}...{expected}'")
        ch.equal(py.rc, cpp.rc, f"{name}: exit status vs the C++ client's")
        ch.equal(py.stderr, cpp.stderr, f"{name}: message vs the C++ client's")
        ch.equal(py.stdout, b"", f"{name}: stdout")

    h5 = os.path.join(args.data, "card_class_a_embeddings.h5")
    for what, argv, fragment in [
            ("unknown model", ["--model", "nope"], "model 'nope' is not served"),
            ("unknown model, streamed", ["--model", "nope", "--stream", "always"],
             "model 'nope' is not served"),
            ("unknown version", ["--model", BINARY, "--version", "99"], "has no version 99"),
            ("unknown label", ["--model", BINARY, "--label", "nosuch"],
             "has no version label 'nosuch'")]:
        run = clients.py("classify", *argv, "--input", h5, "--output", "-")
        ch.equal(run.rc, 2, f"{what}: exit status ({run})")
        one_clean_line(ch, run, what)
        ch.check(fragment in run.stderr, f"{what}: {run.stderr!r} lacks {fragment!r}")
        cpp = clients.cpp("classify", *argv, "--input", h5, "--output", "-")
        ch.equal((run.rc, run.stderr), (cpp.rc, cpp.stderr), f"{what}: vs the C++ client")

    for what, argv, fragment in [
            ("no --output", ["classify", "--model", BINARY, "--input", h5], "--output"),
            ("--version with --label", ["classify", "--model", BINARY, "--input", h5,
                                        "--output", "-", "--version", "1", "--label", "x"],
             "--label"),
            ("bad --format", ["classify", "--model", BINARY, "--input", h5, "--output", "-",
                              "--format", "xml"], "--format"),
            ("no subcommand", [], "classify"),
            ("unknown flag", ["models", "--colour"], "--colour"),
            ("--cert without --key", ["models", "--cert", h5], "cert and key go together"),
            ("missing CA file", ["models", "--ca-cert", os.path.join(args.work, "no.pem")],
             "no.pem: cannot open")]:
        run = clients.py(*argv)
        ch.equal(run.rc, 2, f"{what}: exit status ({run})")
        one_clean_line(ch, run, what)
        ch.check(fragment in run.stderr, f"{what}: {run.stderr!r} lacks {fragment!r}")
        ch.equal(clients.cpp(*argv).rc, 2, f"{what}: the C++ client's exit status")

    for argv in (["classify", "--model", BINARY, "--input", h5, "--output", "-"], ["models"],
                 ["health"]):
        run = clients.py(*argv, "--deadline", "5", target="127.0.0.1:1")
        ch.equal(run.rc, 1, f"unreachable {argv[0]}: exit status ({run})")
        one_clean_line(ch, run, f"unreachable {argv[0]}")
    unknown = clients.py("health", "--service", "nope")
    ch.equal((unknown.rc, unknown.stdout), (1, b"SERVICE_UNKNOWN\n"), "health of an unknown one")

    missing = os.path.join(args.work, "no-stubs")
    run = clients.py("models", env={"ARGINATOR_PY_STUBS": missing})
    ch.equal(run.rc, 1, f"missing stubs: exit status ({run})")
    one_clean_line(ch, run, "missing stubs")
    ch.check(f"{missing}/arginator/v1/classifier_pb2.py does not exist" in run.stderr,
             f"missing stubs: {run.stderr!r}")


def import_package(args):
    sys.path.insert(0, os.path.join(args.source, "client", "python"))
    os.environ["ARGINATOR_PY_STUBS"] = args.stubs
    import arginator_client
    return arginator_client


def expect_error(ch, ac, code, fragment, what, call):
    try:
        result = call()
        if hasattr(result, "__next__"):
            list(result)
    except ac.ArginatorError as error:
        ch.check(error.code == code and fragment in str(error),
                 f"{what}: raised {error.code}: {error}, expected {code} with '{fragment}'")
        return error
    ch.fail(f"{what}: no ArginatorError")
    return None


def group_module(ch, args, clients):
    ac = import_package(args)
    inputs = write_inputs(args)
    embeddings = ac.read_embeddings(inputs["in.h5"])
    ch.equal(embeddings.values.shape, (40, 1024), "read_embeddings shape")
    ch.equal(embeddings.values.dtype, np.float32, "read_embeddings dtype")
    ch.equal(embeddings.ids, sorted(embeddings.ids, key=str.encode), "ids in dataset-name order")
    expected = {}
    cpp = clients.cpp("classify", "--model", CLASS, "--input", inputs["in.h5"], "--output", "-")
    for row in list(csv.reader(io.StringIO(cpp.stdout.decode(), newline="")))[1:]:
        expected[row[0]] = row[1]

    with ac.Client(args.target, deadline=10) as client:
        response = client.classify(embeddings.values, embeddings.ids, CLASS)
        ch.equal([p.id for p in response.predictions], embeddings.ids, "predictions in row order")
        ch.equal({p.id: p.label for p in response.predictions}, expected,
                 "labels vs the C++ client's")
        ch.equal((response.model_name, response.model_version), (CLASS, 1), "served by")
        ch.equal(len(response.labels), 5, "the class model's labels")
        ch.check(all(len(p.probabilities) == 5 for p in response.predictions), "probabilities")
        bare = client.classify(embeddings.values[:3], embeddings.ids[:3], CLASS,
                               probabilities=False)
        ch.check(all(len(p.probabilities) == 0 for p in bare.predictions),
                 "probabilities=False leaves them out")

        batches = list(client.classify_stream(embeddings.values, embeddings.ids, CLASS,
                                              batch_size=7))
        ch.equal(len(batches), 6, "one stream response per batch of 7 of 40")
        streamed = [p for b in batches for p in b.predictions]
        ch.equal([(p.id, p.label) for p in streamed],
                 [(p.id, p.label) for p in response.predictions], "stream = unary")
        # Batches of 7 and one of 40 are different forwards: the same up to float rounding.
        ch.check(np.allclose([p.score for p in streamed],
                             [p.score for p in response.predictions], rtol=0, atol=1e-5),
                 "stream scores = unary scores")

        models = client.list_models()
        ch.equal(sorted(m.name for m in models.models), [BINARY, CLASS], "list_models")
        metadata = client.metadata(CLASS, version=1)
        ch.equal((metadata.input_dim, list(metadata.labels)), (1024, list(response.labels)),
                 "metadata")
        ch.equal([client.health(), client.health(BINARY), client.health("nope")],
                 ["SERVING", "SERVING", "SERVICE_UNKNOWN"], "health")

        values, ids = embeddings.values, embeddings.ids
        expect_error(ch, ac, "NOT_FOUND", "model 'nope' is not served", "unknown model",
                     lambda: client.classify(values, ids, "nope"))
        expect_error(ch, ac, "NOT_FOUND", "model 'nope' is not served", "unknown model, stream",
                     lambda: client.classify_stream(values, ids, "nope"))
        expect_error(ch, ac, "INVALID_ARGUMENT", "39 ids for 40 embedding rows", "ids short",
                     lambda: client.classify(values, ids[1:], CLASS))
        expect_error(ch, ac, "INVALID_ARGUMENT", "not both", "version and label",
                     lambda: client.metadata(CLASS, version=1, label="stable"))
        error = expect_error(ch, ac, "INVALID_ARGUMENT", "nested.h5: object 'proteins'",
                             "bad file", lambda: ac.read_embeddings(
                                 os.path.join(args.work, "nested.h5")))
        ch.check(isinstance(error, ac.EmbeddingFileError), "a bad file is an EmbeddingFileError")
    expect_error(ch, ac, "INVALID_ARGUMENT", "cert and key go together", "cert without key",
                 lambda: ac.Client(args.target, cert=inputs["in.h5"]))

    # Retries: UNAVAILABLE again after a backoff (three attempts sleep >= 50 + 100 ms more than
    # one), and never past the deadline.
    def time_unavailable(**options):
        with ac.Client("127.0.0.1:1", **options) as client:
            start = time.monotonic()
            expect_error(ch, ac, "UNAVAILABLE", "", f"unreachable {options}", client.list_models)
            return time.monotonic() - start
    once = time_unavailable(deadline=5, max_attempts=1)
    thrice = time_unavailable(deadline=5, max_attempts=3)
    ch.check(thrice - once >= 0.15, f"one attempt {once:.3f} s, three {thrice:.3f} s")
    bounded = time_unavailable(deadline=0.5, max_attempts=100)
    ch.check(bounded < 1.5, f"deadline 0.5 s with 100 attempts took {bounded:.2f} s")


def group_label(ch, args, clients):
    h5 = os.path.join(args.data, "card_class_a_embeddings.h5")

    def versions(*argv):
        run = clients.py("classify", "--model", BINARY, "--input", h5, "--format", "jsonl",
                         "--output", "-", *argv)
        if not ch.check(run.rc == 0, f"{argv}: {run}"):
            return set()
        return {json.loads(line)["version"] for line in run.stdout.splitlines()}

    ch.equal(versions(), {2}, "no selector: the highest version")
    ch.equal(versions("--label", "canary"), {1}, "--label canary")
    ch.equal(versions("--label", "canary", "--stream", "always", "--batch", "5"), {1},
             "--label canary, streamed")
    ch.equal(versions("--version", "1"), {1}, "--version 1")
    same_output(ch, clients, args.work, "--label canary", "--model", BINARY, "--input", h5,
                "--label", "canary")
    for argv in (["metadata", "--model", BINARY, "--label", "canary"], ["models"]):
        cpp, py = clients.cpp(*argv), clients.py(*argv)
        ch.equal((py.rc, py.stdout), (cpp.rc, cpp.stdout), " ".join(argv))
    ch.check(b"version:     1\n" in clients.py("metadata", "--model", BINARY, "--label",
                                               "canary").stdout, "metadata --label canary")

    ac = import_package(args)
    embeddings = ac.read_embeddings(h5)
    with ac.Client(args.target) as client:
        ch.equal(client.classify(embeddings.values, embeddings.ids, BINARY,
                                 label="canary").model_version, 1, "Client.classify(label=)")
        ch.equal(client.metadata(BINARY, label="canary").version, 1, "Client.metadata(label=)")
        labelled = {v.version: list(v.version_labels) for m in client.list_models().models
                    if m.name == BINARY for v in m.versions}
        ch.equal(labelled, {1: ["canary"], 2: []}, "list_models labels")


def group_tls(ch, args, clients, mutual):
    ca, cert, key = (os.path.join(args.certs, f) for f in ("ca.pem", "client.pem", "client.key"))
    h5 = os.path.join(args.data, "card_class_a_embeddings.h5")
    tls = ["--ca-cert", ca] + (["--cert", cert, "--key", key] if mutual else [])
    what = "mutual TLS" if mutual else "TLS"
    same_output(ch, clients, args.work, what, "--model", BINARY, "--input", h5, *tls)
    ok = clients.py("health", *tls, "--authority", "localhost")
    ch.equal((ok.rc, ok.stdout), (0, b"SERVING\n"), f"{what} --authority localhost ({ok})")
    wrong = clients.py("health", *tls, "--authority", "wrong.example", "--deadline", "5")
    ch.equal(wrong.rc, 1, f"{what} --authority not in the certificate ({wrong})")
    one_clean_line(ch, wrong, f"{what} wrong authority")
    refused = [("plaintext", [])]
    if mutual:
        refused.append(("no client certificate", ["--ca-cert", ca]))
    else:
        refused.append(("--tls without the private CA", ["--tls"]))
    for case, argv in refused:
        run = clients.py("health", *argv, "--deadline", "5")
        ch.equal(run.rc, 1, f"{what}, {case}: exit status ({run})")
        one_clean_line(ch, run, f"{what}, {case}")
    if mutual:
        run = clients.py("health", "--ca-cert", ca, "--cert", cert)
        ch.equal(run.rc, 2, f"--cert without --key ({run})")
        one_clean_line(ch, run, "--cert without --key")

    ac = import_package(args)
    options = dict(ca_cert=ca, cert=cert, key=key) if mutual else dict(ca_cert=ca)
    with ac.Client(args.target, **options) as client:
        ch.equal(client.health(), "SERVING", f"Client over {what}")
        ch.equal(len(client.classify(np.zeros((2, 1024), np.float32), ["a", "b"],
                                     BINARY).predictions), 2, f"Client.classify over {what}")


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("group", choices=("parity", "errors", "module", "label", "tls", "mtls"))
    parser.add_argument("--source", required=True, help="the repository")
    parser.add_argument("--stubs", required=True, help="the generated stubs (build/python)")
    parser.add_argument("--target", required=True)
    parser.add_argument("--cpp-client", required=True, help="the C++ arginator-client")
    parser.add_argument("--data", required=True, help="arginator-train gen-data output")
    parser.add_argument("--work", required=True, help="a scratch directory")
    parser.add_argument("--certs", help="ca.pem, client.pem, client.key (tls, mtls)")
    parser.add_argument("--metrics", help="http://HOST:PORT of the server's /metrics (parity)")
    args = parser.parse_args()
    ch, clients = Checks(), Clients(args)
    with ch.group(args.group):
        if args.group == "parity":
            group_parity(ch, args, clients)
        elif args.group == "errors":
            group_errors(ch, args, clients)
        elif args.group == "module":
            bad_files(args.work)
            group_module(ch, args, clients)
        elif args.group == "label":
            group_label(ch, args, clients)
        else:
            group_tls(ch, args, clients, mutual=args.group == "mtls")
    return 1 if ch.failures else 0


if __name__ == "__main__":
    sys.exit(main())
