"""Reads the seed project's HDF5 layout: one dataset of `dim` floats per protein at the root, named
by the protein id (shape [dim] or [1, dim], any floating-point type).

The checks, their order and their messages are common/hdf5_embeddings.cc's, so both clients
reject a file with the same words. Rows come back in dataset-name order (byte order of the UTF-8
names, HDF5's H5_INDEX_NAME), so reads are deterministic.
"""
import os

import h5py
import numpy as np

from .errors import EmbeddingFileError

# The widest float type read (long double); real files hold 2, 4 or 8-byte floats.
_MAX_FLOAT_BYTES = 16


def read_h5(path, dim):
    """Returns (ids, float32 array [n, dim]); raises EmbeddingFileError."""
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
    with file:
        try:
            names = sorted(file.keys(), key=lambda name: name.encode("utf-8"))
        except Exception:
            raise EmbeddingFileError("DATA_LOSS", f"{path}: cannot list the root group") from None
        rows = [_read_dataset(file, path, name, dim) for name in names]
    if not rows:
        raise EmbeddingFileError("INVALID_ARGUMENT", f"{path}: file contains no embeddings")
    return names, np.stack(rows)


def _read_dataset(file, path, name, dim):
    def bad(why):
        return EmbeddingFileError("INVALID_ARGUMENT", f"{path}: {why}")

    try:
        dataset = file[name]  # a dangling soft or external link raises here
    except Exception:
        dataset = None
    if not isinstance(dataset, h5py.Dataset):
        raise bad(f"object '{name}' is not a dataset (expected one {dim}-float dataset per "
                  "protein at the root)")
    if dataset.dtype.kind != "f":
        raise bad(f"dataset '{name}' is not floating point")
    size = dataset.dtype.itemsize
    if size > _MAX_FLOAT_BYTES:
        raise bad(f"dataset '{name}' has {size}-byte floats; at most {_MAX_FLOAT_BYTES}")
    shape = dataset.shape
    if len(shape) not in (1, 2):
        raise bad(f"dataset '{name}' has rank {len(shape)}, expected [{dim}] or [1, {dim}]")
    if shape[-1] != dim or (len(shape) == 2 and shape[0] != 1):
        shown = "[" + ", ".join(str(d) for d in shape) + "]"
        raise bad(f"dataset '{name}' has shape {shown}, expected [{dim}]")
    try:
        with np.errstate(over="ignore"):  # a float64 beyond float32's range becomes Inf, as in C++
            row = dataset[()].astype(np.float32).reshape(dim)
    except Exception:
        raise EmbeddingFileError("DATA_LOSS", f"{path}: could not read dataset '{name}'") from None
    finite = np.isfinite(row)
    if not finite.all():
        position = int(np.argmin(finite))
        kind = "NaN" if np.isnan(row[position]) else "Inf"
        raise bad(f"dataset '{name}' has {kind} at position {position}")
    return row
