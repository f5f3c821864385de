"""Reads embeddings for classification from the formats users have, as the C++ client does
(common/embedding_files.cc: the same formats, checks and messages):

 - .h5 / .hdf5: the seed project's layout (one dataset per protein, named by its id);
 - .csv / .tsv: one protein per line, id then `dim` numbers; a first line is a header when it
   starts with "id", when none of its values is a number (column names), or when its values are
   the column numbers 0..dim-1 or 1..dim (pandas' `to_csv()` above a matrix without names);
 - .npy: little-endian float16, float32 or float64 [N, dim], C order; ids from "<file>.ids" (one per line)
   when that file exists, else the row index.

Every error is an EmbeddingFileError whose message names the file and the line, row or dataset.
"""
import math
import os
import struct
from typing import List, NamedTuple

import numpy as np

from .errors import EmbeddingFileError
from .hdf5_embeddings import read_h5

EMBEDDING_DIM = 1024  # ProtT5


class Embeddings(NamedTuple):
    ids: List[str]
    values: np.ndarray  # float32 [len(ids), dim], C order


def read_embeddings(path, dim=EMBEDDING_DIM):
    """Reads `path` by its extension; raises EmbeddingFileError."""
    ext = os.path.splitext(path)[1].lower()
    if ext in (".h5", ".hdf5"):
        ids, values = read_h5(path, dim)
    elif ext in (".csv", ".tsv"):
        ids, values = _read_csv(path, dim, "\t" if ext == ".tsv" else ",")
    elif ext == ".npy":
        ids, values = _read_npy(path, dim)
    else:
        raise EmbeddingFileError(
            "INVALID_ARGUMENT",
            f"{path}: unknown format '{ext}' (use .h5, .hdf5, .csv, .tsv or .npy)")
    return Embeddings(ids, np.ascontiguousarray(values, dtype=np.float32))


def _invalid(message):
    return EmbeddingFileError("INVALID_ARGUMENT", message)


def _read_bytes(path, with_reason):
    try:
        with open(path, "rb") as file:
            return file.read()
    except OSError as error:
        reason = f": {error.strerror}" if with_reason else ""
        raise EmbeddingFileError("NOT_FOUND", f"{path}: cannot open{reason}") from None


def _decode(path, data):
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as error:
        line = data[:error.start].count(b"\n") + 1
        raise _invalid(f"{path}: line {line} is not UTF-8") from None


def _read_csv(path, dim, sep):
    text = _decode(path, _read_bytes(path, with_reason=False))
    ids, rows = [], []
    for line_no, line in enumerate(text.split("\n"), start=1):
        line = line[:-1] if line.endswith("\r") else line
        if not line.strip(" \t\n\v\f\r"):
            continue
        if line_no == 1 and line[:2].lower() == "id":  # a header
            continue
        fields = line.split(sep)
        if line_no == 1 and len(fields) == dim + 1 and _is_header_row(fields):
            continue
        if len(fields) != dim + 1:
            raise _invalid(f"{path}: line {line_no} has {len(fields) - 1} values after the id, "
                           f"expected {dim}")
        id_ = fields[0].strip(" \t\n\v\f\r")
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


def _first_non_finite(row):
    finite = np.isfinite(row)
    return None if finite.all() else int(np.argmin(finite))


def _kind(value):
    return "NaN" if math.isnan(value) else "Inf"


def _read_npy(path, dim):
    """NPY format 1.0/2.0/3.0: magic, version, header length, a Python dict literal, the data."""
    data = _read_bytes(path, with_reason=True)

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
    if offset + header_len > len(data):
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
    if rows > (len(data) - data_at) // (cols * dtype.itemsize):
        raise bad(f"holds fewer bytes than its shape ({shape}) needs")
    with np.errstate(over="ignore"):
        values = np.frombuffer(data, dtype, rows * cols, data_at).astype(np.float32)
    bad_at = _first_non_finite(values)
    if bad_at is not None:
        raise bad(f"row {bad_at // cols} has {_kind(values[bad_at])} at column {bad_at % cols}")
    ids_path = path + ".ids"
    if os.path.exists(ids_path):
        text = _decode(ids_path, _read_bytes(ids_path, with_reason=True))
        ids = [line for line in text.split("\n") if line]
        if len(ids) != rows:
            raise _invalid(f"{ids_path}: has {len(ids)} ids for {rows} rows")
    else:
        ids = [str(i) for i in range(rows)]
    if rows == 0:
        raise bad("no embeddings")
    return ids, values.reshape(rows, cols)


def _is_int(text):
    digits = text[1:] if text[:1] in "+-" else text
    return digits.isascii() and digits.isdigit()
