#!/usr/bin/python3
"""Independent black-box test of arginator-server's Open Inference Protocol (KServe v2) support.

    /usr/bin/python3 tests/integration/v2_protocol_test.py --stubs build/python \
        --grpc 127.0.0.1:50051 --rest http://127.0.0.1:8080 --repository models

Checks gRPC v2 (inference.GRPCInferenceService, on the arginator.v1 port) and REST v2 (JSON and
the binary tensor data extension) against the models' own TorchScript output (torch.jit.load of
<repository>/<model>/1/model.pt), and against arginator.v1 Classify for consistency.

Uses only Debian's python3 modules (python3-grpcio, python3-numpy, python3-torch) and the stubs the
build generates (build/python: arginator/v1/classifier_pb2*.py, inference/grpc_predict_v2_pb2*.py).
Prints one line per check group, every failed check under its group, and exits 0 only when every
check passed (1 when any failed, 2 for bad arguments or missing modules).
"""
import argparse
import contextlib
import http.client
import json
import os
import re
import struct
import sys
import time
import traceback
import urllib.parse

import numpy as np

INPUT_DIM = 1024
OUTPUTS = ["probabilities", "label", "class_index", "score", "out_of_distribution", "l2_norm",
           "call", "confidence", "call_probability", "calibrated_probabilities", "ood_score"]
DATATYPES = {"probabilities": "FP32", "label": "BYTES", "class_index": "INT32", "score": "FP32",
             "out_of_distribution": "BOOL", "l2_norm": "FP32", "call": "BYTES",
             "confidence": "BYTES", "call_probability": "FP32",
             "calibrated_probabilities": "FP32", "ood_score": "FP32"}
MODEL_NAMES = ["betalactamase-binary", "betalactamase-class"]
UNKNOWN_MODEL = "no-such-model-v2test"
PROB_TOL = 1e-5     # server vs the TorchScript module, absolute
SAME_TOL = 1e-6     # between protocols (the same server computes them), absolute
NORM_RTOL = 1e-3    # l2_norm vs numpy, relative
RPC_TIMEOUT = 10.0

grpc = pb = pb_grpc = v1 = v1_grpc = torch = None  # imported in main() once --stubs is known


# ------------------------------------------------------------------------------------------------
# Check bookkeeping


class Checks:
    def __init__(self):
        self.failures = []   # (group, message)
        self.notes = []      # observations that are not failures
        self.group_name = None
        self.count = 0
        self.group_failures = []

    @contextlib.contextmanager
    def group(self, name):
        self.group_name, self.count, self.group_failures = name, 0, []
        start = time.monotonic()
        try:
            yield
        except Exception as e:  # an unexpected exception ends the group, not the run
            self.fail(f"group aborted by {describe(e)}")
            if not isinstance(e, (AssertionError, OSError)) and not is_rpc_error(e):
                traceback.print_exc(limit=3)
        passed = self.count - len(self.group_failures)
        status = "PASS" if not self.group_failures else "FAIL"
        print(f"{status} {name}: {passed}/{self.count} checks passed "
              f"({time.monotonic() - start:.2f} s)", flush=True)
        for message in self.group_failures:
            print(f"    - {message}", flush=True)

    @contextlib.contextmanager
    def step(self, what):
        """A sub-check whose unexpected exception fails it and lets the group go on."""
        try:
            yield
        except Exception as e:
            self.fail(f"{what}: {describe(e)}")

    def fail(self, message):
        self.count += 1
        self.group_failures.append(message)
        self.failures.append((self.group_name, message))

    def check(self, condition, message):
        if condition:
            self.count += 1
            return True
        self.fail(message)
        return False

    def note(self, message):
        self.notes.append(f"{self.group_name}: {message}")


def is_rpc_error(e):
    return grpc is not None and isinstance(e, grpc.RpcError)


def describe(e):
    if is_rpc_error(e) and hasattr(e, "code"):
        return f"gRPC {e.code().name}: {e.details()}"
    return f"{type(e).__name__}: {e}"


# ------------------------------------------------------------------------------------------------
# Models and inputs


class Model:
    def __init__(self, repository, name, version="1"):
        self.name = name
        directory = os.path.join(repository, name, version)
        with open(os.path.join(directory, "model.json")) as f:
            card = json.load(f)
        self.labels = list(card["labels"])
        self.input_dim = int(card["input_dim"])
        self.C = len(self.labels)
        self.module = torch.jit.load(os.path.join(directory, "model.pt"), map_location="cpu")
        self.module.eval()
        self._cache = {}

    def ref(self, x):
        key = x.tobytes()
        if key not in self._cache:
            with torch.no_grad():
                out = self.module(torch.from_numpy(np.ascontiguousarray(x, dtype=np.float32)))
            self._cache[key] = out.numpy().astype(np.float64)
        return self._cache[key]


def make_rows(n, seed, extremes=False):
    """n ProtT5-like rows: N(0,1) directions scaled to L2 norms ~6 (two far-off norms if asked)."""
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n, INPUT_DIM))
    x /= np.linalg.norm(x, axis=1, keepdims=True)
    norms = rng.uniform(5.7, 6.7, size=n)
    if extremes and n >= 3:
        norms[-2], norms[-1] = 1.5, 25.0
    return np.ascontiguousarray((x * norms[:, None]).astype(np.float32))


# ------------------------------------------------------------------------------------------------
# Decoding (shared by gRPC and REST)


class Tensor:
    def __init__(self, name, datatype, shape, values, parameters):
        self.name, self.datatype, self.shape = name, datatype, list(shape)
        self.values = values          # numpy array (FP32/INT32/BOOL) or list of bytes (BYTES)
        self.parameters = parameters  # dict name -> python value, or None if unavailable


def element_count(shape):
    count = 1
    for d in shape:
        if d < 0:
            raise ValueError(f"negative dimension in output shape {list(shape)}")
        count *= d
    return count


def decode_bytes_elements(data, count, what):
    values, offset = [], 0
    for i in range(count):
        if offset + 4 > len(data):
            raise ValueError(f"{what}: BYTES element {i}: {len(data) - offset} bytes left, "
                             f"need a 4-byte length")
        (length,) = struct.unpack_from("<I", data, offset)
        offset += 4
        if offset + length > len(data):
            raise ValueError(f"{what}: BYTES element {i} declares {length} bytes, "
                             f"{len(data) - offset} left")
        values.append(bytes(data[offset:offset + length]))
        offset += length
    if offset != len(data):
        raise ValueError(f"{what}: {len(data) - offset} trailing bytes after {count} BYTES "
                         f"elements")
    return values


def decode_raw(datatype, data, count, what):
    if datatype == "FP32":
        if len(data) != 4 * count:
            raise ValueError(f"{what}: FP32 raw has {len(data)} bytes, expected {4 * count}")
        return np.frombuffer(data, dtype="<f4").astype(np.float64)
    if datatype == "INT32":
        if len(data) != 4 * count:
            raise ValueError(f"{what}: INT32 raw has {len(data)} bytes, expected {4 * count}")
        return np.frombuffer(data, dtype="<i4").astype(np.int64)
    if datatype == "BOOL":
        if len(data) != count:
            raise ValueError(f"{what}: BOOL raw has {len(data)} bytes, expected {count}")
        raw = np.frombuffer(data, dtype=np.uint8)
        if np.any(raw > 1):
            raise ValueError(f"{what}: BOOL raw bytes other than 0/1: {sorted(set(raw.tolist()))}")
        return raw.astype(bool)
    if datatype == "BYTES":
        return decode_bytes_elements(data, count, what)
    raise ValueError(f"{what}: unexpected datatype {datatype!r}")


TYPED_FIELDS = ["bool_contents", "int_contents", "int64_contents", "uint_contents",
                "uint64_contents", "fp32_contents", "fp64_contents", "bytes_contents"]
TYPED_FIELD_OF = {"FP32": "fp32_contents", "INT32": "int_contents", "BOOL": "bool_contents",
                  "BYTES": "bytes_contents"}


def decode_typed(datatype, contents, count, what):
    field = TYPED_FIELD_OF.get(datatype)
    if field is None:
        raise ValueError(f"{what}: unexpected datatype {datatype!r}")
    others = [f for f in TYPED_FIELDS if f != field and len(getattr(contents, f))]
    if others:
        raise ValueError(f"{what}: {datatype} output also fills {others}")
    values = list(getattr(contents, field))
    if len(values) != count:
        raise ValueError(f"{what}: {field} has {len(values)} elements, expected {count}")
    if datatype == "FP32":
        return np.array(values, dtype=np.float64)
    if datatype == "INT32":
        return np.array(values, dtype=np.int64)
    if datatype == "BOOL":
        return np.array(values, dtype=bool)
    return [bytes(v) for v in values]


def param_value(p):
    which = p.WhichOneof("parameter_choice")
    return getattr(p, which) if which else None


def parse_grpc_response(resp, raw, what):
    """-> (tensors, problems). Raw requests must come back raw only, typed ones typed only."""
    problems, tensors = [], []
    if raw and len(resp.raw_output_contents) != len(resp.outputs):
        problems.append(f"{what}: {len(resp.raw_output_contents)} raw_output_contents for "
                        f"{len(resp.outputs)} outputs (raw request: expected one per output)")
    if not raw and len(resp.raw_output_contents):
        problems.append(f"{what}: typed request got {len(resp.raw_output_contents)} "
                        f"raw_output_contents (expected none)")
    for i, o in enumerate(resp.outputs):
        params = {k: param_value(v) for k, v in o.parameters.items()}
        try:
            count = element_count(o.shape)
            if raw:
                filled = [f for f in TYPED_FIELDS if len(getattr(o.contents, f))]
                if filled:
                    problems.append(f"{what}: raw request, output {o.name!r} also has typed "
                                    f"contents {filled}")
                data = resp.raw_output_contents[i] if i < len(resp.raw_output_contents) else b""
                values = decode_raw(o.datatype, data, count, f"{what} output {o.name!r}")
            else:
                values = decode_typed(o.datatype, o.contents, count, f"{what} output {o.name!r}")
        except ValueError as e:
            problems.append(str(e))
            values = None
        tensors.append(Tensor(o.name, o.datatype, o.shape, values, params))
    return tensors, problems


# ------------------------------------------------------------------------------------------------
# Output validation against the reference


def parse_classification(entry, what):
    """'score:index:label' -> (score, index, label)."""
    text = entry.decode("utf-8") if isinstance(entry, bytes) else entry
    parts = text.split(":", 2)
    if len(parts) != 3:
        raise ValueError(f"{what}: classification entry {text!r} is not score:index:label")
    try:
        return float(parts[0]), int(parts[1]), parts[2]
    except ValueError:
        raise ValueError(f"{what}: classification entry {text!r} is not score:index:label")


def validate_outputs(ch, what, m, x, tensors, requested=None, classification=None,
                     expect_labels_param=True):
    """Checks tensors (decoded outputs) for input x against model m. requested: the output names
    asked for (None: all six, in metadata order). classification: k when 'probabilities' was
    asked with the classification extension. Returns {name: values}."""
    n = len(x)
    ref = m.ref(x)
    ref_arg = ref.argmax(axis=1)
    top2 = np.sort(ref, axis=1)[:, -2:] if m.C >= 2 else None
    near_tie = (top2[:, 1] - top2[:, 0]) < 4 * PROB_TOL
    want = list(requested) if requested else OUTPUTS
    names = [t.name for t in tensors]
    ch.check(names == want, f"{what}: outputs {names}, expected {want}")
    by = {t.name: t for t in tensors}
    result = {}

    def header_ok(t, datatype, shape):
        ok = ch.check(t.datatype == datatype, f"{what}: output {t.name!r} datatype "
                      f"{t.datatype!r}, expected {datatype!r}")
        ok &= ch.check(t.shape == shape, f"{what}: output {t.name!r} shape {t.shape}, "
                       f"expected {shape}")
        return ok and t.values is not None  # undecodable values were reported when parsed

    prob = None
    t = by.get("probabilities")
    if t is not None and classification is None:
        if header_ok(t, "FP32", [n, m.C]):
            prob = np.asarray(t.values, dtype=np.float64).reshape(n, m.C)
            diff = np.abs(prob - ref)
            worst = np.unravel_index(diff.argmax(), diff.shape)
            ch.check(diff.max() <= PROB_TOL,
                     f"{what}: probabilities differ from the TorchScript module by up to "
                     f"{diff.max():.3g} at row {worst[0]} column {worst[1]} (got "
                     f"{prob[worst]:.9g}, module {ref[worst]:.9g}; tolerance {PROB_TOL})")
            result["probabilities"] = prob
        if expect_labels_param:
            got = None if t.parameters is None else t.parameters.get("labels")
            ch.check(got == ",".join(m.labels),
                     f"{what}: probabilities parameter 'labels' = {got!r}, expected "
                     f"{','.join(m.labels)!r} (parameters {t.parameters})")
    elif t is not None:
        k = classification
        if header_ok(t, "BYTES", [n, k]):
            entries = [parse_classification(e, what) for e in t.values]
            bad = []
            for i in range(n):
                row = entries[i * k:(i + 1) * k]
                idx = [e[1] for e in row]
                if len(set(idx)) != k or any(not 0 <= j < m.C for j in idx):
                    bad.append(f"row {i}: indices {idx} not {k} distinct classes of {m.C}")
                    continue
                for score, j, label in row:
                    if abs(score - ref[i, j]) > PROB_TOL:
                        bad.append(f"row {i}: class {j} score {score!r}, module {ref[i, j]:.9g}")
                    if label != m.labels[j]:
                        bad.append(f"row {i}: class {j} label {label!r}, expected "
                                   f"{m.labels[j]!r}")
                scores = [e[0] for e in row]
                if any(scores[a] < scores[a + 1] for a in range(k - 1)):
                    bad.append(f"row {i}: scores not descending: {scores}")
                rest = [ref[i, j] for j in range(m.C) if j not in idx]
                if rest and max(rest) > min(ref[i, j] for j in idx) + PROB_TOL:
                    bad.append(f"row {i}: classes {idx} are not the top {k} "
                               f"(module probabilities {np.round(ref[i], 6).tolist()})")
            ch.check(not bad, f"{what}: classification output: " + "; ".join(bad[:5]) +
                     (f" (and {len(bad) - 5} more)" if len(bad) > 5 else ""))
            result["probabilities"] = [e.decode() if isinstance(e, bytes) else e
                                       for e in t.values]

    argmax = prob.argmax(axis=1) if prob is not None else ref_arg
    t = by.get("label")
    if t is not None and header_ok(t, "BYTES", [n]):
        got = [v.decode("utf-8", "replace") if isinstance(v, bytes) else v for v in t.values]
        expected = [m.labels[j] for j in argmax]
        bad = [i for i in range(n) if got[i] != expected[i] and not near_tie[i]]
        ch.check(not bad, f"{what}: label differs at rows {bad[:5]}: got "
                 f"{[got[i] for i in bad[:5]]}, expected {[expected[i] for i in bad[:5]]}")
        result["label"] = got
    t = by.get("class_index")
    if t is not None and header_ok(t, "INT32", [n]):
        got = np.asarray(t.values, dtype=np.int64)
        bad = [i for i in range(n) if got[i] != argmax[i] and not near_tie[i]]
        ch.check(not bad, f"{what}: class_index differs at rows {bad[:5]}: got "
                 f"{got[bad[:5]].tolist()}, expected {argmax[bad[:5]].tolist()}")
        result["class_index"] = got
    t = by.get("score")
    if t is not None and header_ok(t, "FP32", [n]):
        got = np.asarray(t.values, dtype=np.float64)
        diff = np.abs(got - ref.max(axis=1))
        ch.check(diff.max() <= PROB_TOL, f"{what}: score differs from the module's max "
                 f"probability by up to {diff.max():.3g} (row {diff.argmax()})")
        if prob is not None:
            own = prob[np.arange(n), argmax]
            d = np.abs(got - own)
            ch.check(d.max() <= SAME_TOL, f"{what}: score differs from max(probabilities) of "
                     f"the same response by up to {d.max():.3g} (row {d.argmax()})")
        result["score"] = got
    t = by.get("out_of_distribution")
    if t is not None and header_ok(t, "BOOL", [n]):
        got = np.asarray(t.values)
        ch.check(got.dtype == bool, f"{what}: out_of_distribution values are not booleans: "
                 f"{list(t.values)[:5]}")
        result["out_of_distribution"] = got.astype(bool)
    t = by.get("l2_norm")
    if t is not None and header_ok(t, "FP32", [n]):
        got = np.asarray(t.values, dtype=np.float64)
        norms = np.linalg.norm(x.astype(np.float64), axis=1)
        rel = np.abs(got - norms) / norms
        ch.check(rel.max() <= NORM_RTOL, f"{what}: l2_norm off by {rel.max():.3g} relative "
                 f"at row {rel.argmax()} (got {got[rel.argmax()]:.6g}, expected "
                 f"{norms[rel.argmax()]:.6g})")
        result["l2_norm"] = got
    # The decision (docs/model-json.md "decision"): a label or "uncertain", Low exactly when
    # uncertain, calibrated rows that sum to 1 and whose top value is call_probability.
    t = by.get("call")
    if t is not None and header_ok(t, "BYTES", [n]):
        got = [v.decode("utf-8", "replace") if isinstance(v, bytes) else v for v in t.values]
        bad = [c for c in got if c != "uncertain" and c not in m.labels]
        ch.check(not bad, f"{what}: calls that are no label: {bad[:5]}")
        result["call"] = got
    t = by.get("confidence")
    if t is not None and header_ok(t, "BYTES", [n]):
        got = [v.decode("utf-8", "replace") if isinstance(v, bytes) else v for v in t.values]
        ch.check(set(got) <= {"High", "Medium", "Low"}, f"{what}: confidence levels {set(got)}")
        if "call" in result:
            ch.check(all((c == "uncertain") == (lv == "Low") for c, lv in zip(result["call"], got)),
                     f"{what}: Low is not exactly the uncertain calls")
        result["confidence"] = got
    t = by.get("calibrated_probabilities")
    if t is not None and header_ok(t, "FP32", [n, m.C]):
        got = np.asarray(t.values, dtype=np.float64).reshape(n, m.C)
        ch.check(np.abs(got.sum(axis=1) - 1).max() <= 1e-4, f"{what}: calibrated rows' sums")
        result["calibrated_probabilities"] = got
    t = by.get("call_probability")
    if t is not None and header_ok(t, "FP32", [n]):
        got = np.asarray(t.values, dtype=np.float64)
        if "calibrated_probabilities" in result:
            d = np.abs(got - result["calibrated_probabilities"].max(axis=1)).max()
            ch.check(d <= SAME_TOL, f"{what}: call_probability is not the top calibrated "
                     f"probability (off by {d:.3g})")
        result["call_probability"] = got
    t = by.get("ood_score")
    if t is not None and header_ok(t, "FP32", [n]):
        got = np.asarray(t.values, dtype=np.float64)
        ch.check((got >= 0).all(), f"{what}: negative ood_score")
        result["ood_score"] = got
    return result


# ------------------------------------------------------------------------------------------------
# gRPC helpers


def set_param(target_map, key, value):
    if isinstance(value, bool):
        target_map[key].bool_param = value
    elif isinstance(value, int):
        target_map[key].int64_param = value
    else:
        target_map[key].string_param = value


def infer_request(model, x=None, version="", raw=True, outputs=None, rid="", name="embedding",
                  datatype="FP32", shape=None, payload=None):
    """outputs: names or (name, {param: value}) pairs. payload overrides the contents: bytes for
    raw, a list of floats for typed (fp32_contents)."""
    req = pb.ModelInferRequest(model_name=model, model_version=version, id=rid)
    inp = req.inputs.add(name=name, datatype=datatype)
    inp.shape.extend(list(shape) if shape is not None else list(x.shape))
    if raw:
        req.raw_input_contents.append(payload if payload is not None
                                      else np.ascontiguousarray(x, dtype="<f4").tobytes())
    else:
        inp.contents.fp32_contents.extend(payload if payload is not None
                                          else x.reshape(-1).tolist())
    for o in outputs or []:
        oname, params = (o, {}) if isinstance(o, str) else o
        out = req.outputs.add(name=oname)
        for k, v in params.items():
            set_param(out.parameters, k, v)
    return req


class Grpc:
    def __init__(self, target):
        self.channel = grpc.insecure_channel(target, options=[
            ("grpc.max_receive_message_length", 64 << 20)])
        self.v2 = pb_grpc.GRPCInferenceServiceStub(self.channel)
        self.v1 = v1_grpc.ClassifierStub(self.channel)

    def infer(self, req):
        return self.v2.ModelInfer(req, timeout=RPC_TIMEOUT)


# ------------------------------------------------------------------------------------------------
# REST helpers


class Rest:
    def __init__(self, base):
        u = urllib.parse.urlsplit(base if "://" in base else "http://" + base)
        if u.scheme != "http":
            raise SystemExit(f"--rest {base}: only http:// is supported")
        self.host, self.port = u.hostname, u.port or 80
        self.prefix = u.path.rstrip("/")

    def call(self, method, path, body=None, headers=None):
        conn = http.client.HTTPConnection(self.host, self.port, timeout=RPC_TIMEOUT)
        try:
            conn.request(method, self.prefix + path, body=body, headers=headers or {})
            r = conn.getresponse()
            data = r.read()
            return r.status, {k.lower(): v for k, v in r.getheaders()}, data
        finally:
            conn.close()

    def get_json(self, path):
        status, headers, data = self.call("GET", path)
        try:
            doc = json.loads(data) if data else None
        except ValueError:
            doc = None
        return status, headers, data, doc

    def post_json(self, path, doc):
        body = doc if isinstance(doc, (bytes, str)) else json.dumps(doc)
        if isinstance(body, str):
            body = body.encode()
        return self.call("POST", path, body, {"Content-Type": "application/json"})


def infer_path(model, version=None):
    return f"/v2/models/{model}" + (f"/versions/{version}" if version is not None else "") + \
        "/infer"


def rest_body(x, outputs=None, rid=None, nested=False, binary_input=False, binary_outputs=(),
              name="embedding", datatype="FP32", shape=None, data=None):
    """-> (json bytes, binary tail). outputs: names or (name, {param: value})."""
    inp = {"name": name, "shape": list(shape) if shape is not None else list(x.shape),
           "datatype": datatype}
    tail = b""
    if binary_input:
        tail = np.ascontiguousarray(x, dtype="<f4").tobytes() if data is None else data
        inp["parameters"] = {"binary_data_size": len(tail)}
    else:
        inp["data"] = data if data is not None else (x.tolist() if nested
                                                     else x.reshape(-1).tolist())
    doc = {"inputs": [inp]}
    if rid is not None:
        doc["id"] = rid
    if outputs is not None:
        doc["outputs"] = []
        for o in outputs:
            oname, params = (o, {}) if isinstance(o, str) else o
            params = dict(params)
            if oname in binary_outputs:
                params["binary_data"] = True
            entry = {"name": oname}
            if params:
                entry["parameters"] = params
            doc["outputs"].append(entry)
    return json.dumps(doc).encode(), tail


def rest_infer(rest, path, header, tail=b""):
    if tail or header is None:
        headers = {"Content-Type": "application/octet-stream",
                   "Inference-Header-Content-Length": str(len(header))}
        return rest.call("POST", path, header + tail, headers)
    return rest.call("POST", path, header, {"Content-Type": "application/json"})


def parse_rest_response(status, headers, data, what, binary_expected=()):
    """-> (doc, tensors, problems)."""
    problems = []
    if status != 200:
        return None, [], [f"{what}: HTTP {status}, expected 200: {data[:300]!r}"]
    hlen = headers.get("inference-header-content-length")
    if binary_expected:
        if hlen is None:
            problems.append(f"{what}: binary outputs asked for but no "
                            f"Inference-Header-Content-Length in the response")
            return None, [], problems
    try:
        jlen = int(hlen) if hlen is not None else len(data)
    except ValueError:
        return None, [], [f"{what}: Inference-Header-Content-Length {hlen!r} is not a number"]
    if not 0 <= jlen <= len(data):
        return None, [], [f"{what}: Inference-Header-Content-Length {jlen} but the body has "
                          f"{len(data)} bytes"]
    try:
        doc = json.loads(data[:jlen])
    except ValueError as e:
        return None, [], [f"{what}: response JSON does not parse ({e}): {data[:200]!r}"]
    binary, offset, tensors = data[jlen:], 0, []
    if not isinstance(doc, dict) or not isinstance(doc.get("outputs"), list):
        return doc, [], [f"{what}: response has no outputs list: {str(doc)[:300]}"]
    for o in doc["outputs"]:
        name = o.get("name")
        params = o.get("parameters") or {}
        datatype, shape = o.get("datatype"), o.get("shape")
        values = None
        try:
            if not isinstance(shape, list) or not all(isinstance(d, int) for d in shape):
                raise ValueError(f"{what}: output {name!r} shape {shape!r} is not a list of ints")
            count = element_count(shape)
            if "binary_data_size" in params:
                if name not in binary_expected:
                    problems.append(f"{what}: output {name!r} came back binary unasked")
                if "data" in o:
                    problems.append(f"{what}: binary output {name!r} also has \"data\"")
                size = params["binary_data_size"]
                if not isinstance(size, int) or offset + size > len(binary):
                    raise ValueError(f"{what}: output {name!r} binary_data_size {size!r} but "
                                     f"{len(binary) - offset} binary bytes left")
                values = decode_raw(datatype, binary[offset:offset + size], count,
                                    f"{what} output {name!r}")
                offset += size
            else:
                if name in binary_expected:
                    problems.append(f"{what}: output {name!r} asked for binary but has no "
                                    f"binary_data_size parameter")
                flat = o.get("data")
                if not isinstance(flat, list):
                    raise ValueError(f"{what}: output {name!r} has no data list")
                if any(isinstance(v, list) for v in flat):
                    raise ValueError(f"{what}: output {name!r} data is nested, expected flat "
                                     f"row-major")
                if len(flat) != count:
                    raise ValueError(f"{what}: output {name!r} has {len(flat)} data elements, "
                                     f"shape {shape} needs {count}")
                if datatype == "FP32":
                    if not all(isinstance(v, (int, float)) and not isinstance(v, bool)
                               for v in flat):
                        raise ValueError(f"{what}: FP32 output {name!r} data not all numbers")
                    values = np.array(flat, dtype=np.float64)
                elif datatype == "INT32":
                    if not all(isinstance(v, int) and not isinstance(v, bool) for v in flat):
                        raise ValueError(f"{what}: INT32 output {name!r} data not all integers")
                    values = np.array(flat, dtype=np.int64)
                elif datatype == "BOOL":
                    if not all(isinstance(v, bool) for v in flat):
                        raise ValueError(f"{what}: BOOL output {name!r} data not all "
                                         f"true/false: {flat[:5]}")
                    values = np.array(flat, dtype=bool)
                elif datatype == "BYTES":
                    if not all(isinstance(v, str) for v in flat):
                        raise ValueError(f"{what}: BYTES output {name!r} data not all strings")
                    values = [v.encode() for v in flat]
                else:
                    raise ValueError(f"{what}: output {name!r} unexpected datatype {datatype!r}")
        except ValueError as e:
            problems.append(str(e))
        tensors.append(Tensor(name, datatype, shape if isinstance(shape, list) else [],
                              values, params))
    if offset != len(binary):
        problems.append(f"{what}: {len(binary) - offset} binary bytes after the outputs that "
                        f"declare binary_data_size")
    return doc, tensors, problems


# ------------------------------------------------------------------------------------------------
# Check groups


def expected_metadata(m):
    return {"inputs": [("embedding", "FP32", [-1, INPUT_DIM])],
            "outputs": [("probabilities", "FP32", [-1, m.C]), ("label", "BYTES", [-1]),
                        ("class_index", "INT32", [-1]), ("score", "FP32", [-1]),
                        ("out_of_distribution", "BOOL", [-1]), ("l2_norm", "FP32", [-1]),
                        ("call", "BYTES", [-1]), ("confidence", "BYTES", [-1]),
                        ("call_probability", "FP32", [-1]),
                        ("calibrated_probabilities", "FP32", [-1, m.C]),
                        ("ood_score", "FP32", [-1])]}


def good_grpc_ok(ch, g, m, after):
    """After an error the server must still answer a good request."""
    x = make_rows(1, 7)
    try:
        resp = g.infer(infer_request(m.name, x, raw=False, outputs=["probabilities"]))
        tensors, problems = parse_grpc_response(resp, False, "good request")
        if problems or not tensors or tensors[0].values is None:
            return ch.check(False, f"after {after}: good request answered badly: {problems}")
        diff = np.abs(np.asarray(tensors[0].values).reshape(1, m.C) - m.ref(x)).max()
        return ch.check(diff <= PROB_TOL, f"after {after}: good request's probabilities off by "
                        f"{diff:.3g}")
    except Exception as e:
        return ch.check(False, f"after {after}: good request failed: {describe(e)}")


def expect_rpc_error(ch, g, m, what, call, codes, keywords):
    """call() must raise a gRPC error with one of codes whose message contains one of keywords
    (case-insensitive). Then a good request must work. Returns the code name seen."""
    seen = None
    try:
        call()
        ch.check(False, f"{what}: succeeded, expected {'/'.join(codes)}")
    except Exception as e:
        if not is_rpc_error(e):
            ch.check(False, f"{what}: {describe(e)}")
        else:
            seen = e.code().name
            details = e.details() or ""
            if ch.check(seen in codes, f"{what}: got {seen} ({details!r}), expected "
                        f"{'/'.join(codes)}"):
                ch.check(any(re.search(k, details, re.IGNORECASE) for k in keywords),
                         f"{what}: message {details!r} does not name the problem (expected it to "
                         f"mention {' or '.join(k.replace(chr(92), '') for k in keywords)})")
    good_grpc_ok(ch, g, m, what)
    return seen


def group_grpc_health(ch, g, models):
    r = g.v2.ServerLive(pb.ServerLiveRequest(), timeout=RPC_TIMEOUT)
    ch.check(r.live is True, f"ServerLive: live={r.live}, expected true")
    r = g.v2.ServerReady(pb.ServerReadyRequest(), timeout=RPC_TIMEOUT)
    ch.check(r.ready is True, f"ServerReady: ready={r.ready}, expected true")
    for m in models:
        for version in ("", "1"):
            with ch.step(f"ModelReady({m.name!r}, {version!r})"):
                r = g.v2.ModelReady(pb.ModelReadyRequest(name=m.name, version=version),
                                    timeout=RPC_TIMEOUT)
                ch.check(r.ready is True, f"ModelReady({m.name!r}, {version!r}): ready="
                         f"{r.ready}, expected true")
    try:
        r = g.v2.ModelReady(pb.ModelReadyRequest(name=UNKNOWN_MODEL), timeout=RPC_TIMEOUT)
        ch.check(r.ready is False, f"ModelReady({UNKNOWN_MODEL!r}): ready=true for an unknown "
                 f"model")
        ch.note(f"ModelReady(unknown model) -> OK with ready={r.ready}")
    except Exception as e:
        if is_rpc_error(e) and e.code() == grpc.StatusCode.NOT_FOUND:
            ch.check(True, "")
            ch.note(f"ModelReady(unknown model) -> NOT_FOUND: {e.details()}")
        else:
            ch.check(False, f"ModelReady({UNKNOWN_MODEL!r}): {describe(e)}, expected OK with "
                     f"ready=false or NOT_FOUND")


def group_grpc_server_metadata(ch, g):
    r = g.v2.ServerMetadata(pb.ServerMetadataRequest(), timeout=RPC_TIMEOUT)
    ch.check(r.name == "arginator", f"ServerMetadata: name {r.name!r}, expected 'arginator'")
    ch.check(bool(r.version), "ServerMetadata: empty version")
    for ext in ("binary_tensor_data", "classification"):
        ch.check(ext in r.extensions, f"ServerMetadata: extensions {list(r.extensions)} lack "
                 f"{ext!r}")
    ch.note(f"ServerMetadata: name={r.name!r} version={r.version!r} "
            f"extensions={list(r.extensions)}")
    return r


def check_metadata_doc(ch, what, m, name, versions, platform, inputs, outputs):
    exp = expected_metadata(m)
    ch.check(name == m.name, f"{what}: name {name!r}, expected {m.name!r}")
    ch.check(isinstance(versions, list) and "1" in versions,
             f"{what}: versions {versions!r} lack '1'")
    ch.check(platform == "pytorch_libtorch", f"{what}: platform {platform!r}, expected "
             f"'pytorch_libtorch'")
    ch.check(inputs == exp["inputs"], f"{what}: inputs {inputs}, expected {exp['inputs']}")
    ch.check(outputs == exp["outputs"], f"{what}: outputs {outputs}, expected {exp['outputs']}")


def group_grpc_model_metadata(ch, g, models):
    for m in models:
        for version in ("", "1"):
            what = f"ModelMetadata({m.name!r}, {version!r})"
            with ch.step(what):
                r = g.v2.ModelMetadata(pb.ModelMetadataRequest(name=m.name, version=version),
                                       timeout=RPC_TIMEOUT)
                tm = lambda ts: [(t.name, t.datatype, list(t.shape)) for t in ts]  # noqa: E731
                check_metadata_doc(ch, what, m, r.name, list(r.versions), r.platform,
                                   tm(r.inputs), tm(r.outputs))
    m = models[0]
    expect_rpc_error(ch, g, m, f"ModelMetadata({UNKNOWN_MODEL!r})",
                     lambda: g.v2.ModelMetadata(pb.ModelMetadataRequest(name=UNKNOWN_MODEL),
                                                timeout=RPC_TIMEOUT),
                     ["NOT_FOUND"], [re.escape(UNKNOWN_MODEL)])
    expect_rpc_error(ch, g, m, f"ModelMetadata({m.name!r}, 'abc')",
                     lambda: g.v2.ModelMetadata(pb.ModelMetadataRequest(name=m.name,
                                                                        version="abc"),
                                                timeout=RPC_TIMEOUT),
                     ["INVALID_ARGUMENT"], ["version", "abc"])


def grpc_infer_and_validate(ch, g, m, x, raw, version="", outputs=None, rid="", k=None):
    names = None
    if outputs is not None:
        names = [o if isinstance(o, str) else o[0] for o in outputs]
    what = (f"ModelInfer({m.name!r}, version={version!r}, n={len(x)}, "
            f"{'raw' if raw else 'typed'}, outputs={names})")
    resp = g.infer(infer_request(m.name, x, version=version, raw=raw, outputs=outputs, rid=rid))
    ch.check(resp.model_name == m.name, f"{what}: model_name {resp.model_name!r}")
    ch.check(resp.model_version == "1", f"{what}: model_version {resp.model_version!r}, "
             f"expected '1'")
    ch.check(resp.id == rid, f"{what}: id {resp.id!r}, expected {rid!r} echoed")
    tensors, problems = parse_grpc_response(resp, raw, what)
    for p in problems:
        ch.check(False, p)
    return validate_outputs(ch, what, m, x, tensors, names, classification=k)


def group_grpc_infer(ch, g, models):
    for m in models:
        for n, seed in ((1, 11), (3, 12), (17, 13)):
            x = make_rows(n, seed, extremes=(n == 17))
            for raw in (True, False):
                for version in ("", "1"):
                    with ch.step(f"ModelInfer {m.name} n={n} raw={raw} version={version!r}"):
                        grpc_infer_and_validate(ch, g, m, x, raw, version,
                                                rid=f"req-{m.name}-{n}-{int(raw)}-{version}")
        x = make_rows(3, 21)
        for outputs in (["score", "label"], ["l2_norm"], ["class_index", "probabilities"],
                        ["out_of_distribution", "l2_norm", "label", "probabilities",
                         "class_index", "score"]):
            for raw in (True, False):
                with ch.step(f"ModelInfer {m.name} outputs={outputs} raw={raw}"):
                    grpc_infer_and_validate(ch, g, m, x, raw, "", outputs=outputs, rid="")


def group_grpc_classification(ch, g, models):
    for m in models:
        for n, seed in ((1, 31), (3, 32), (17, 33)):
            x = make_rows(n, seed, extremes=(n == 17))
            for k in sorted({1, 2, m.C}):
                for raw in (True, False):
                    outputs = [("probabilities", {"classification": k})]
                    if n == 3:
                        outputs = ["label", ("probabilities", {"classification": k}), "score"]
                    with ch.step(f"classification {m.name} n={n} k={k} raw={raw}"):
                        grpc_infer_and_validate(ch, g, m, x, raw, "", outputs=outputs, k=k)


def group_grpc_errors(ch, g, models):
    m = models[-1]
    x1, x2 = make_rows(1, 41), make_rows(2, 42)
    codes = {}
    e = lambda req: (lambda: g.infer(req))  # noqa: E731
    expect_rpc_error(ch, g, m, f"ModelInfer(unknown model {UNKNOWN_MODEL!r})",
                     e(infer_request(UNKNOWN_MODEL, x1)), ["NOT_FOUND"],
                     [re.escape(UNKNOWN_MODEL)])
    for version in ("abc", "0", "-1"):
        for raw in (True, False):
            expect_rpc_error(ch, g, m, f"ModelInfer(model_version={version!r}, "
                             f"{'raw' if raw else 'typed'})",
                             e(infer_request(m.name, x1, version=version, raw=raw)),
                             ["INVALID_ARGUMENT"], ["version"])
    codes["99"] = expect_rpc_error(ch, g, m, "ModelInfer(model_version='99', not loaded)",
                                   e(infer_request(m.name, x1, version="99")),
                                   ["NOT_FOUND", "UNAVAILABLE"], ["99", "version"])
    if codes["99"]:
        ch.note(f"ModelInfer(model_version='99') -> {codes['99']}")
    expect_rpc_error(ch, g, m, "ModelInfer(datatype FP16, raw 2 bytes/element)",
                     e(infer_request(m.name, x1, datatype="FP16",
                                     payload=x1.astype("<f2").tobytes())),
                     ["INVALID_ARGUMENT"], ["FP16"])
    expect_rpc_error(ch, g, m, "ModelInfer(datatype INT32, raw 4 bytes/element)",
                     e(infer_request(m.name, x1, datatype="INT32",
                                     payload=x1.astype("<i4").tobytes())),
                     ["INVALID_ARGUMENT"], ["INT32"])
    req = infer_request(m.name, x1, datatype="INT32", raw=False, payload=[])
    req.inputs[0].contents.int_contents.extend([1] * INPUT_DIM)
    expect_rpc_error(ch, g, m, "ModelInfer(datatype INT32, int_contents)", e(req),
                     ["INVALID_ARGUMENT"], ["INT32"])
    x_short = make_rows(2, 43)[:, :1000].copy()
    for raw in (True, False):
        expect_rpc_error(ch, g, m, f"ModelInfer(shape [2, 1000], {'raw' if raw else 'typed'})",
                         e(infer_request(m.name, x_short, raw=raw)), ["INVALID_ARGUMENT"],
                         ["1024"])
    good_bytes = x2.astype("<f4").tobytes()
    expect_rpc_error(ch, g, m, "ModelInfer(shape [2, 1024], raw 4 bytes short)",
                     e(infer_request(m.name, x2, payload=good_bytes[:-4])),
                     ["INVALID_ARGUMENT"], ["byte", "size", "8192", "8188", "element"])
    expect_rpc_error(ch, g, m, "ModelInfer(shape [2, 1024], raw 4 bytes extra)",
                     e(infer_request(m.name, x2, payload=good_bytes + b"\0\0\0\0")),
                     ["INVALID_ARGUMENT"], ["byte", "size", "8192", "8196", "element"])
    expect_rpc_error(ch, g, m, "ModelInfer(shape [2, 1024], raw 1024 floats)",
                     e(infer_request(m.name, x2, payload=good_bytes[:4096])),
                     ["INVALID_ARGUMENT"], ["byte", "size", "8192", "4096", "element"])
    expect_rpc_error(ch, g, m, "ModelInfer(shape [2, 1024], fp32_contents 2047)",
                     e(infer_request(m.name, x2, raw=False,
                                     payload=x2.reshape(-1).tolist()[:-1])),
                     ["INVALID_ARGUMENT"], ["2047", "2048", "fp32_contents", "element", "count",
                                            "size"])
    expect_rpc_error(ch, g, m, "ModelInfer(shape [2, 1024], fp32_contents 2049)",
                     e(infer_request(m.name, x2, raw=False,
                                     payload=x2.reshape(-1).tolist() + [0.0])),
                     ["INVALID_ARGUMENT"], ["2049", "2048", "fp32_contents", "element", "count",
                                            "size"])
    for raw in (True, False):
        expect_rpc_error(ch, g, m, f"ModelInfer(input named 'x', {'raw' if raw else 'typed'})",
                         e(infer_request(m.name, x1, raw=raw, name="x")), ["INVALID_ARGUMENT"],
                         [r"\bx\b", "embedding"])
    req = pb.ModelInferRequest(model_name=m.name)
    expect_rpc_error(ch, g, m, "ModelInfer(no input)", e(req), ["INVALID_ARGUMENT"], ["input"])
    req = infer_request(m.name, x1, raw=False)
    req.inputs.add().CopyFrom(req.inputs[0])
    expect_rpc_error(ch, g, m, "ModelInfer(two 'embedding' inputs, typed)", e(req),
                     ["INVALID_ARGUMENT"], ["input"])
    req = infer_request(m.name, x1, raw=True)
    req.inputs.add().CopyFrom(req.inputs[0])
    req.inputs[1].name = "embedding2"
    req.raw_input_contents.append(req.raw_input_contents[0])
    expect_rpc_error(ch, g, m, "ModelInfer(two inputs 'embedding', 'embedding2', raw)", e(req),
                     ["INVALID_ARGUMENT"], ["input"])
    for raw in (True, False):
        expect_rpc_error(ch, g, m, f"ModelInfer(requested output 'nope', "
                         f"{'raw' if raw else 'typed'})",
                         e(infer_request(m.name, x1, raw=raw, outputs=["label", "nope"])),
                         ["INVALID_ARGUMENT"], ["nope"])
    x_nan = make_rows(2, 44)
    x_nan[1, 17] = np.nan
    for raw in (True, False):
        expect_rpc_error(ch, g, m, f"ModelInfer(NaN in row 1, {'raw' if raw else 'typed'})",
                         e(infer_request(m.name, x_nan, raw=raw)), ["INVALID_ARGUMENT"],
                         ["nan", "finite"])
    # Not in the contract: only observed and reported.
    x_inf = make_rows(1, 45)
    x_inf[0, 3] = np.inf
    try:
        g.infer(infer_request(m.name, x_inf))
        ch.note("ModelInfer(+Inf in the input) -> OK (not in the contract)")
    except Exception as ex:
        ch.note(f"ModelInfer(+Inf in the input) -> {describe(ex)}")


def group_rest_server(ch, rest, grpc_meta):
    status, headers, data, doc = rest.get_json("/v2")
    if ch.check(status == 200 and isinstance(doc, dict),
                f"GET /v2: HTTP {status}, body {data[:200]!r}, expected 200 with JSON"):
        ch.check(doc.get("name") == "arginator", f"GET /v2: name {doc.get('name')!r}")
        ch.check(isinstance(doc.get("version"), str) and doc.get("version"),
                 f"GET /v2: version {doc.get('version')!r}")
        ext = doc.get("extensions")
        for e in ("binary_tensor_data", "classification"):
            ch.check(isinstance(ext, list) and e in ext, f"GET /v2: extensions {ext!r} lack {e!r}")
        if grpc_meta is not None:
            ch.check(doc.get("version") == grpc_meta.version and
                     ext == list(grpc_meta.extensions),
                     f"GET /v2 {doc} differs from gRPC ServerMetadata (version "
                     f"{grpc_meta.version!r}, extensions {list(grpc_meta.extensions)})")
    for path in ("/v2/health/live", "/v2/health/ready"):
        status, headers, data = rest.call("GET", path)
        ch.check(status == 200, f"GET {path}: HTTP {status}, expected 200")
        ch.check(data == b"", f"GET {path}: body {data[:100]!r}, expected empty")


def group_rest_models(ch, rest, models):
    for m in models:
        for suffix in ("", "/versions/1"):
            path = f"/v2/models/{m.name}{suffix}"
            status, headers, data, doc = rest.get_json(path)
            if not ch.check(status == 200 and isinstance(doc, dict),
                            f"GET {path}: HTTP {status}, body {data[:200]!r}"):
                continue
            tm = lambda ts: [(t.get("name"), t.get("datatype"), t.get("shape"))  # noqa: E731
                             for t in ts] if isinstance(ts, list) else ts
            check_metadata_doc(ch, f"GET {path}", m, doc.get("name"), doc.get("versions"),
                               doc.get("platform"), tm(doc.get("inputs")),
                               tm(doc.get("outputs")))
            status, headers, data = rest.call("GET", path + "/ready")
            ch.check(status == 200, f"GET {path}/ready: HTTP {status}, expected 200")
    for path in (f"/v2/models/{UNKNOWN_MODEL}/ready",
                 f"/v2/models/{UNKNOWN_MODEL}/versions/1/ready"):
        status, headers, data = rest.call("GET", path)
        ch.check(400 <= status < 500, f"GET {path}: HTTP {status}, expected 4xx")
        ch.note(f"GET {path} -> HTTP {status}")
    for path in (f"/v2/models/{UNKNOWN_MODEL}", f"/v2/models/{UNKNOWN_MODEL}/versions/1"):
        status, headers, data, doc = rest.get_json(path)
        ch.check(status == 404, f"GET {path}: HTTP {status}, expected 404")
        ch.check(isinstance(doc, dict) and isinstance(doc.get("error"), str) and doc["error"],
                 f"GET {path}: body {data[:200]!r}, expected {{\"error\": \"...\"}}")


def rest_infer_and_validate(ch, rest, m, x, version=None, outputs=None, rid=None, nested=False,
                            binary_input=False, binary_outputs=(), k=None):
    names = None if outputs is None else [o if isinstance(o, str) else o[0] for o in outputs]
    path = infer_path(m.name, version)
    form = "binary" if binary_input else "nested" if nested else "flat"
    what = (f"POST {path} (n={len(x)}, {form} input, outputs={names}, "
            f"binary outputs={list(binary_outputs)})")
    header, tail = rest_body(x, outputs, rid, nested, binary_input, binary_outputs)
    status, headers, data = rest_infer(rest, path, header, tail if binary_input else b"")
    if binary_input and not tail:
        raise AssertionError("empty binary input")
    doc, tensors, problems = parse_rest_response(status, headers, data, what, binary_outputs)
    for p in problems:
        ch.check(False, p)
    if doc is None or not isinstance(doc, dict):
        return {}
    ch.check(doc.get("model_name") == m.name, f"{what}: model_name {doc.get('model_name')!r}")
    ch.check(doc.get("model_version") == "1", f"{what}: model_version "
             f"{doc.get('model_version')!r}, expected '1'")
    if rid is not None:
        ch.check(doc.get("id") == rid, f"{what}: id {doc.get('id')!r}, expected {rid!r}")
    return validate_outputs(ch, what, m, x, tensors, names, classification=k)


def group_rest_infer(ch, rest, models):
    for m in models:
        for n, seed in ((1, 51), (3, 52), (17, 53)):
            x = make_rows(n, seed, extremes=(n == 17))
            for version in (None, "1"):
                with ch.step(f"REST infer {m.name} n={n} version={version}"):
                    rest_infer_and_validate(ch, rest, m, x, version, outputs=None,
                                            rid=f"rest-{n}-{version}")
                with ch.step(f"REST infer {m.name} n={n} version={version} all outputs named"):
                    rest_infer_and_validate(ch, rest, m, x, version, outputs=OUTPUTS,
                                            rid="named")
            with ch.step(f"REST infer {m.name} n={n} nested data"):
                rest_infer_and_validate(ch, rest, m, x, None, outputs=["probabilities", "label"],
                                        nested=True, rid="nested")
        x = make_rows(3, 54)
        for outputs in (["score", "label"], ["l2_norm"], ["class_index", "probabilities"],
                        ["out_of_distribution", "l2_norm", "label", "probabilities",
                         "class_index", "score"]):
            with ch.step(f"REST infer {m.name} outputs={outputs}"):
                rest_infer_and_validate(ch, rest, m, x, "1", outputs=outputs)
        # the classification extension, advertised in GET /v2, applies to REST too
        for k in sorted({1, m.C}):
            with ch.step(f"REST classification {m.name} k={k}"):
                rest_infer_and_validate(ch, rest, m, x, None, outputs=[
                    "label", ("probabilities", {"classification": k})], k=k)


def group_rest_binary(ch, rest, models):
    for m in models:
        for n, seed in ((1, 61), (3, 62), (17, 63)):
            x = make_rows(n, seed, extremes=(n == 17))
            with ch.step(f"REST binary {m.name} n={n} binary input, JSON outputs"):
                rest_infer_and_validate(ch, rest, m, x, None, outputs=OUTPUTS, binary_input=True,
                                        rid="bin-in")
            with ch.step(f"REST binary {m.name} n={n} binary input, all outputs binary"):
                rest_infer_and_validate(ch, rest, m, x, "1", outputs=OUTPUTS, binary_input=True,
                                        binary_outputs=OUTPUTS, rid="bin-all")
            with ch.step(f"REST binary {m.name} n={n} JSON input, some outputs binary"):
                rest_infer_and_validate(ch, rest, m, x, None,
                                        outputs=["label", "probabilities", "score",
                                                 "out_of_distribution"],
                                        binary_outputs=("probabilities", "out_of_distribution"),
                                        rid="bin-out")
        x = make_rows(3, 64)
        with ch.step(f"REST binary {m.name} classification output in binary"):
            rest_infer_and_validate(ch, rest, m, x, None,
                                    outputs=[("probabilities", {"classification": 2}),
                                             "class_index"],
                                    binary_input=True, binary_outputs=("probabilities",
                                                                       "class_index"), k=2)


def good_rest_ok(ch, rest, m, after):
    x = make_rows(1, 8)
    try:
        header, _ = rest_body(x, ["probabilities"])
        status, headers, data = rest_infer(rest, infer_path(m.name), header)
        doc, tensors, problems = parse_rest_response(status, headers, data, "good request")
        if problems or not tensors or tensors[0].values is None:
            return ch.check(False, f"after {after}: good REST request answered badly: "
                            f"{problems}")
        diff = np.abs(np.asarray(tensors[0].values).reshape(1, m.C) - m.ref(x)).max()
        return ch.check(diff <= PROB_TOL, f"after {after}: good REST request's probabilities "
                        f"off by {diff:.3g}")
    except Exception as e:
        return ch.check(False, f"after {after}: good REST request failed: {describe(e)}")


def expect_rest_error(ch, rest, m, what, path, body, statuses, tail=None, headers=None):
    try:
        if headers is not None:
            status, _, data = rest.call("POST", path, body + (tail or b""), headers)
        elif tail is not None:
            status, _, data = rest_infer(rest, path, body, tail)
        else:
            status, _, data = rest.post_json(path, body)
        seen = status
        ok = ch.check(status in statuses, f"{what}: HTTP {status} ({data[:200]!r}), expected "
                      f"{'/'.join(map(str, statuses))}")
        try:
            doc = json.loads(data)
        except ValueError:
            doc = None
        if ok:
            ch.check(isinstance(doc, dict) and isinstance(doc.get("error"), str) and
                     doc["error"], f"{what}: body {data[:200]!r}, expected "
                     f"{{\"error\": \"...\"}}")
    except Exception as e:
        seen = None
        ch.check(False, f"{what}: {describe(e)}")
    good_rest_ok(ch, rest, m, what)
    return seen


def group_rest_errors(ch, rest, models):
    m = models[0]
    x1, x2 = make_rows(1, 71), make_rows(2, 72)
    p = infer_path(m.name)
    body = lambda **kw: rest_body(kw.pop("x", x1), **kw)[0]  # noqa: E731
    expect_rest_error(ch, rest, m, "POST unknown model infer", infer_path(UNKNOWN_MODEL),
                      body(), [404])
    expect_rest_error(ch, rest, m, "POST unknown model versions/1 infer",
                      infer_path(UNKNOWN_MODEL, "1"), body(), [404])
    for version in ("abc", "0", "-1"):
        expect_rest_error(ch, rest, m, f"POST versions/{version}/infer",
                          infer_path(m.name, version), body(), [400])
    seen = expect_rest_error(ch, rest, m, "POST versions/99/infer (not loaded)",
                             infer_path(m.name, "99"), body(), [404, 503])
    ch.note(f"POST {infer_path(m.name, '99')} -> HTTP {seen}")
    expect_rest_error(ch, rest, m, "POST input named 'x'", p, body(name="x"), [400])
    expect_rest_error(ch, rest, m, "POST datatype INT32", p,
                      body(datatype="INT32", data=[1] * INPUT_DIM), [400])
    expect_rest_error(ch, rest, m, "POST datatype FP16", p, body(datatype="FP16"), [400])
    expect_rest_error(ch, rest, m, "POST shape [2, 1000]", p,
                      body(x=x2, shape=[2, 1000], data=x2[:, :1000].reshape(-1).tolist()),
                      [400])
    expect_rest_error(ch, rest, m, "POST shape [2, 1024] with 1024 data", p,
                      body(x=x2, data=x2[0].tolist()), [400])
    expect_rest_error(ch, rest, m, "POST shape [2, 1024] with 2047 data", p,
                      body(x=x2, data=x2.reshape(-1).tolist()[:-1]), [400])
    rows = x2.tolist()
    expect_rest_error(ch, rest, m, "POST shape [2, 1024] with ragged nested data (rows of 1025 "
                      "and 1023 values)", p, body(x=x2, data=[rows[0] + [0.0], rows[1][:-1]]),
                      [400])
    expect_rest_error(ch, rest, m, "POST data with a string", p,
                      body(data=["a"] + x1.reshape(-1).tolist()[1:]), [400])
    expect_rest_error(ch, rest, m, "POST no inputs", p, json.dumps({"inputs": []}).encode(),
                      [400])
    expect_rest_error(ch, rest, m, "POST no 'inputs' key", p, b"{}", [400])
    doc = json.loads(body())
    doc["inputs"].append(dict(doc["inputs"][0], name="embedding2"))
    expect_rest_error(ch, rest, m, "POST two inputs", p, json.dumps(doc).encode(), [400])
    expect_rest_error(ch, rest, m, "POST requested output 'nope'", p,
                      body(outputs=["label", "nope"]), [400])
    expect_rest_error(ch, rest, m, "POST malformed JSON", p, b'{"inputs": [', [400])
    bad = x1.astype("<f4").tobytes()
    nan_tail = bytearray(bad)
    nan_tail[8:12] = struct.pack("<f", float("nan"))
    h, _ = rest_body(x1, binary_input=True)
    expect_rest_error(ch, rest, m, "POST binary input with a NaN", p, h, [400],
                      tail=bytes(nan_tail))
    h_short, _ = rest_body(x2, binary_input=True, data=x2.astype("<f4").tobytes()[:-4])
    expect_rest_error(ch, rest, m, "POST binary_data_size 4 bytes short of the shape", p,
                      h_short, [400], tail=x2.astype("<f4").tobytes()[:-4])
    h2, t2 = rest_body(x2, binary_input=True)
    expect_rest_error(ch, rest, m, "POST body shorter than binary_data_size", p, h2, [400],
                      tail=t2[:-100])
    expect_rest_error(ch, rest, m, "POST Inference-Header-Content-Length beyond the body", p,
                      h2, [400], tail=t2, headers={
                          "Content-Type": "application/octet-stream",
                          "Inference-Header-Content-Length": str(len(h2) + len(t2) + 10)})


def v1_classify(g, m, x, packed, version=None):
    spec = v1.ModelSpec(name=m.name)
    if version is not None:
        spec.version = version
    ids = [f"row{i}" for i in range(len(x))]
    if packed:
        req = v1.ClassifyRequest(model=spec, packed_values=np.ascontiguousarray(
            x, dtype="<f4").tobytes(), packed_ids=ids, return_probabilities=True)
    else:
        req = v1.ClassifyRequest(model=spec, return_probabilities=True, embeddings=[
            v1.Embedding(id=i, values=row.tolist()) for i, row in zip(ids, x)])
    resp = g.v1.Classify(req, timeout=RPC_TIMEOUT)
    if [p.id for p in resp.predictions] != ids:
        raise AssertionError(f"v1 Classify ids {[p.id for p in resp.predictions]}")
    if list(resp.labels) != m.labels:
        raise AssertionError(f"v1 Classify labels {list(resp.labels)}, expected {m.labels}")
    return {"probabilities": np.array([list(p.probabilities) for p in resp.predictions],
                                      dtype=np.float64),
            "label": [p.label for p in resp.predictions],
            "class_index": np.array([p.class_index for p in resp.predictions]),
            "score": np.array([p.score for p in resp.predictions], dtype=np.float64),
            "out_of_distribution": np.array([p.out_of_distribution for p in resp.predictions]),
            "l2_norm": np.array([p.l2_norm for p in resp.predictions], dtype=np.float64),
            "call": [p.call for p in resp.predictions],
            "confidence": [p.confidence for p in resp.predictions],
            "call_probability": np.array([p.call_probability for p in resp.predictions],
                                         dtype=np.float64),
            "calibrated_probabilities": np.array(
                [list(p.calibrated_probabilities) for p in resp.predictions], dtype=np.float64),
            "ood_score": np.array([p.ood_score for p in resp.predictions], dtype=np.float64)}


def group_consistency(ch, g, rest, models):
    for m in models:
        x = make_rows(17, 99, extremes=True)
        results = {}
        paths = [
            ("v1 Classify embeddings", lambda: v1_classify(g, m, x, packed=False)),
            ("v1 Classify packed_values", lambda: v1_classify(g, m, x, packed=True, version=1)),
            ("v2 gRPC raw", lambda: grpc_infer_and_validate(ch, g, m, x, True)),
            ("v2 gRPC typed", lambda: grpc_infer_and_validate(ch, g, m, x, False, "1")),
            ("v2 REST JSON", lambda: rest_infer_and_validate(ch, rest, m, x, None, OUTPUTS)),
            ("v2 REST binary", lambda: rest_infer_and_validate(
                ch, rest, m, x, "1", OUTPUTS, binary_input=True, binary_outputs=OUTPUTS)),
        ]
        for name, fn in paths:
            with ch.step(f"{m.name}: {name}"):
                results[name] = fn()
        complete = [name for name, _ in paths
                    if results.get(name) and all(k in results[name] for k in OUTPUTS)]
        if not complete:
            ch.check(False, f"{m.name}: no path gave every output to compare with")
            continue
        base_name = complete[0]
        base = results[base_name]
        if base_name.startswith("v1"):
            d = np.abs(base["probabilities"] - m.ref(x)).max()
            ch.check(d <= PROB_TOL, f"{m.name}: v1 probabilities differ from the TorchScript "
                     f"module by {d:.3g}")
        ch.note(f"{m.name}: out_of_distribution over the 17 rows (norms ~6, 1.5, 25): "
                f"{base['out_of_distribution'].astype(int).tolist()}")
        for name, _ in paths:
            other = results.get(name)
            if not other or name == base_name:
                continue
            for key in OUTPUTS:
                if key not in other:
                    ch.check(False, f"{m.name}: {name} lacks {key} to compare")
                    continue
                a, b = base[key], other[key]
                if key in ("probabilities", "score", "call_probability",
                           "calibrated_probabilities"):
                    d = np.abs(np.asarray(a) - np.asarray(b)).max()
                    ch.check(d <= SAME_TOL, f"{m.name}: {key} of {name} differs from "
                             f"{base_name} by up to {d:.3g} (tolerance {SAME_TOL})")
                elif key in ("l2_norm", "ood_score"):
                    d = (np.abs(np.asarray(a) - np.asarray(b)) / np.asarray(a)).max()
                    ch.check(d <= SAME_TOL, f"{m.name}: l2_norm of {name} differs from "
                             f"{base_name} by up to {d:.3g} relative")
                else:
                    same = [bool(u == v) for u, v in zip(list(a), list(b))]
                    ch.check(len(a) == len(b) and all(same),
                             f"{m.name}: {key} of {name} differs from {base_name} at rows "
                             f"{[i for i, s in enumerate(same) if not s][:5]}: "
                             f"{list(b)[:17]} vs {list(a)[:17]}")


# ------------------------------------------------------------------------------------------------


def wait_ready(g, seconds):
    deadline = time.monotonic() + seconds
    last = None
    while True:
        try:
            if g.v2.ServerReady(pb.ServerReadyRequest(), timeout=2).ready:
                return None
            last = "ServerReady: ready=false"
        except Exception as e:
            last = describe(e)
        if time.monotonic() >= deadline:
            return last
        time.sleep(0.25)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--stubs", required=True, help="build/python (generated stubs)")
    parser.add_argument("--grpc", required=True, help="HOST:PORT of arginator-server's gRPC")
    parser.add_argument("--rest", required=True, help="http://HOST:PORT of its REST v2 port")
    parser.add_argument("--repository", required=True, help="the server's model repository")
    parser.add_argument("--wait", type=float, default=15.0,
                        help="seconds to wait for ServerReady before checking (default 15)")
    args = parser.parse_args()

    global grpc, pb, pb_grpc, v1, v1_grpc, torch
    sys.path.insert(0, os.path.abspath(args.stubs))
    try:
        import grpc as _grpc
        import torch as _torch
        from arginator.v1 import classifier_pb2 as _v1, classifier_pb2_grpc as _v1_grpc
        from inference import grpc_predict_v2_pb2 as _pb, grpc_predict_v2_pb2_grpc as _pb_grpc
    except ImportError as e:
        print(f"error: {e} (stubs in {args.stubs}? run with /usr/bin/python3, which has "
              f"python3-grpcio, python3-numpy and python3-torch)", file=sys.stderr)
        return 2
    grpc, torch, v1, v1_grpc, pb, pb_grpc = _grpc, _torch, _v1, _v1_grpc, _pb, _pb_grpc
    torch.set_num_threads(1)

    start = time.monotonic()
    try:
        models = [Model(args.repository, name) for name in MODEL_NAMES]
    except Exception as e:
        print(f"error: loading the reference models from {args.repository}: {describe(e)}",
              file=sys.stderr)
        return 2
    for m in models:
        if m.input_dim != INPUT_DIM:
            print(f"error: {m.name} input_dim {m.input_dim}, expected {INPUT_DIM}",
                  file=sys.stderr)
            return 2

    ch = Checks()
    g = Grpc(args.grpc)
    rest = Rest(args.rest)
    problem = wait_ready(g, args.wait)
    if problem:
        print(f"note: server not ready after {args.wait} s ({problem}); checking anyway",
              flush=True)

    grpc_down = rest_down = None
    try:
        g.v2.ServerLive(pb.ServerLiveRequest(), timeout=RPC_TIMEOUT)
    except Exception as e:
        grpc_down = f"gRPC v2 at {args.grpc} unusable ({describe(e)})"
    try:
        rest.call("GET", "/v2/health/live")
    except OSError as e:
        rest_down = f"REST at {args.rest} unreachable ({describe(e)})"

    state = {"grpc_meta": None}

    def meta():
        state["grpc_meta"] = group_grpc_server_metadata(ch, g)

    groups = [
        ("grpc health (ServerLive, ServerReady, ModelReady)", grpc_down,
         lambda: group_grpc_health(ch, g, models)),
        ("grpc ServerMetadata", grpc_down, meta),
        ("grpc ModelMetadata", grpc_down, lambda: group_grpc_model_metadata(ch, g, models)),
        ("grpc ModelInfer (raw and typed, n=1/3/17, versions, outputs)", grpc_down,
         lambda: group_grpc_infer(ch, g, models)),
        ("grpc classification extension", grpc_down,
         lambda: group_grpc_classification(ch, g, models)),
        ("grpc errors (codes, messages, recovery)", grpc_down,
         lambda: group_grpc_errors(ch, g, models)),
        ("rest server (/v2, health)", rest_down,
         lambda: group_rest_server(ch, rest, state["grpc_meta"])),
        ("rest model metadata and readiness", rest_down,
         lambda: group_rest_models(ch, rest, models)),
        ("rest infer (JSON, flat and nested, outputs, classification)", rest_down,
         lambda: group_rest_infer(ch, rest, models)),
        ("rest binary tensor data extension", rest_down,
         lambda: group_rest_binary(ch, rest, models)),
        ("rest errors (statuses, JSON error bodies, recovery)", rest_down,
         lambda: group_rest_errors(ch, rest, models)),
        ("consistency (v1 embeddings/packed, v2 gRPC raw/typed, REST JSON/binary)",
         grpc_down and rest_down, lambda: group_consistency(ch, g, rest, models)),
    ]
    for name, down, fn in groups:
        with ch.group(name):
            if down:
                ch.check(False, f"skipped: {down}")
            else:
                fn()

    for note in ch.notes:
        print(f"note: {note}")
    elapsed = time.monotonic() - start
    if ch.failures:
        print(f"FAILED: {len(ch.failures)} check(s) failed ({elapsed:.1f} s)")
        return 1
    print(f"OK: every check passed ({elapsed:.1f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
