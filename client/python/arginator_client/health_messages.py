"""grpc.health.v1 HealthCheckRequest / HealthCheckResponse on the wire.

Debian packages no Python stubs for grpc/health/v1/health.proto (grpcio-health-checking) and the
build generates none, and the two messages are one field each, so they are encoded here:
request `string service = 1`, response `ServingStatus status = 1`.
"""

_STATUS_NAMES = {0: "UNKNOWN", 1: "SERVING", 2: "NOT_SERVING", 3: "SERVICE_UNKNOWN"}


def encode_request(service):
    """HealthCheckRequest{service} as bytes."""
    data = service.encode("utf-8")
    return (b"\x0a" + _varint(len(data)) + data) if data else b""


def decode_response(data):
    """The status name of a HealthCheckResponse ("UNKNOWN" when absent or unknown)."""
    status, at = 0, 0
    while at < len(data):
        key, at = _read_varint(data, at)
        field, wire_type = key >> 3, key & 7
        if wire_type == 0:
            value, at = _read_varint(data, at)
            if field == 1:
                status = value
        elif wire_type == 2:
            length, at = _read_varint(data, at)
            at += length
        elif wire_type in (1, 5):
            at += 8 if wire_type == 1 else 4
        else:
            raise ValueError(f"HealthCheckResponse: wire type {wire_type} at byte {at}")
    return _STATUS_NAMES.get(status, "UNKNOWN")


def _varint(value):
    out = bytearray()
    while True:
        byte, value = value & 0x7F, value >> 7
        out.append(byte | (0x80 if value else 0))
        if not value:
            return bytes(out)


def _read_varint(data, at):
    value, shift = 0, 0
    while True:
        if at >= len(data):
            raise ValueError("HealthCheckResponse: truncated varint")
        byte = data[at]
        value |= (byte & 0x7F) << shift
        at, shift = at + 1, shift + 7
        if not byte & 0x80:
            return value, at
