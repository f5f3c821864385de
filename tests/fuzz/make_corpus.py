#!/usr/bin/python3
"""Writes the fuzz targets' seed corpora into tests/fuzz/corpus/<target>/ (docs/fuzzing.md).

Deterministic: rerunning it rewrites the same files. Needs only Debian's python3-h5py (the HDF5
seeds); the protobuf requests are encoded by hand from the wire format, so no generated stubs.
Usage: /usr/bin/python3 tests/fuzz/make_corpus.py
"""
import json
import math
import os
import shutil
import struct

import h5py
import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
CORPUS = os.path.join(HERE, "corpus")
DIM = 1024  # the request parser target's width (ProtT5)


def write(target, name, data):
    os.makedirs(os.path.join(CORPUS, target), exist_ok=True)
    mode = "wb" if isinstance(data, bytes) else "w"
    with open(os.path.join(CORPUS, target, name), mode) as f:
        f.write(data)


# --- protobuf wire format (arginator/v1/classifier.proto) ---
def varint(n):
    n &= (1 << 64) - 1
    out = bytearray()
    while True:
        b = n & 0x7F
        n >>= 7
        out.append(b | (0x80 if n else 0))
        if not n:
            return bytes(out)


def field_varint(num, n):
    return varint(num << 3) + varint(n)


def field_bytes(num, data):
    if isinstance(data, str):
        data = data.encode()
    return varint((num << 3) | 2) + varint(len(data)) + data


def floats(values):
    return struct.pack("<%df" % len(values), *values)


def model_spec(name="betalactamase-binary", version=None, label=None):
    spec = field_bytes(1, name)
    if version is not None:
        spec += field_varint(2, version)
    if label is not None:
        spec += field_bytes(3, label)
    return field_bytes(1, spec)


def row(seed, dim=DIM):
    return [math.sin(seed * 7.0 + j) * 0.2 for j in range(dim)]


def embedding(eid, values, packed=True):
    msg = field_bytes(1, eid)
    if packed:  # proto3's default encoding of repeated float
        msg += field_bytes(2, floats(values))
    else:  # one fixed32 per value, which parsers must also accept
        msg += b"".join(varint((2 << 3) | 5) + struct.pack("<f", v) for v in values)
    return field_bytes(2, msg)


def packed(rows, ids=None):
    msg = field_bytes(3, b"".join(floats(r) for r in rows))
    for i in ids or []:
        msg += field_bytes(4, i)
    return msg


def request_seeds():
    t = "request_parser"
    write(t, "repeated_one", model_spec(version=1) + embedding("P12345", row(1)))
    write(t, "repeated_two_label",
          model_spec(label="stable") + embedding("a", row(2)) + embedding("b", row(3))
          + field_varint(5, 1) + field_bytes(6, "req-7"))
    write(t, "repeated_unpacked_floats", model_spec() + embedding("u", row(4), packed=False))
    write(t, "packed_one_no_ids", model_spec() + packed([row(5)]))
    write(t, "packed_two_ids", model_spec(version=3) + packed([row(6), row(7)], ["x", "y"]))
    write(t, "packed_ids_mismatch", model_spec() + packed([row(8)], ["x", "y"]))
    write(t, "packed_bad_width", model_spec() + field_bytes(3, floats(row(9, DIM - 1))))
    write(t, "repeated_bad_width", model_spec() + embedding("short", row(10, 3)))
    write(t, "both_forms", model_spec() + embedding("a", row(11)) + packed([row(12)]))
    write(t, "nan_value", model_spec() + packed([row(13)[:5] + [float("nan")] + row(13)[6:]]))
    write(t, "inf_value", model_spec() + embedding("i", [float("inf")] + row(14)[1:]))
    write(t, "norm_beyond_float", model_spec() + packed([[3e37] * DIM]))
    write(t, "too_many_rows", model_spec() + packed([[0.0] * DIM] * 3))  # the target allows 2
    write(t, "empty", model_spec())
    write(t, "no_model", embedding("m", row(15)))
    write(t, "long_name", model_spec(name="n" * 300) + packed([row(16)]))
    write(t, "bad_version", model_spec(version=-5) + packed([row(17)]))
    write(t, "empty_label", model_spec(label="") + packed([row(18)]))


# --- model.json ---
def card(**changes):
    c = {
        "name": "betalactamase-binary", "version": 3, "task": "binary", "input_dim": 4,
        "labels": ["non_betalactamase", "betalactamase"], "output": "probabilities",
        "architecture": {"kind": "ffnn", "hidden": [8]}, "hyperparameters": {"lr": 0.001},
        "dataset": {"files": [{"path": "a.h5", "sha256": "00"}]},
        "metrics": {"val": {"accuracy": 0.9}, "test": {"f1": 0.8}},
        "input_statistics": {"l2_norm": {"mean": 6.0, "std": 0.5, "min": 4.0, "max": 8.0,
                                         "quantiles": {"p1": 4.5, "p50": 6.0, "p99": 7.5}}},
        "golden": {"tolerance": 1e-4, "examples": [
            {"id": "g1", "input": [0.1, 0.2, 0.3, 0.4], "probabilities": [0.25, 0.75]}]},
        "model_sha256": "ab" * 32, "created": "2024-01-01T00:00:00Z",
        "trainer_version": "0.1.0", "torch_version": "1.13.1", "config": {"task": "binary"},
    }
    for k, v in changes.items():
        if v is None:
            c.pop(k, None)
        else:
            c[k] = v
    return json.dumps(c, indent=1)


def model_card_seeds():
    t = "model_card"
    write(t, "valid", card())
    write(t, "valid_multiclass", card(task="multiclass", labels=list("ABCDE"), golden=None,
                                      output="logits"))
    write(t, "minimal", card(architecture=None, hyperparameters=None, dataset=None, metrics=None,
                             input_statistics=None, golden=None, config=None, created=None))
    write(t, "float_version", card(version=1.5))
    write(t, "big_input_dim", card(input_dim=1e10))
    write(t, "string_version", card(version="3"))
    write(t, "one_label", card(labels=["only"]))
    write(t, "golden_wrong_width", card(golden={"tolerance": 0.1, "examples": [
        {"id": "g", "input": [1, 2], "probabilities": [0.5, 0.5]}]}))
    write(t, "golden_not_object", card(golden=[1, 2]))
    write(t, "stats_wrong_type", card(input_statistics={"l2_norm": {"mean": "six"}}))
    write(t, "not_object", "[1, 2, 3]")
    write(t, "truncated", card()[:200])


# --- embedding files (byte 0: format in bits 0-1, width code in bits 2-4; see the target) ---
def npy(array, descr=None, shape=None):
    header = "{'descr': '%s', 'fortran_order': False, 'shape': %s, }" % (
        descr or array.dtype.str, shape or str(tuple(array.shape)))
    header += " " * ((64 - (10 + len(header) + 1) % 64) % 64) + "\n"
    return (b"\x93NUMPY\x01\x00" + struct.pack("<H", len(header)) + header.encode()
            + array.tobytes())


def embedding_seeds():
    t = "embedding_files"
    csv, tsv, npy_plain, npy_ids = 0, 1, 2, 3
    w4 = 3 << 2  # width code 3: 4 values per row
    data = np.array([[0.5, -1.0, 2.25, 3.0], [1e-3, 4.0, 5.5, -6.0]], dtype="<f4")
    write(t, "csv_header", bytes([csv | w4]) + b"id,v0,v1,v2,v3\np1,0.5,-1,2.25,3\np2,1e-3,4,5.5,-6\n")
    write(t, "csv_crlf_blank", bytes([csv | w4]) + b"p1, 0.5,-1,2.25,3\r\n\r\n  \np2,1,2,3,4\r\n")
    write(t, "csv_bad_value", bytes([csv | w4]) + b"p1,0.5,x,2.25,3\n")
    write(t, "csv_nan", bytes([csv | w4]) + b"p1,0.5,nan,2.25,inf\n")
    write(t, "tsv", bytes([tsv | w4]) + b"id\tv0\tv1\tv2\tv3\np1\t0.5\t-1\t2.25\t3\n")
    write(t, "npy_f4", bytes([npy_plain | w4]) + npy(data))
    write(t, "npy_f8", bytes([npy_plain | w4]) + npy(data.astype("<f8")))
    write(t, "npy_fortran", bytes([npy_plain | w4]) + npy(data).replace(b"False", b"True "))
    write(t, "npy_short_data", bytes([npy_plain | w4]) + npy(data)[:-5])
    write(t, "npy_big_shape", bytes([npy_plain | w4]) + npy(data, shape="(9007199254740993, 4)"))
    # rows * cols * 4 wrapped to 16 (tests/common: NpyShapeBeyondItsDataIsAnErrorNotAnAllocation).
    write(t, "npy_shape_wraps",
          bytes([npy_plain | w4]) + npy(data, shape="(1152921504606846977, 4)"))
    v2 = npy(data).replace(b"\x93NUMPY\x01\x00", b"\x93NUMPY\x02\x00")
    write(t, "npy_v2", bytes([npy_plain | w4]) + v2[:8] + v2[8:10] + b"\x00\x00" + v2[10:])
    ids = b"prot_a\nprot_b\n"
    write(t, "npy_ids", bytes([npy_ids | w4, len(ids)]) + npy(data) + ids)
    write(t, "npy_ids_count_wrong", bytes([npy_ids | w4, 7]) + npy(data) + b"only_1\n")
    w1024 = 7 << 2
    write(t, "npy_1024", bytes([npy_plain | w1024])
          + npy(np.array([row(1)], dtype="<f4")))


def h5_seeds():
    t = "embedding_h5"
    tmp = os.path.join(CORPUS, t, ".tmp.h5")
    os.makedirs(os.path.dirname(tmp), exist_ok=True)

    def h5(name, fill):
        with h5py.File(tmp, "w", libver="earliest") as f:
            fill(f)
        with open(tmp, "rb") as f:
            write(t, name, f.read())
        os.remove(tmp)

    def valid(f):
        f.attrs["synthetic"] = np.bytes_("true")
        f.attrs["generator"] = np.bytes_("make_corpus.py")
        f.create_dataset("P1", data=np.array([0.5, -1, 2, 3], dtype="<f4"))
        f.create_dataset("P2", data=np.array([[1, 2, 3, 4]], dtype="<f8"))
    h5("valid", valid)

    def string_array_attribute(f):  # tests/common: RootAttributesSkipArraysOfStrings
        valid(f)
        f.attrs.create("generator", data=np.array([b"a" * 20, b"b" * 20, b"c" * 20], dtype="S20"))
    h5("string_array_attribute", string_array_attribute)
    h5("wrong_width", lambda f: f.create_dataset("P", data=np.zeros(5, dtype="<f4")))
    h5("rank3", lambda f: f.create_dataset("P", data=np.zeros((1, 1, 4), dtype="<f4")))
    h5("integers", lambda f: f.create_dataset("P", data=np.arange(4, dtype="<i4")))
    h5("nan", lambda f: f.create_dataset("P", data=np.array([0, np.nan, 1, 2], dtype="<f4")))
    h5("group", lambda f: f.create_group("G"))
    h5("empty", lambda f: None)
    h5("half_floats", lambda f: f.create_dataset("P", data=np.ones(4, dtype="<f2")))


def config_seeds():
    t = "config"
    layered, server, trainer = b"\x00", b"\x01", b"\x02"
    root = os.path.dirname(os.path.dirname(HERE))
    with open(os.path.join(root, "configs", "server.yaml"), "rb") as f:
        write(t, "server_yaml", server + f.read())
    with open(os.path.join(root, "configs", "train", "binary.yaml"), "rb") as f:
        write(t, "trainer_yaml", trainer + f.read() + b"\0experiment.lr=0.01\0model.hidden=[64]")
    write(t, "server_overrides", server + b"server:\n  port: 6000\n\0models.latest=2"
          b"\0models.policies={m: specific 3 5}\0keepalive.time_s=1.5")
    write(t, "server_unknown_key", server + b"servr: {port: 1}\n")
    write(t, "server_bad_type", server + b"\0server.port=[1, 2]")
    write(t, "trainer_split", trainer + b"data:\n  split: {train: 0.5, val: 0.25, test: 0.25}\n")
    write(t, "layered", layered + b"name: x\nnested:\n  deeper: {limit: 9}\n  free: {a: 1, b: [2]}\n"
          b"labels: {m: stable}\n\0list=[3, 4]\0nested.label=canary")
    write(t, "layered_map_for_value", layered + b"port: {a: 1}\n")
    write(t, "layered_value_for_map", layered + b"\0nested=5")
    write(t, "layered_anchor_alias", layered + b"list: &a [1, 2]\nlabels: {x: *a}\n")
    write(t, "layered_bad_override", layered + b"\0nested.label\0=3\0name=[unclosed")
    write(t, "empty", layered)


def rest_infer_seeds():
    """v2 REST bodies for a 4-wide, 3-class model: JSON header, then NUL and the binary section."""
    t = "rest_infer"
    vals = [0.5, -0.25, 1.0, 2.0, 0.125, 0.0, -1.5, 3.0]

    def body(inputs, outputs=None, parameters=None, binary=b""):
        doc = {"id": "r1", "inputs": inputs}
        if outputs is not None:
            doc["outputs"] = outputs
        if parameters is not None:
            doc["parameters"] = parameters
        out = json.dumps(doc).encode()
        return out + (b"\0" + binary if binary else b"")

    emb = lambda shape, data: {"name": "embedding", "datatype": "FP32", "shape": shape, "data": data}
    write(t, "flat", body([emb([2, 4], vals)]))
    write(t, "nested", body([emb([2, 4], [vals[:4], vals[4:]])], [{"name": "label"}]))
    write(t, "outputs", body([emb([1, 4], vals[:4])],
                             [{"name": "probabilities", "parameters": {"classification": 2}},
                              {"name": "l2_norm", "parameters": {"binary_data": True}},
                              {"name": "out_of_distribution"}, {"name": "class_index"}]))
    raw = {"name": "embedding", "datatype": "FP32", "shape": [2, 4],
           "parameters": {"binary_data_size": 32}}
    write(t, "binary", body([raw], parameters={"binary_data_output": True}, binary=floats(vals)))
    write(t, "binary_short", body([raw], binary=floats(vals[:3])))
    write(t, "ragged", body([emb([2, 4], [vals[:5], vals[5:]])]))
    write(t, "fp16", body([{"name": "embedding", "datatype": "FP16", "shape": [1, 4],
                            "data": [1, 2, 3, 4]}]))
    write(t, "nan_like", body([emb([1, 4], [1e39, 0, 0, 0])]))
    write(t, "two_inputs", body([emb([1, 4], vals[:4]), emb([1, 4], vals[:4])]))
    write(t, "bad_types", b'{"inputs": [{"name": 1, "shape": "x"}], "outputs": 5}')


if __name__ == "__main__":
    for target in ("request_parser", "model_card", "embedding_files", "embedding_h5", "config",
                   "rest_infer"):
        shutil.rmtree(os.path.join(CORPUS, target), ignore_errors=True)
    request_seeds()
    model_card_seeds()
    embedding_seeds()
    h5_seeds()
    config_seeds()
    rest_infer_seeds()
