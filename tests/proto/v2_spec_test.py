#!/usr/bin/env python3
"""Compares proto/inference/grpc_predict_v2.proto, which the server and clients compile, with the
Open Inference Protocol's own open_inference_grpc.proto (proto/inference/spec/): every message of
the spec (nested ones too) must exist in ours with the same fields (name, number, type, label,
message type, oneof), and the same service with the same methods; ours may not add fields or
methods the spec lacks. Both files are compiled by protoc into descriptor sets, so the comparison
is of what protoc understood, not of text.

Usage: v2_spec_test.py PROTOC SOURCE_DIR   (exit 0: identical; 1: the differences, one a line)
"""
import os
import subprocess
import sys
import tempfile

from google.protobuf import descriptor_pb2


def descriptors(protoc, include, proto, out):
    subprocess.run([protoc, f"--proto_path={include}", f"--descriptor_set_out={out}", proto],
                   check=True)
    fds = descriptor_pb2.FileDescriptorSet()
    with open(out, "rb") as f:
        fds.ParseFromString(f.read())
    return fds.file[0]


def messages(file):
    found = {}

    def walk(prefix, message):
        name = f"{prefix}.{message.name}"
        found[name] = message
        for nested in message.nested_type:
            walk(name, nested)

    for message in file.message_type:
        walk(file.package, message)
    return found


def field_key(message, field):
    oneof = message.oneof_decl[field.oneof_index].name if field.HasField("oneof_index") else ""
    return (field.number, field.type, field.label, field.type_name.split(".")[-1], oneof)


def compare(spec, ours):
    problems = []
    spec_messages, our_messages = messages(spec), messages(ours)
    for name, message in sorted(spec_messages.items()):
        if name not in our_messages:
            problems.append(f"message {name}: in the spec, missing from ours")
            continue
        theirs = {f.name: field_key(message, f) for f in message.field}
        mine = {f.name: field_key(our_messages[name], f) for f in our_messages[name].field}
        for field in sorted(theirs.keys() | mine.keys()):
            if field not in mine:
                problems.append(f"{name}.{field}: in the spec {theirs[field]}, missing from ours")
            elif field not in theirs:
                problems.append(f"{name}.{field}: ours {mine[field]}, not in the spec")
            elif theirs[field] != mine[field]:
                problems.append(f"{name}.{field}: spec {theirs[field]}, ours {mine[field]}")
    for name in sorted(our_messages.keys() - spec_messages.keys()):
        problems.append(f"message {name}: ours, not in the spec")
    spec_services = {s.name: s for s in spec.service}
    our_services = {s.name: s for s in ours.service}
    if spec_services.keys() != our_services.keys():
        problems.append(f"services: spec {sorted(spec_services)}, ours {sorted(our_services)}")
    for name in spec_services.keys() & our_services.keys():
        methods = lambda s: {(m.name, m.input_type, m.output_type, m.client_streaming,
                              m.server_streaming) for m in s.method}
        if methods(spec_services[name]) != methods(our_services[name]):
            problems.append(f"service {name}: spec {sorted(methods(spec_services[name]))}, "
                            f"ours {sorted(methods(our_services[name]))}")
    if spec.package != ours.package:
        problems.append(f"package: spec {spec.package}, ours {ours.package}")
    return problems


def main():
    protoc, source = sys.argv[1], sys.argv[2]
    proto_dir = os.path.join(source, "proto")
    with tempfile.TemporaryDirectory() as tmp:
        spec = descriptors(protoc, os.path.join(proto_dir, "inference", "spec"),
                           "open_inference_grpc.proto", os.path.join(tmp, "spec.pb"))
        ours = descriptors(protoc, proto_dir, "inference/grpc_predict_v2.proto",
                           os.path.join(tmp, "ours.pb"))
    problems = compare(spec, ours)
    for p in problems:
        print(p)
    print(f"{len(messages(spec))} messages and {len(spec.service)} service compared: "
          f"{'identical' if not problems else f'{len(problems)} difference(s)'}")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
