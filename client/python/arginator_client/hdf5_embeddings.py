"""Reads per-protein HDF5 files as the field writes them: one dataset per protein at the root, shape
[dim] or [1, dim] (any floating-point type: float16 from GPU embedders, float32, float64), or
[L, dim] per residue, mean-pooled over residues unless pool_residues is false. Covers the seed
project's layout, bio_embeddings' reduced_embeddings_file.h5 (ids from each dataset's
`original_id` attribute, else from mapping_file.csv: embedding_layouts.py), ProtTrans'
prott5_embedder.py output and UniProt's per-protein.h5.

The checks, their order and their messages are common/hdf5_embeddings.cc's, so both clients
reject a file with the same words. Rows come back in dataset-name order (byte order of the UTF-8
names, HDF5's H5_INDEX_NAME), so reads are deterministic.
"""
import os

import h5py
import numpy as np

from .embedding_layouts import resolve_hdf5_ids
from .errors import EmbeddingFileError

# The widest float type read (long double); real files hold 2, 4 or 8-byte floats.
_MAX_FLOAT_BYTES = 16
# Longer string attributes are skipped rather than read: the size comes from the file.
_MAX_ATTRIBUTE_BYTES = 1 << 16
# The longest protein is ~35,000 residues (titin); a per-residue array beyond this is refused
# before it is read.
MAX_RESIDUES = 100000


def read_h5(path, dim, pool_residues=True):
    """Returns (ids, float32 array [n, dim], (layout, ids text, precision, pooled));
    raises EmbeddingFileError."""
    if not os.access(path, os.R_OK):
        raise EmbeddingFileError("NOT_FOUND", f"{path}: no such readable file")
    try:
        is_hdf5 = os.path.isfile(path) and h5py.is_hdf5(path)
    except Exception:
        is_hdf5 = False
    if not is_hdf5:
        raise EmbeddingFileError("INVALID_ARGUMENT", f"{path}: not an HDF5 file")
    try:
        file = h5py.File(path, "r")
    except Exception:
        raise EmbeddingFileError("INVALID_ARGUMENT", f"{path}: cannot open HDF5 file") from None
    rows, original_ids, widest, pooled = [], [], 0, 0
    with file:
        try:
            names = sorted(file.keys(), key=lambda name: name.encode("utf-8"))
        except Exception:
            raise EmbeddingFileError("DATA_LOSS", f"{path}: cannot list the root group") from None
        for name in names:
            dataset, row, residues = _read_dataset(file, path, name, dim, pool_residues)
            rows.append(row)
            pooled += int(residues > 1)
            widest = max(widest, dataset.dtype.itemsize)
            original_ids.append(string_attribute(dataset, "original_id"))
    if not rows:
        raise EmbeddingFileError("INVALID_ARGUMENT", f"{path}: file contains no embeddings")
    ids, (layout, ids_text) = resolve_hdf5_ids(path, names, original_ids)
    return ids, np.stack(rows), (layout, ids_text, precision_name(widest), pooled)


def precision_name(size):
    """"float16", "float32", "float64" ("float128" for 16-byte floats) for a float's bytes."""
    return f"float{8 * size}"


def mean_over_residues(values):
    """The mean of float32 rows [L, dim]: summed in float64 in residue order, divided by L, rounded
    once to float32 (bit-identical to the C++ loop; numpy adds the rows of a C-order array in
    order when it reduces over axis 0)."""
    return (np.ascontiguousarray(values).astype(np.float64).sum(axis=0)
            / values.shape[0]).astype(np.float32)


def string_attribute(obj, name):
    """A scalar string attribute (fixed or variable length, as h5py writes a str), cut at its first
    NUL, or "" when `obj` has no such attribute or it is not a readable string of at most 64 KiB
    (common/hdf5_embeddings.cc's StringAttribute)."""
    try:
        if name not in obj.attrs:
            return ""
        attr = h5py.h5a.open(obj.id, name.encode("utf-8"))
        kind = attr.get_type()
        if kind.get_class() != h5py.h5t.STRING or attr.get_space().get_simple_extent_npoints() != 1:
            return ""
        if not kind.is_variable_str() and kind.get_size() > _MAX_ATTRIBUTE_BYTES:
            return ""
        value = obj.attrs[name]
        if isinstance(value, np.ndarray):
            value = value.reshape(-1)[0]
        if isinstance(value, bytes):
            value = value.decode("utf-8")
        if not isinstance(value, str):
            return ""
    except Exception:
        return ""
    value = value.split("\0", 1)[0]
    return value if len(value.encode("utf-8")) <= _MAX_ATTRIBUTE_BYTES else ""


def _read_dataset(file, path, name, dim, pool_residues):
    """(dataset, float32 row [dim], residues) for one root member; raises EmbeddingFileError."""
    def bad(why):
        return EmbeddingFileError("INVALID_ARGUMENT", f"{path}: dataset '{name}' {why}")

    try:
        dataset = file[name]  # a dangling soft or external link raises here
    except Exception:
        dataset = None
    if not isinstance(dataset, h5py.Dataset):
        raise EmbeddingFileError(
            "INVALID_ARGUMENT", f"{path}: object '{name}' is not a dataset (expected one {dim}-"
            "float dataset per protein at the root)")
    if dataset.dtype.kind != "f":
        raise bad("is not floating point")
    size = dataset.dtype.itemsize
    if size > _MAX_FLOAT_BYTES:
        raise bad(f"has {size}-byte floats; at most {_MAX_FLOAT_BYTES}")
    expected = f"expected [{dim}] (per protein) or [L, {dim}] (per residue, mean-pooled)"
    shape = dataset.shape or ()  # None for a null dataspace: rank 0
    if len(shape) not in (1, 2):
        raise bad(f"has rank {len(shape)}, {expected}")
    residues, width = (1, shape[0]) if len(shape) == 1 else shape
    if width != dim:
        raise bad(f"has shape [{', '.join(str(d) for d in shape)}], {expected}")
    if residues == 0:
        raise bad(f"has shape [0, {dim}]: no residues")
    if residues > 1 and not pool_residues:
        raise bad(f"has shape [{residues}, {dim}]: per-residue embeddings (one row per residue); "
                  "mean-pool them over residues (the default) or give per-protein embeddings")
    if residues > MAX_RESIDUES:
        raise bad(f"has {residues} residues; at most {MAX_RESIDUES}")
    try:
        with np.errstate(over="ignore"):  # a float64 beyond float32's range becomes Inf, as in C++
            values = dataset[()].astype(np.float32).reshape(residues, dim)
    except Exception:
        raise EmbeddingFileError("DATA_LOSS", f"{path}: could not read dataset '{name}'") from None
    finite = np.isfinite(values)
    if not finite.all():
        at = int(np.argmin(finite.reshape(-1)))
        kind = "NaN" if np.isnan(values.reshape(-1)[at]) else "Inf"
        if residues == 1:
            raise bad(f"has {kind} at position {at}")
        raise bad(f"has {kind} at residue {at // dim}, position {at % dim}")
    row = values[0] if residues == 1 else mean_over_residues(values)
    return dataset, row, residues
