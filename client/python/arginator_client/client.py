"""Client: the Python peer of client/arginator_client.h."""
import random
import threading
import time

import grpc
import numpy as np

from . import health_messages, stubs
from .errors import ArginatorError

_MAX_MESSAGE_BYTES = 256 << 20
_TRANSIENT = (grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.RESOURCE_EXHAUSTED)
_CODE_NAMES = {code.value[0]: code.name for code in grpc.StatusCode}


class Client:
    """Calls one arginator-server over one HTTP/2 channel. Thread-safe as grpc's channel is; share
    one per process and close() it (or use it in a `with` block) when done.

    tls, or a ca_cert (a private CA) or cert, turns TLS on; cert + key (PEM file paths) go together
    for mutual TLS. authority overrides the host name the server's certificate is checked against
    (e.g. when dialling an IP). deadline (seconds) bounds each unary call, its retries included:
    UNAVAILABLE (server restarting, connection reset) and RESOURCE_EXHAUSTED (queue full) are
    retried with exponential backoff and jitter, up to max_attempts calls in all. lb_policy
    "round_robin" spreads calls over every address the target resolves to ("ipv4:a:p,b:p", or a
    headless Service's "dns:///name:port") and stops using one that goes away.

    Every failure raises ArginatorError with the server's code and message.
    """

    def __init__(self, target, *, tls=False, ca_cert=None, cert=None, key=None, authority=None,
                 deadline=30.0, max_attempts=4, initial_backoff=0.1, max_backoff=3.0,
                 lb_policy=None):
        self._pb, pb_grpc = stubs.load()
        if bool(cert) != bool(key):
            given, missing = ("cert", "key") if cert else ("key", "cert")
            raise ArginatorError("INVALID_ARGUMENT", f"cert and key go together (mutual TLS): "
                                 f"{given} given without {missing}")
        if deadline <= 0:
            raise ArginatorError("INVALID_ARGUMENT", f"deadline {deadline} s is not positive")
        self.target = target
        self._deadline = deadline
        self._max_attempts = max(1, max_attempts)
        self._initial_backoff = initial_backoff
        self._max_backoff = max_backoff
        options = [("grpc.max_receive_message_length", _MAX_MESSAGE_BYTES),
                   ("grpc.max_send_message_length", _MAX_MESSAGE_BYTES)]
        if authority:
            options.append(("grpc.ssl_target_name_override", authority))
        if lb_policy:  # round_robin: every address the target resolves to (arginator_client.h)
            options.append(("grpc.lb_policy_name", lb_policy))
        if tls or ca_cert or cert:
            credentials = grpc.ssl_channel_credentials(
                root_certificates=_read_pem(ca_cert), private_key=_read_pem(key),
                certificate_chain=_read_pem(cert))
            self._channel = grpc.secure_channel(target, credentials, options)
        else:
            self._channel = grpc.insecure_channel(target, options)
        self._stub = pb_grpc.ClassifierStub(self._channel)
        self._health = self._channel.unary_unary(
            "/grpc.health.v1.Health/Check", request_serializer=health_messages.encode_request,
            response_deserializer=health_messages.decode_response)

    def close(self):
        self._channel.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def classify(self, embeddings, ids, model, version=None, label=None, probabilities=True,
                 evidence=0):
        """Classifies the rows of `embeddings` (array-like [n, dim]) named by `ids` in one
        Classify call (packed float32). Returns the ClassifyResponse: predictions in row order,
        the model's labels, model_name and model_version. evidence > 0 asks for that many
        nearest known proteins per row (Prediction.evidence)."""
        values = _as_rows(embeddings, ids)
        request = self._request(values, ids, self._model_spec(model, version, label),
                                probabilities, evidence)
        return self._with_retries(lambda timeout: self._stub.Classify(request, timeout=timeout))

    def classify_stream(self, embeddings, ids, model, version=None, label=None,
                        probabilities=True, batch_size=256, evidence=0, max_in_flight=4):
        """Classifies every row over one ClassifyStream, batch_size rows per request; yields one
        ClassifyResponse per batch, in order. At most max_in_flight requests are sent and not
        yet answered, so only that many batches are copied into requests at a time (embeddings
        may be a memory-mapped array larger than memory). An error answering a batch ends the
        stream and raises ArginatorError naming the batch's first row. The stream has no
        deadline (a bulk job) and is not retried."""
        values = _as_rows(embeddings, ids)
        if batch_size < 1:
            raise ArginatorError("INVALID_ARGUMENT", f"batch size {batch_size} is not positive")
        if max_in_flight < 1:
            raise ArginatorError("INVALID_ARGUMENT",
                                 f"max_in_flight {max_in_flight} is not positive")
        spec = self._model_spec(model, version, label)
        slots = threading.Semaphore(max_in_flight)
        done = threading.Event()

        def requests():  # runs on gRPC's thread while this one takes the answers
            for first in range(0, len(ids), batch_size):
                while not slots.acquire(timeout=0.1):
                    if done.is_set():
                        return
                last = first + batch_size
                request = self._request(values[first:last], ids[first:last], spec, probabilities,
                                        evidence)
                request.request_id = str(first)
                yield request

        call = self._stub.ClassifyStream(requests())
        try:
            for answer in call:
                slots.release()
                if answer.error_code != 0:
                    code = _CODE_NAMES.get(answer.error_code, str(answer.error_code))
                    raise ArginatorError(
                        code, f"rows from {answer.request_id}: {answer.error_message}")
                yield answer.response
        except grpc.RpcError as error:
            raise _from_rpc_error(error) from None
        finally:
            done.set()
            call.cancel()  # a no-op once the stream has ended

    def list_models(self):
        """ListModelsResponse: every model, its versions and their state."""
        request = self._pb.ListModelsRequest()
        return self._with_retries(lambda timeout: self._stub.ListModels(request, timeout=timeout))

    def metadata(self, model, version=None, label=None):
        """GetModelMetadataResponse of one version (the server's default when neither version
        nor label is given)."""
        request = self._pb.GetModelMetadataRequest(model=self._model_spec(model, version, label))
        return self._with_retries(
            lambda timeout: self._stub.GetModelMetadata(request, timeout=timeout))

    def health(self, service=""):
        """"SERVING", "NOT_SERVING", "SERVICE_UNKNOWN" or "UNKNOWN" for a grpc.health.v1 service
        name ("" = the whole server, or a model name)."""
        try:
            return self._with_retries(lambda timeout: self._health(service, timeout=timeout))
        except ArginatorError as error:
            if error.code == "NOT_FOUND":
                return "SERVICE_UNKNOWN"
            raise

    def admin(self, method, token, **fields):
        """One ModelAdmin call (the server's admin.enabled), e.g. admin("Promote", token,
        name="m"); returns the AdminResponse. `token` goes in "authorization: Bearer <token>".
        Never retried: a promote sent twice would promote twice."""
        requests = {"LoadVersion": "LoadVersionRequest", "UnloadVersion": "UnloadVersionRequest",
                    "SetVersionLabel": "SetVersionLabelRequest", "Rescan": "RescanRequest",
                    "SetCanary": "SetCanaryRequest", "SetShadow": "SetShadowRequest",
                    "Promote": "PromoteRequest", "Rollback": "RollbackRequest",
                    "SetDefaultLabel": "SetDefaultLabelRequest",
                    "ReleaseStatus": "ReleaseStatusRequest"}
        request = getattr(self._pb, requests[method])(**fields)
        call = self._channel.unary_unary(
            f"/arginator.v1.ModelAdmin/{method}", request_serializer=request.SerializeToString,
            response_deserializer=self._pb.AdminResponse.FromString)
        try:
            return call(request, timeout=60, metadata=[("authorization", f"Bearer {token}")])
        except grpc.RpcError as error:
            raise _from_rpc_error(error) from None

    def version_state_name(self, state):
        """The name of a VersionStatus.State value ("READY", "LOADING", ...)."""
        try:
            return self._pb.VersionStatus.State.Name(state)
        except ValueError:
            return str(state)

    def _model_spec(self, model, version, label):
        if version is not None and label is not None:
            raise ArginatorError("INVALID_ARGUMENT", f"model '{model}': give a version "
                                 f"({version}) or a label ('{label}'), not both")
        spec = self._pb.ModelSpec(name=model)
        if version is not None:
            spec.version = int(version)
        if label is not None:
            spec.version_label = label
        return spec

    def _request(self, values, ids, spec, probabilities, evidence=0):
        return self._pb.ClassifyRequest(model=spec, packed_values=values.tobytes(),
                                        packed_ids=list(ids), return_probabilities=probabilities,
                                        evidence=evidence)

    def _with_retries(self, call):
        """Runs call(timeout) until it succeeds, fails for good, or attempts or time run out."""
        deadline = time.monotonic() + self._deadline
        backoff = self._initial_backoff
        for attempt in range(1, self._max_attempts + 1):
            try:
                return call(max(0.0, deadline - time.monotonic()))
            except grpc.RpcError as error:
                if error.code() not in _TRANSIENT or attempt == self._max_attempts:
                    raise _from_rpc_error(error) from None
                # Jitter: a random part of the current backoff, never past the deadline.
                sleep = backoff * random.uniform(0.5, 1.0)
                if deadline - time.monotonic() <= sleep:
                    raise _from_rpc_error(error) from None
                time.sleep(sleep)
                backoff = min(backoff * 2, self._max_backoff)
        raise AssertionError("not reached")


def _as_rows(embeddings, ids):
    """embeddings as little-endian float32 [n, dim] in C order, checked against ids."""
    values = np.ascontiguousarray(embeddings, dtype="<f4")
    if values.ndim != 2:
        raise ArginatorError("INVALID_ARGUMENT",
                             f"embeddings have shape {list(values.shape)}, expected [n, dim]")
    if len(ids) != values.shape[0]:
        raise ArginatorError("INVALID_ARGUMENT",
                             f"{len(ids)} ids for {values.shape[0]} embedding rows")
    return values


def _read_pem(path):
    if not path:
        return None
    try:
        with open(path, "rb") as file:
            return file.read()
    except OSError as error:
        raise ArginatorError("NOT_FOUND", f"{path}: cannot open: {error.strerror}") from None


def _from_rpc_error(error):
    return ArginatorError(error.code().name, error.details() or error.code().name)
