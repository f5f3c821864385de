#!/usr/bin/env python3
"""Issue 25: the Python client reads embedding files as the field's tools write them, by the rules
and with the messages shared with the C++ client (docs: client/python/README.md, "Inputs"):
bio_embeddings' reduced_embeddings_file.h5 (md5 keys; ids from `original_id` attributes or from
mapping_file.csv one folder up), per-residue arrays mean-pooled, ProtTrans' prott5_embedder keys
(whole FASTA headers), UniProt's per-protein.h5, RFC 4180 quoted CSV ids, --id-map and --fasta,
and the `inspect` command (run as a subprocess with no stubs).

The fixtures are written at test time with h5py exactly as each tool writes them.
Usage: python_embedding_layouts_test.py [SOURCE_DIR]  (default: this file's repository)
"""
import hashlib
import os
import subprocess
import sys
import tempfile
import unittest

import h5py
import numpy as np

SOURCE = os.path.realpath(sys.argv[1] if len(sys.argv) > 1 else
                          os.path.join(os.path.dirname(__file__), "..", ".."))
CLIENT = os.path.join(SOURCE, "client", "python")
sys.path.insert(0, CLIENT)
from arginator_client import (EmbeddingFileError, EmbeddingSource, Embeddings,  # noqa: E402
                              describe_read, read_embeddings)

DIM = 1024
BIO = "bio_embeddings reduced embeddings"
MD5_IDS = "dataset names (md5 digests of the sequences: give --fasta FILE to recover the FASTA ids)"
PROTTRANS = "ProtTrans embedder (keys are FASTA headers with '/' and '.' replaced by '_')"
EXPECTED = "expected [1024] (per protein) or [L, 1024] (per residue, mean-pooled)"

# Headers as NCBI, UniProt and a nucleotide-derived record write them, and a sequence each.
RECORDS = [
    ("WP_000027057.1 MULTISPECIES: class A beta-lactamase TEM-1 [Enterobacteriaceae]",
     "MSIQHFRVALIPFFAAFCLPVFAHPETLVKVKDAEDQLGARVGYIELDLNSGKILESFRPEERFPMMSTFKVLLCGAVLSRIDAGQEQLGR"
     "RIHYSQNDLVEYSPVTEKHLTDGMTVRELCSAAITMSDNTAANLLLTTIGGPKELTAFLHNMGDHVTRLDRWEPELNEAIPNDERDTTMPV"),
    ("sp|P0A9Q9|DHAS_ECOLI Aspartate-semialdehyde dehydrogenase OS=Escherichia coli",
     "MKNVGFIGWRGMVGSVLMQRMVEERDFDAIRPVFFSTSQLGQAAPSFGGTTGTLQDAFDLEALKALDIIVTCQGGDYTNEIYPKLRESGW"),
    ("NG_049880.1/1-876 blaOXA-48 carbapenem-hydrolyzing class D beta-lactamase OXA-48",
     "MRVLALSAVFLVASIIGMPAVAKEWQENKSWNAHFTEHKSQGVVVLWNENKQQGFTNNLKRANQAFLPASTFKIPNSLIALDLGVVKDEHQ"),
]
FASTA_IDS = ["WP_000027057.1", "sp|P0A9Q9|DHAS_ECOLI", "NG_049880.1/1-876"]


def md5(sequence):
    return hashlib.md5(sequence.encode()).hexdigest()


def prottrans_key(header):
    """prott5_embedder.py's read_fasta: the whole header, '/' and '.' made '_'."""
    return header.strip().replace("/", "_").replace(".", "_")


def csv_quote(text):
    """pandas' QUOTE_MINIMAL."""
    if any(c in text for c in ',"\n\r'):
        return '"' + text.replace('"', '""') + '"'
    return text


def write_fasta(path, records=RECORDS, line_width=60, newline="\n"):
    with open(path, "w", newline="") as f:
        for header, sequence in records:
            f.write(f">{header}{newline}")
            for at in range(0, len(sequence), line_width):
                f.write(sequence[at:at + line_width] + newline)
            f.write(newline)  # a blank line between records, as some tools write


def write_bio_embeddings(path, embeddings, original_ids=None):
    """bio_embeddings' embed stage: create_dataset(md5 key, data=embedding), then
    attrs["original_id"] = the FASTA id (h5py writes a str as variable-length UTF-8)."""
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with h5py.File(path, "w") as f:
        for i, (key, embedding) in enumerate(embeddings.items()):
            f.create_dataset(key, data=embedding)
            if original_ids is not None:
                f[key].attrs["original_id"] = original_ids[i]


def write_mapping_file(path, rows):
    """bio_embeddings' mapping_file.csv: DataFrame(index=key, columns=[original_id,
    sequence_length]).to_csv(), i.e. pandas' header with an empty index label, QUOTE_MINIMAL."""
    with open(path, "w", newline="") as f:
        f.write(",original_id,sequence_length\n")
        for key, original_id, length in rows:
            f.write(f"{csv_quote(key)},{csv_quote(original_id)},{length}\n")


def pooled(values):
    """The spec's mean: float64 sum over residues, / L, cast to float32."""
    return (values.astype(np.float64).sum(axis=0) / values.shape[0]).astype(np.float32)


class LayoutTest(unittest.TestCase):
    def setUp(self):
        tmp = tempfile.TemporaryDirectory()
        self.addCleanup(tmp.cleanup)
        self.dir = tmp.name
        self.rng = np.random.default_rng(25)
        self.fasta = os.path.join(self.dir, "proteins.fasta")
        write_fasta(self.fasta)

    def path(self, *parts):
        return os.path.join(self.dir, *parts)

    def vectors(self, n, dtype=np.float32):
        return self.rng.standard_normal((n, DIM)).astype(dtype)

    def assertError(self, message, code="INVALID_ARGUMENT", **kwargs):
        """The call read_embeddings(**kwargs) raises exactly `message`."""
        path = kwargs.pop("path")
        with self.assertRaises(EmbeddingFileError) as raised:
            read_embeddings(path, **kwargs)
        self.assertEqual(raised.exception.message, message)
        self.assertEqual(raised.exception.code, code)

    def bio_embeddings_stage(self, dtype=np.float32, with_attributes=True):
        """prefix/<stage>/reduced_embeddings_file.h5 for RECORDS; returns (path, values by
        FASTA id)."""
        values = self.vectors(len(RECORDS), dtype)
        path = self.path("prefix", "prottrans_t5_xl_u50_embeddings", "reduced_embeddings_file.h5")
        write_bio_embeddings(path, {md5(s): v for (_, s), v in zip(RECORDS, values)},
                             FASTA_IDS if with_attributes else None)
        return path, dict(zip(FASTA_IDS, values))

    def assertRows(self, got, expected_by_id):
        """Rows in dataset-name order, each equal (bit for bit) to its expected float32 row."""
        self.assertEqual(got.values.dtype, np.float32)
        self.assertEqual(sorted(got.ids), sorted(expected_by_id))
        for i, id_ in enumerate(got.ids):
            expected = np.asarray(expected_by_id[id_]).astype(np.float32)
            self.assertTrue(np.array_equal(got.values[i], expected), id_)

    # bio_embeddings ---------------------------------------------------------------------------

    def test_bio_embeddings_original_id_attributes_float32_and_float16(self):
        for dtype, precision in ((np.float32, "float32"), (np.float16, "float16")):
            path, by_id = self.bio_embeddings_stage(dtype)
            got = read_embeddings(path)
            order = sorted(range(3), key=lambda i: md5(RECORDS[i][1]))  # dataset-name order
            self.assertEqual(got.ids, [FASTA_IDS[i] for i in order])
            self.assertRows(got, by_id)
            self.assertEqual(got.source, EmbeddingSource(BIO, "original_id attributes",
                                                         precision, 0))

    def test_a_fixed_length_original_id_is_read_too(self):
        path = self.path("fixed.h5")
        with h5py.File(path, "w") as f:
            f.create_dataset("k1", data=self.vectors(1)[0])
            f["k1"].attrs.create("original_id", np.bytes_(b"WP_1.1"))
        self.assertEqual(read_embeddings(path).ids, ["WP_1.1"])

    def test_mapping_file_in_the_parent_directory(self):
        path, by_id = self.bio_embeddings_stage(with_attributes=False)
        ids = ["WP_000027057.1", 'id, with "comma"', "NG_049880.1/1-876"]  # pandas quotes it
        mapping = self.path("prefix", "mapping_file.csv")
        write_mapping_file(mapping, [(md5(s), i, len(s)) for (_, s), i in zip(RECORDS, ids)])
        got = read_embeddings(path)
        self.assertRows(got, dict(zip(ids, by_id.values())))
        self.assertEqual(got.source, EmbeddingSource(BIO, f"mapping_file.csv ({mapping})",
                                                     "float32", 0))
        # Beside the file wins over the parent's.
        beside = os.path.join(os.path.dirname(path), "mapping_file.csv")
        write_mapping_file(beside, [(md5(s), f"x{i}", len(s)) for i, (_, s) in enumerate(RECORDS)])
        self.assertEqual(read_embeddings(path).source.ids, f"mapping_file.csv ({beside})")
        os.remove(beside)
        # A path without a directory: the parent is "..".
        cwd = os.getcwd()
        os.chdir(os.path.dirname(path))
        try:
            got = read_embeddings("reduced_embeddings_file.h5")
        finally:
            os.chdir(cwd)
        self.assertEqual(got.source.ids, "mapping_file.csv (../mapping_file.csv)")

    def test_a_mapping_file_of_other_data_is_ignored(self):
        path, _ = self.bio_embeddings_stage(with_attributes=False)
        write_mapping_file(self.path("prefix", "mapping_file.csv"), [(md5("OTHER"), "o", 5)])
        self.assertEqual(read_embeddings(path).source,
                         EmbeddingSource(BIO, MD5_IDS, "float32", 0))

    def test_partial_mapping_file(self):
        path, _ = self.bio_embeddings_stage(with_attributes=False)
        mapping = self.path("prefix", "mapping_file.csv")
        write_mapping_file(mapping, [(md5(s), i, len(s)) for (_, s), i in
                                     zip(RECORDS[:2], FASTA_IDS[:2])])
        self.assertError(f"{mapping}: lists 2 of the 3 datasets in {path} (not "
                         f"'{md5(RECORDS[2][1])}'); the ids cannot be recovered", path=path)

    def test_not_a_mapping_file(self):
        path, _ = self.bio_embeddings_stage(with_attributes=False)
        mapping = self.path("prefix", "mapping_file.csv")
        with open(mapping, "w") as f:
            f.write("key,id\nk,v\n")
        self.assertError(f"{mapping}: not a bio_embeddings mapping file (line 1: no original_id "
                         "column)", path=path)
        with open(mapping, "w") as f:
            f.write(",original_id,sequence_length\n\nk,v,3\nk2,v2\n")
        self.assertError(f"{mapping}: not a bio_embeddings mapping file (line 4: 2 fields, the "
                         "header has 3)", path=path)

    def test_duplicate_original_id(self):
        path = self.path("dup.h5")
        values = self.vectors(3)
        write_bio_embeddings(path, {"a" * 32: values[0], "b" * 32: values[1], "c" * 32: values[2]},
                             ["P1", "P2", "P1"])
        self.assertError(f"{path}: datasets '{'a' * 32}' and '{'c' * 32}' both have original_id "
                         "'P1'", path=path)

    def test_md5_keys_recovered_with_the_fasta(self):
        path, by_id = self.bio_embeddings_stage(with_attributes=False)
        self.assertEqual(read_embeddings(path).source, EmbeddingSource(BIO, MD5_IDS, "float32", 0))
        got = read_embeddings(path, fasta=self.fasta)
        self.assertRows(got, by_id)
        self.assertEqual(got.source.ids, f"{MD5_IDS} -> {self.fasta}")

    # per-residue ------------------------------------------------------------------------------

    def test_per_residue_arrays_are_mean_pooled_bit_for_bit(self):
        path = self.path("prefix", "embed", "embeddings_file.h5")
        arrays = {md5(s): self.vectors(len(s)) * 3 for _, s in RECORDS}
        arrays[md5("MK")] = self.vectors(1)  # [1, dim]: per protein, not pooled
        write_bio_embeddings(path, arrays, FASTA_IDS + ["short"])
        got = read_embeddings(path)
        by_id = {i: pooled(arrays[md5(s)]) for i, (_, s) in zip(FASTA_IDS, RECORDS)}
        by_id["short"] = arrays[md5("MK")][0]
        self.assertRows(got, by_id)
        self.assertEqual(got.source, EmbeddingSource(BIO, "original_id attributes", "float32", 3))
        # The C++ loop: residue by residue in float64, then one rounding.
        for i, (_, s) in enumerate(RECORDS):
            total = np.zeros(DIM)
            for residue in arrays[md5(s)]:
                total += residue.astype(np.float64)
            row = got.ids.index(FASTA_IDS[i])
            self.assertTrue(np.array_equal((total / len(s)).astype(np.float32), got.values[row]))
        key = min(md5(s) for _, s in RECORDS)
        length = len(arrays[key])
        self.assertError(f"{path}: dataset '{key}' has shape [{length}, {DIM}]: per-residue "
                         "embeddings (one row per residue); mean-pool them over residues (the "
                         "default) or give per-protein embeddings", path=path, pool_residues=False)
        self.assertEqual(describe_read(path, 4, got.source),
                         f"read 4 embeddings from {path}: {BIO}; ids from original_id attributes; "
                         "3 per-residue arrays mean-pooled")

    def test_per_residue_float16_and_shape_errors(self):
        path = self.path("half.h5")
        residues = self.vectors(7, np.float16)
        write_bio_embeddings(path, {"P1": residues})
        got = read_embeddings(path)
        self.assertTrue(np.array_equal(got.values[0], pooled(residues.astype(np.float32))))
        self.assertEqual(got.source, EmbeddingSource("per-protein datasets", "dataset names",
                                                     "float16", 1))
        residues = self.vectors(4)
        residues[2, 9] = np.nan
        write_bio_embeddings(path, {"P1": residues})
        self.assertError(f"{path}: dataset 'P1' has NaN at residue 2, position 9", path=path)
        residues[2, 9], residues[3, 0] = 1.0, -np.inf
        write_bio_embeddings(path, {"P1": residues})
        self.assertError(f"{path}: dataset 'P1' has Inf at residue 3, position 0", path=path)
        for shape, message in (((0, DIM), f"has shape [0, {DIM}]: no residues"),
                               ((2, 3, DIM), f"has rank 3, {EXPECTED}"),
                               ((5, 512), f"has shape [5, 512], {EXPECTED}"),
                               ((512,), f"has shape [512], {EXPECTED}")):
            write_bio_embeddings(path, {"P1": np.zeros(shape, np.float32)})
            self.assertError(f"{path}: dataset 'P1' {message}", path=path)
        write_bio_embeddings(path, {"P1": np.zeros((100001, 2), np.float32)})  # width first
        self.assertError(f"{path}: dataset 'P1' has shape [100001, 2], {EXPECTED}", path=path)

    # ProtTrans, UniProt --------------------------------------------------------------------

    def test_prottrans_keys_recovered_with_the_fasta(self):
        path = self.path("protein_embeddings.h5")
        values = self.vectors(3, np.float16)  # prott5_embedder.py stores half precision
        with h5py.File(path, "w") as f:
            for (header, _), v in zip(RECORDS, values):
                f.create_dataset(prottrans_key(header), data=v)
        got = read_embeddings(path)
        self.assertEqual(got.source, EmbeddingSource(
            PROTTRANS, "dataset names (give --fasta FILE to recover the FASTA ids)", "float16", 0))
        self.assertIn("WP_000027057_1 MULTISPECIES: class A beta-lactamase TEM-1 "
                      "[Enterobacteriaceae]", got.ids)
        got = read_embeddings(path, fasta=self.fasta)
        self.assertRows(got, dict(zip(FASTA_IDS, values)))
        self.assertIn("WP_000027057.1", got.ids)

    def test_uniprot_per_protein_accessions(self):
        path = self.path("per-protein.h5")
        accessions = ["P0A9Q9", "A0A023GPI8", "Q9XYZ1", "O15552"]
        values = self.vectors(4)
        with h5py.File(path, "w") as f:
            for accession, v in zip(accessions, values):
                f.create_dataset(accession, data=v)
        got = read_embeddings(path)
        self.assertRows(got, dict(zip(accessions, values)))
        self.assertEqual(got.source, EmbeddingSource(
            "UniProt per-protein.h5", "dataset names (UniProt accessions)", "float32", 0))
        with h5py.File(path, "a") as f:
            f.create_dataset("not_an_accession", data=values[0])
        self.assertEqual(read_embeddings(path).source[:2], ("per-protein datasets",
                                                            "dataset names"))

    # CSV --------------------------------------------------------------------------------------

    def test_quoted_csv_ids(self):
        path = self.path("quoted.csv")
        values = self.vectors(4)
        ids = ['WP_1.1, a "TEM-1" variant', "  padded  ", "plain", ""]
        with open(path, "w") as f:
            f.write("id" + "".join(f",v{j}" for j in range(DIM)) + "\n")
            f.write('"WP_1.1, a ""TEM-1"" variant",' + ",".join(f'"{v!r}"' for v in
                                                                 values[0].tolist()) + "\n")
            f.write('"  padded  ",' + ",".join(repr(v) for v in values[1].tolist()) + "\r\n")
            f.write("  plain ," + ",".join(repr(v) for v in values[2].tolist()) + "\n")
            f.write('"",' + ",".join(repr(v) for v in values[3].tolist()) + "\n")
        got = read_embeddings(path)
        self.assertEqual(got.ids, ids)
        self.assertTrue(np.array_equal(got.values, values))
        self.assertEqual(got.source, EmbeddingSource("CSV", "first column", "text", 0))
        tsv = self.path("quoted.tsv")
        with open(tsv, "w") as f:
            f.write('"a\tb"\t' + "\t".join(repr(v) for v in values[0].tolist()) + "\n")
        got = read_embeddings(tsv)
        self.assertEqual((got.ids, got.source.layout), (["a\tb"], "TSV"))
        rest = "," + ",".join("0.5" for _ in range(DIM - 1))
        for line, message in (('"P1"x,0.5' + rest, "line 1: field 1 has text after its closing "
                                                   "quote"),
                              ('P1,"0.5' + rest, "line 1: field 2 has an unclosed quote (quoted "
                                                 "fields cannot span lines)"),
                              ('P1,"abc"' + rest, "line 1 ('P1'), value 1 is not a number: "
                                                  "'abc'")):
            with open(path, "w") as f:
                f.write(line + "\n")
            self.assertError(f"{path}: {message}", path=path)

    # id maps ----------------------------------------------------------------------------------

    def test_id_map_table(self):
        path = self.path("in.csv")
        values = self.vectors(2)
        with open(path, "w") as f:
            for key, v in zip(("k1", "k2"), values):
                f.write(key + "," + ",".join(repr(x) for x in v.tolist()) + "\n")
        table = self.path("map.tsv")
        with open(table, "w") as f:
            f.write("key\tid\n\nk1\tWP_000027057.1\nk2\t\"a\tb\"\nk1\tWP_000027057.1\nk3\tX\n")
        got = read_embeddings(path, id_map=table)
        self.assertEqual(got.ids, ["WP_000027057.1", "a\tb"])
        self.assertEqual(got.source.ids, f"first column -> {table}")
        comma = self.path("map.csv")
        with open(comma, "w") as f:
            f.write('k1,"x, y"\nk2,z\n')
        self.assertEqual(read_embeddings(path, id_map=comma).ids, ["x, y", "z"])

    def test_id_map_errors(self):
        path = self.path("in.csv")
        with open(path, "w") as f:
            for key in ("a", "b", "c", "d", "e"):
                f.write(key + ",0.5" * DIM + "\n")
        table = self.path("map.tsv")
        for text, message in (("key\tid\na\tA\nb\tB\tx\n", "line 3 has 3 fields; expected 2 "
                                                            "(key, id)"),
                              ("a\tA\nb\t\n", "line 2 has an empty id"),
                              ("a\tA\nb\tB\na\tC\n", "key 'a' is mapped twice (line 1: 'A', line "
                                                     "3: 'C')"),
                              ('a\t"A\n', "line 1: field 2 has an unclosed quote (quoted fields "
                                          "cannot span lines)")):
            with open(table, "w") as f:
                f.write(text)
            self.assertError(f"{table}: {message}", path=path, id_map=table)
        with open(table, "w") as f:
            f.write("b\tB\n")
        self.assertError(f"{path}: 4 of 5 ids are not in {table} (e.g. 'a', 'c', 'd')",
                         path=path, id_map=table)
        with open(table, "w") as f:
            f.write("a\tX\nb\tY\nc\tX\nd\tD\ne\tE\n")
        self.assertError(f"{path}: 'a' and 'c' both map to 'X'", path=path, id_map=table)
        self.assertError(f"{self.path('none.tsv')}: cannot open", "NOT_FOUND", path=path,
                         id_map=self.path("none.tsv"))
        self.assertError("give an id map table or a FASTA file, not both", path=path,
                         id_map=table, fasta=self.fasta)

    def test_fasta_errors(self):
        path, _ = self.bio_embeddings_stage(with_attributes=False)
        fasta = self.path("twins.fasta")
        twin = (RECORDS[0][0].replace("WP_000027057.1", "WP_999.1"), RECORDS[0][1])
        write_fasta(fasta, RECORDS + [twin], newline="\r\n")  # CRLF, as Windows tools write
        self.assertError(f"{fasta}: key '{md5(RECORDS[0][1])}' matches the records "
                         "'WP_000027057.1' and 'WP_999.1'", path=path, fasta=fasta)
        write_fasta(fasta, RECORDS[:1])
        self.assertError(f"{path}: 2 of 3 ids are not in {fasta} (e.g. "
                         f"'{sorted(md5(s) for _, s in RECORDS[1:])[0]}', "
                         f"'{sorted(md5(s) for _, s in RECORDS[1:])[1]}')", path=path, fasta=fasta)
        with open(fasta, "w") as f:
            f.write("\nMKV\n>P1\nMKV\n")
        self.assertError(f"{fasta}: line 2 comes before the first '>' header", path=path,
                         fasta=fasta)
        with open(fasta, "w") as f:
            f.write("\n \n")
        self.assertError(f"{fasta}: no FASTA records", path=path, fasta=fasta)

    def test_npy_source_and_old_callers(self):
        npy = self.path("x.npy")
        np.save(npy, self.vectors(2, np.float16))
        self.assertEqual(read_embeddings(npy).source, EmbeddingSource("NPY", "row index",
                                                                      "float16", 0))
        with open(npy + ".ids", "w") as f:
            f.write("A\nB\n")
        self.assertEqual(read_embeddings(npy).source.ids, npy + ".ids")
        old = Embeddings(["A"], np.zeros((1, DIM), np.float32))  # constructed as before
        self.assertIsNone(old.source)
        self.assertEqual(describe_read(npy, 2, read_embeddings(npy).source),
                         f"read 2 embeddings from {npy}: NPY; ids from {npy}.ids")

    # the command line -------------------------------------------------------------------------

    def cli(self, *args, stubs=None):
        env = {k: v for k, v in os.environ.items() if k != "ARGINATOR_PY_STUBS"}
        env["PYTHONPATH"] = CLIENT
        if stubs is not None:
            env["ARGINATOR_PY_STUBS"] = stubs
        return subprocess.run(["/usr/bin/python3", "-m", "arginator_client", *args], env=env,
                              capture_output=True, text=True, cwd=self.dir, timeout=120)

    def test_inspect_command(self):
        path = self.path("prefix", "embed", "reduced_embeddings_file.h5")
        arrays = {md5(RECORDS[0][1]): np.full(DIM, 0.125, np.float32),  # norm 4
                  md5(RECORDS[1][1]): np.full((6, DIM), 0.5, np.float16),  # pooled; norm 16
                  md5(RECORDS[2][1]): np.full((1, DIM), -0.25, np.float32)}  # norm 8
        write_bio_embeddings(path, arrays)
        order = sorted(range(3), key=lambda i: md5(RECORDS[i][1]))
        norms = {0: "4.0000", 1: "16.0000", 2: "8.0000"}
        expected = (f"file:      {path}\nlayout:    {BIO}\nids:       {MD5_IDS} -> {self.fasta}\n"
                    "proteins:  3\nprecision: float32\npooled:    1\n"
                    + "".join(f"{FASTA_IDS[i]}\t{norms[i]}\n" for i in order))
        run = self.cli("inspect", "--input", path, "--fasta", self.fasta, "--ids")
        self.assertEqual((run.returncode, run.stderr), (0, ""))
        self.assertEqual(run.stdout, expected)
        # No stubs at all (an empty directory): inspect never loads them.
        run = self.cli("inspect", "--input", path, stubs=self.dir)
        self.assertEqual(run.returncode, 0, run.stderr)
        self.assertEqual(run.stdout, f"file:      {path}\nlayout:    {BIO}\nids:       {MD5_IDS}\n"
                                     "proteins:  3\nprecision: float32\npooled:    1\n")
        run = self.cli("inspect", "--input", path, "--no-pooling")
        self.assertEqual(run.returncode, 2)
        self.assertEqual(run.stdout, "")
        self.assertEqual(run.stderr, f"arginator-client: error: {path}: dataset "
                                     f"'{md5(RECORDS[1][1])}' has shape [6, {DIM}]: per-residue "
                                     "embeddings (one row per residue); mean-pool them over "
                                     "residues (the default) or give per-protein embeddings\n")
        for command in (["inspect"], ["classify", "--model", "m", "--output", "-"]):
            run = self.cli(*command, "--input", path, "--fasta", self.fasta, "--id-map", "m.tsv")
            self.assertEqual(run.returncode, 2, command)
            self.assertIn("not allowed with argument", run.stderr)


if __name__ == "__main__":
    unittest.main(argv=sys.argv[:1])
