"""Reads embeddings for classification from the formats users have, as the C++ client does
(common/embedding_files.cc: the same formats, checks, messages and source strings):

 - .h5 / .hdf5: one dataset per protein at the root, as the seed project, bio_embeddings, ProtTrans
   and UniProt write them (hdf5_embeddings.py: ids, per-residue pooling, layouts);
 - .csv / .tsv: one protein per line, id then `dim` numbers, RFC 4180 quoting (an id may hold the
   separator); a first line is a header when it starts with "id", when none of its values is a
   number (column names), or when its values are the column numbers 0..dim-1 or 1..dim (pandas'
   `to_csv()` above a matrix without names);
 - .npy: little-endian float16, float32 or float64 [N, dim], C order; ids from "<file>.ids" (one
   per line) when that file exists, else the row index.

Ids can then be renamed by an id map or the FASTA the embeddings were made from (id_map.py).
Every error is an EmbeddingFileError whose message names the file and the line, row or dataset.
"""
import math
import os
import struct
from typing import List, NamedTuple, Optional

import numpy as np

from .errors import EmbeddingFileError
from .hdf5_embeddings import read_h5
from .id_map import load_id_map
from .text_files import ASCII_WHITESPACE, decode, read_bytes, split_or_raise

EMBEDDING_DIM = 1024  # ProtT5


class EmbeddingSource(NamedTuple):
    """What a read found (common/embedding_source.h's EmbeddingSource; the strings are shared with
    the C++ client, its `inspect` and its summary line)."""
    layout: str     # e.g. "bio_embeddings reduced embeddings", "CSV", "NPY"
    ids: str        # where the ids came from, e.g. "original_id attributes"
    precision: str  # widest float stored: "float16", "float32", "float64"; "text" for CSV
    pooled: int     # per-residue arrays mean-pooled into one row each


class Embeddings(NamedTuple):
    ids: List[str]
    values: np.ndarray  # float32 [len(ids), dim], C order
    source: Optional[EmbeddingSource] = None  # set by read_embeddings


def read_embeddings(path, dim=EMBEDDING_DIM, *, pool_residues=True, id_map=None, fasta=None):
    """Reads `path` by its extension; raises EmbeddingFileError.

    pool_residues: mean-pool per-residue HDF5 arrays [L, dim] (else they are an error).
    id_map / fasta (at most one): a key/id table or the FASTA the embeddings were made from; every
    id read is replaced by the id it maps to (id_map.py). The map is read before the embeddings.
    The result's `source` says what was found; with a map, its ids text ends " -> <map path>"."""
    mapping = load_id_map(id_map, fasta)
    ext = os.path.splitext(path)[1].lower()
    if ext in (".h5", ".hdf5"):
        ids, values, found = read_h5(path, dim, pool_residues)
        source = EmbeddingSource(*found)
    elif ext in (".csv", ".tsv"):
        tsv = ext == ".tsv"
        ids, values = _read_csv(path, dim, "\t" if tsv else ",")
        source = EmbeddingSource("TSV" if tsv else "CSV", "first column", "text", 0)
    elif ext == ".npy":
        ids, values, ids_from, precision = _read_npy(path, dim)
        source = EmbeddingSource("NPY", ids_from, precision, 0)
    else:
        raise EmbeddingFileError(
            "INVALID_ARGUMENT",
            f"{path}: unknown format '{ext}' (use .h5, .hdf5, .csv, .tsv or .npy)")
    if mapping is not None:
        ids = mapping.apply(path, ids)
        source = source._replace(ids=f"{source.ids} -> {mapping.path}")
    return Embeddings(ids, np.ascontiguousarray(values, dtype=np.float32), source)


def describe_read(path, rows, source):
    """One line for a person, the C++ DescribeRead's: "read N embeddings from F: <layout>; ids from
    <ids>[; K per-residue arrays mean-pooled]"."""
    line = f"read {rows} embeddings from {path}: {source.layout}; ids from {source.ids}"
    if source.pooled > 0:
        line += f"; {source.pooled} per-residue arrays mean-pooled"
    return line


def _invalid(message):
    return EmbeddingFileError("INVALID_ARGUMENT", message)


def _read_csv(path, dim, sep):
    text = decode(path, read_bytes(path, with_reason=False))
    ids, rows = [], []
    for line_no, line in enumerate(text.split("\n"), start=1):
        line = line[:-1] if line.endswith("\r") else line
        if not line.strip(ASCII_WHITESPACE):
            continue
        if line_no == 1 and line[:2].lower() == "id":  # a header
            continue
        fields = split_or_raise(path, line_no, line, sep)
        if line_no == 1 and len(fields) == dim + 1 and _is_header_row(fields):
            continue
        if len(fields) != dim + 1:
            raise _invalid(f"{path}: line {line_no} has {len(fields) - 1} values after the id, "
                           f"expected {dim}")
        # A quoted id is kept exactly; an unquoted one loses surrounding whitespace.
        id_ = fields[0] if line.startswith('"') else fields[0].strip(ASCII_WHITESPACE)
        row = _parse_row(fields[1:])
        if isinstance(row, int):
            raise _invalid(f"{path}: line {line_no} ('{id_}'), value {row + 1} is not a number: "
                           f"'{fields[row + 1]}'")
        bad = _first_non_finite(row)
        if bad is not None:
            raise _invalid(f"{path}: line {line_no} ('{id_}') has {_kind(row[bad])} at value "
                           f"{bad + 1}")
        ids.append(id_)
        rows.append(row)
    if not rows:
        raise _invalid(f"{path}: no embeddings")
    return ids, np.stack(rows)


def _is_header_row(fields):
    """common/embedding_files.cc's IsHeaderRow: no value is a number, or the values are exactly
    the column numbers 0..dim-1 or 1..dim. A data row with a typo among numbers is not a header."""
    any_number, from_zero, from_one = False, True, True
    for j, field in enumerate(fields[1:], start=1):
        if isinstance(_parse_row([field]), int):
            continue
        any_number = True
        n = _atoi(field)
        from_zero = from_zero and n == j - 1
        from_one = from_one and n == j
    return not any_number or from_zero or from_one


def _atoi(text):
    """absl::SimpleAtoi's rule: optional surrounding whitespace and sign, decimal digits only."""
    t = text.strip(" \t\n\v\f\r")
    digits = t[1:] if t[:1] in "+-" else t
    return int(t) if digits.isdigit() and digits.isascii() else None


def _parse_row(fields):
    """float32 values, or the index of the first field that is not a number (absl::SimpleAtof's
    rule: surrounding whitespace allowed; no digit separators, which float() would take)."""
    values = []
    for index, field in enumerate(fields):
        try:
            if "_" in field:
                return index
            values.append(float(field))
        except ValueError:
            return index
    with np.errstate(over="ignore"):  # beyond float32's range is Inf, as strtof makes it
        return np.array(values, dtype=np.float64).astype(np.float32)


def _first_non_finite(values, chunk=1 << 24):
    """The flat index of the first NaN/Inf in `values`, or None; checked 64 MB at a time, so a
    memory-mapped file is not held in memory by a mask of its size."""
    flat = values.reshape(-1)
    for start in range(0, flat.size, chunk):
        finite = np.isfinite(flat[start:start + chunk])
        if not finite.all():
            return start + int(np.argmin(finite))
    return None


def _kind(value):
    return "NaN" if math.isnan(value) else "Inf"


def _read_npy(path, dim):
    """NPY format 1.0/2.0/3.0: magic, version, header length, a Python dict literal, the data.
    Returns (ids, values, where the ids came from, the stored precision)."""
    # The header is read first and the array straight into a NumPy buffer (which NumPy backs
    # with huge pages): reading the whole file into bytes first spent most of a large file's time
    # faulting in pages (docs/benchmarks.md). The checks and messages are unchanged.
    try:
        file = open(path, "rb")
    except OSError as error:
        raise EmbeddingFileError("NOT_FOUND", f"{path}: cannot open: {error.strerror}") from None
    with file:
        file_size = os.fstat(file.fileno()).st_size
        data = file.read(12)
        if len(data) >= 10 and data.startswith(b"\x93NUMPY"):
            length = struct.unpack_from("<H", data, 8)[0] if data[6] == 1 else (
                struct.unpack_from("<I", data, 8)[0] if len(data) >= 12 else 0)
            data += file.read(min(length, max(0, file_size - 12)))
        return _parse_npy(path, dim, file, file_size, data)


def _parse_npy(path, dim, file, file_size, data):
    """The NPY header in `data` (the file's first bytes), then the array from `file`."""
    def bad(why):
        return _invalid(f"{path}: {why}")

    if len(data) < 10 or not data.startswith(b"\x93NUMPY"):
        raise bad("not an NPY file")
    if data[6] == 1:
        header_len, offset = struct.unpack_from("<H", data, 8)[0], 10
    else:
        if len(data) < 12:
            raise bad("truncated NPY header")
        header_len, offset = struct.unpack_from("<I", data, 8)[0], 12
    if offset + header_len > file_size:
        raise bad("truncated NPY header")
    header = data[offset:offset + header_len].decode("latin-1")
    if "'fortran_order': True" in header:
        raise bad("Fortran-ordered arrays are not supported; save with C order")
    if "'<f4'" in header:
        dtype = np.dtype("<f4")
    elif "'<f8'" in header:
        dtype = np.dtype("<f8")
    elif "'<f2'" in header:
        dtype = np.dtype("<f2")
    else:
        # The header's padding and newline are dropped: an error is one line.
        raise bad("dtype must be little-endian float16, float32 or float64; header: "
                  f"{header.strip()}")
    shape_at = header.find("'shape': (")
    if shape_at < 0:
        raise bad("NPY header has no shape")
    shape_end = header.find(")", shape_at)
    shape = header[shape_at + 10:shape_end if shape_end >= 0 else len(header)]
    dims = [d.strip() for d in shape.split(",") if d.strip()]
    if len(dims) != 2 or not all(_is_int(d) for d in dims):
        raise bad(f"shape ({shape}) is not 2-D [N, {dim}]")
    rows, cols = int(dims[0]), int(dims[1])
    if cols != dim or cols <= 0:
        raise bad(f"shape ({shape}) has {cols} columns, expected {dim}")
    if rows < 0:
        raise bad(f"shape ({shape}) has a negative row count")
    data_at = offset + header_len
    if rows > (file_size - data_at) // (cols * dtype.itemsize):
        raise bad(f"holds fewer bytes than its shape ({shape}) needs")
    if dtype == np.float32 and rows > 0:
        # Mapped, not read: the clients send a request's rows at a time from it, so a file larger
        # than memory classifies (the kernel pages it in and out).
        values = np.memmap(path, dtype, mode="r", offset=data_at, shape=(rows * cols,))
    else:
        stored = np.empty(rows * cols, dtype)
        file.seek(data_at)
        if file.readinto(memoryview(stored).cast("B")) != stored.nbytes:
            raise EmbeddingFileError("DATA_LOSS", f"{path}: could not read the array")
        with np.errstate(over="ignore"):
            values = stored if dtype == np.float32 else stored.astype(np.float32)
    bad_at = _first_non_finite(values)
    if bad_at is not None:
        raise bad(f"row {bad_at // cols} has {_kind(values[bad_at])} at column {bad_at % cols}")
    ids_path = path + ".ids"
    if os.path.exists(ids_path):
        text = decode(ids_path, read_bytes(ids_path, with_reason=True))
        ids, ids_from = [line for line in text.split("\n") if line], ids_path
        if len(ids) != rows:
            raise _invalid(f"{ids_path}: has {len(ids)} ids for {rows} rows")
    else:
        ids, ids_from = [str(i) for i in range(rows)], "row index"
    if rows == 0:
        raise bad("no embeddings")
    precision = {2: "float16", 4: "float32", 8: "float64"}[dtype.itemsize]
    return ids, values.reshape(rows, cols), ids_from, precision


def _is_int(text):
    digits = text[1:] if text[:1] in "+-" else text
    return digits.isascii() and digits.isdigit()
