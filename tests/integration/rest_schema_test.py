#!/usr/bin/env python3
"""Every v2 REST body the server sends (and every request body this test sends it) validated
against the Open Inference Protocol's own OpenAPI schemas (proto/inference/spec/
open_inference_rest.yaml, kserve/open-inference-protocol) with Debian's python3-jsonschema.

Run by tests/integration/v2_protocol_test.cc against the real server:
  rest_schema_test.py --rest http://127.0.0.1:PORT --model NAME --spec open_inference_rest.yaml
Exits 1 naming each body that does not validate. The binary tensor data extension's outputs
(no `data`, `parameters.binary_data_size`) are outside the core schema and not sent here.
"""
import argparse
import http.client
import json
import sys
import urllib.parse

import jsonschema
import yaml


class Spec:
    def __init__(self, path):
        with open(path) as f:
            doc = yaml.safe_load(f)
        self.components = doc["components"]
        self.failures = []
        self.checked = 0

    def check(self, what, instance, schema_name):
        schema = {"$ref": f"#/components/schemas/{schema_name}", "components": self.components}
        errors = sorted(jsonschema.Draft7Validator(schema).iter_errors(instance), key=str)
        self.checked += 1
        for e in errors:
            self.failures.append(f"{what}: not a valid {schema_name}: {e.message} "
                                 f"at {'/'.join(map(str, e.absolute_path)) or 'the top'}")


def request(base, method, path, body=None):
    url = urllib.parse.urlparse(base)
    conn = http.client.HTTPConnection(url.hostname, url.port, timeout=20)
    data = None if body is None else json.dumps(body)
    headers = {} if body is None else {"Content-Type": "application/json"}
    conn.request(method, path, body=data, headers=headers)
    res = conn.getresponse()
    payload = res.read()
    conn.close()
    doc = json.loads(payload) if payload else None
    return res.status, doc


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--rest", required=True)
    parser.add_argument("--model", required=True)
    parser.add_argument("--spec", required=True)
    args = parser.parse_args()
    spec = Spec(args.spec)
    m = urllib.parse.quote(args.model)

    status, doc = request(args.rest, "GET", "/v2")
    spec.check("GET /v2", doc, "metadata_server_response")

    status, meta = request(args.rest, "GET", f"/v2/models/{m}")
    spec.check(f"GET /v2/models/{m}", meta, "metadata_model_response")
    status, doc = request(args.rest, "GET", f"/v2/models/{m}/versions/1")
    spec.check(f"GET /v2/models/{m}/versions/1", doc, "metadata_model_response")
    status, doc = request(args.rest, "GET", "/v2/models/no-such-model")
    spec.check("GET /v2/models/no-such-model", doc, "metadata_model_error_response")
    if status != 404:
        spec.failures.append(f"GET /v2/models/no-such-model: HTTP {status}, expected 404")

    dim = meta["inputs"][0]["shape"][1]
    row = [0.01 * (j % 7) for j in range(dim)]
    flat = {"inputs": [{"name": "embedding", "shape": [2, dim], "datatype": "FP32",
                        "data": row + row}]}
    nested = {"id": "r-7", "parameters": {"timeout": 10_000_000},
              "inputs": [{"name": "embedding", "shape": [2, dim], "datatype": "FP32",
                          "data": [row, row]}],
              "outputs": [{"name": "label"},
                          {"name": "probabilities", "parameters": {"classification": 2}}]}
    bad_width = {"inputs": [{"name": "embedding", "shape": [1, 3], "datatype": "FP32",
                             "data": [1, 2, 3]}]}
    unknown_label = {"parameters": {"version_label": "canary"},
                     "inputs": flat["inputs"]}
    for what, path, body, want in [
            ("infer (flat data, every output)", f"/v2/models/{m}/infer", flat, 200),
            ("infer (nested data, outputs, classification, timeout)",
             f"/v2/models/{m}/versions/1/infer", nested, 200),
            ("infer (wrong width)", f"/v2/models/{m}/infer", bad_width, 400),
            ("infer (unknown version label)", f"/v2/models/{m}/infer", unknown_label, 404),
            ("infer (unknown model)", "/v2/models/no-such-model/infer", flat, 404)]:
        spec.check(f"{what}: the request", body, "inference_request")
        status, doc = request(args.rest, "POST", path, body)
        if status != want:
            spec.failures.append(f"{what}: HTTP {status}, expected {want}: {doc}")
        spec.check(f"{what}: the answer", doc,
                   "inference_response" if status == 200 else "inference_error_response")

    for f in spec.failures:
        print(f"FAIL {f}")
    print(f"{spec.checked} bodies checked against open_inference_rest.yaml, "
          f"{len(spec.failures)} failure(s)")
    return 1 if spec.failures else 0


if __name__ == "__main__":
    sys.exit(main())
