"""The CLI's subcommands, printing what client/main.cc prints. Each returns the exit status of a
call that went through; failures raise ArginatorError for cli.main to report. `inspect` reads files
only: it takes no client and needs neither a server nor the generated stubs."""
import json
import math
import re
import sys
import time

import numpy as np

from . import hamronization
from .embedding_files import describe_read, read_embeddings
from .errors import ArginatorError
from .results_writer import ResultsWriter


def read_input(args):
    """The embeddings --input names, with --no-pooling, --id-map and --fasta applied."""
    return read_embeddings(args.input, pool_residues=args.pool_residues, id_map=args.id_map,
                           fasta=args.fasta)


def inspect(args):
    """What --input holds: where its ids come from, how many proteins, at what precision, how many
    per-residue arrays were pooled; with --ids, each id and its L2 norm."""
    embeddings = read_input(args)
    source = embeddings.source
    out = [f"file:      {args.input}\nlayout:    {source.layout}\nids:       {source.ids}\n"
           f"proteins:  {len(embeddings.ids)}\nprecision: {source.precision}\n"
           f"pooled:    {source.pooled}\n"]
    if args.ids:
        norms = row_l2_norms(embeddings.values)
        out.extend("%s\t%.4f\n" % (id_, norm) for id_, norm in zip(embeddings.ids, norms))
    sys.stdout.write("".join(out))
    return 0


def row_l2_norms(values):
    """The L2 norm of each float32 row, as common/embedding_matrix.cc's RowL2Norm computes it (so
    both clients print the same digits): squares summed in 16 float32 lanes, the lanes summed in
    order in float32, the rest of the row added; a sum that is not finite is redone in float64."""
    values = np.asarray(values, dtype=np.float32)
    lanes_end = values.shape[1] // 16 * 16
    lanes = np.zeros((values.shape[0], 16), dtype=np.float32)
    with np.errstate(over="ignore", invalid="ignore"):
        for j in range(0, lanes_end, 16):
            block = values[:, j:j + 16]
            lanes += block * block
        sums = np.zeros(values.shape[0], dtype=np.float32)
        for k in range(16):
            sums += lanes[:, k]
        for j in range(lanes_end, values.shape[1]):
            sums += values[:, j] * values[:, j]
    norms = []
    for row, total in zip(values, sums):
        if not math.isfinite(total):
            total = sum(float(v) * float(v) for v in row)
        norms.append(math.sqrt(float(total)))
    return norms


def _data_sha256(client, name, version):
    """The card's training data digest (dataset.data_sha256), or "" as the C++ client says."""
    try:
        dataset = json.loads(client.metadata(name, version=version).dataset_json)
    except (ArginatorError, ValueError):
        return ""
    digest = dataset.get("data_sha256") if isinstance(dataset, dict) else None
    return digest if isinstance(digest, str) else ""


def classify(client, args):
    read_start = time.monotonic()
    embeddings = read_input(args)
    start = time.monotonic()  # classification time, without the read
    writer = ResultsWriter(args.output, args.format, args.input,
                           include_uncertain=args.include_uncertain,
                           database_version=lambda name, version: hamronization.database_version(
                               version, _data_sha256(client, name, version)))
    ids, values, n = embeddings.ids, embeddings.values, len(embeddings.ids)
    batch = max(1, args.batch)
    stream = args.stream == "always" or (args.stream == "auto" and n > 4 * batch)
    model = dict(model=args.model, version=_version(args), label=args.label,
                 probabilities=args.probabilities, evidence=args.evidence)
    if stream:
        responses = client.classify_stream(values, ids, batch_size=batch,
                                           max_in_flight=max(1, args.in_flight), **model)
    else:
        responses = (client.classify(values[first:first + batch], ids[first:first + batch],
                                     **model) for first in range(0, n, batch))
    bar = _ProgressBar("classify", n)
    served_by = ""
    for response in responses:
        served_by = f"{response.model_name} v{response.model_version}"
        writer.write(response)
        bar.update(writer.written)
    bar.finish()
    writer.close()
    seconds = max(time.monotonic() - start, 1e-9)
    err = sys.stderr
    # Said once every row is classified, as the C++ client (which reads as it sends) says it.
    err.write(describe_read(args.input, n, embeddings.source) + "\n")
    err.write("classified %d embeddings from %s with %s in %.2fs (%.0f/s, %s; reading the file "
              "took %.2fs)\n" % (n, args.input, served_by, seconds, n / seconds,
                                 "ClassifyStream" if stream else "Classify", start - read_start))
    for label, count in sorted(writer.label_counts.items(), key=lambda kv: kv[0].encode()):
        err.write("  %-20s %8d  %5.1f%%\n" % (label, count, 100.0 * count / n))
    err.write("  %-20s %8d\n" % ("out_of_distribution", writer.out_of_distribution))
    err.write("  %-20s %8d  (no call: below the threshold or out of distribution)\n"
              % ("uncertain", writer.uncertain))
    err.write("results: %s\n" % ("standard output" if args.output == "-" else args.output))
    return 0


def models(client, args):
    response = client.list_models()
    state_name = client.version_state_name
    out = ["%-24s %-11s %-8s %-10s %s\n" % ("MODEL", "TASK", "VERSION", "STATE",
                                            "LABELS / REASON")]
    for m in response.models:
        for v in m.versions:
            note = ",".join(v.version_labels)
            if v.version == m.default_version:
                note += ("," if note else "") + "default"
            if v.reason:
                note += (" " if note else "") + v.reason
            out.append("%-24s %-11s %-8d %-10s %s\n" % (m.name, m.task, v.version,
                                                        state_name(v.state), note))
    sys.stdout.write("".join(out))
    return 0


def metadata(client, args):
    md = client.metadata(args.model, version=_version(args), label=args.label)
    sys.stdout.write(
        f"name:        {md.name}\nversion:     {md.version}\ntask:        {md.task}\n"
        f"state:       {client.version_state_name(md.status.state)}\n"
        f"input_dim:   {md.input_dim}\nlabels:      {', '.join(md.labels)}\n"
        f"output:      {md.output}\ncreated:     {md.created}\nsha256:      {md.model_sha256}\n"
        + "norm range:  [%.3f, %.3f] (inputs outside are flagged)\n" % (md.input_norm_min,
                                                                         md.input_norm_max)
        + f"architecture: {_pretty_json(md.architecture_json)}\n"
        + f"metrics:     {_pretty_json(md.metrics_json)}\n")
    return 0


_RAW_NUMBER = "\u0000raw-number:"


def _pretty_json(text):
    """A card section as indented JSON with sorted keys, as the C++ client prints it (nlohmann's
    dump(2)); text that is not JSON as it is. Fractional numbers keep the server's own text:
    nlohmann-json's shortest-form algorithm and Python's repr differ by a digit on some doubles."""
    try:
        data = json.loads(text, parse_float=lambda number: _RAW_NUMBER + number)
    except ValueError:
        return text
    out = json.dumps(data, indent=2, sort_keys=True, ensure_ascii=False)
    return re.sub(r'"\\u0000raw-number:([-+.0-9eE]+)"', r"\1", out)


def health(client, args):
    status = client.health(args.service)
    print(status)
    return 0 if status == "SERVING" else 1


def _version(args):
    return args.version if args.version is not None and args.version > 0 else None


class _ProgressBar:
    """A one-line progress bar on stderr, drawn only when stderr is a terminal (so logs and CI
    stay clean); redrawn at most every 100 ms. common/progress.cc's bar."""

    _WIDTH = 30

    def __init__(self, label, total):
        self._label, self._total = label, total
        self._enabled = sys.stderr.isatty()
        self._last_draw = 0.0

    def update(self, done):
        now = time.monotonic()
        if not self._enabled or (done < self._total and now - self._last_draw < 0.1):
            return
        self._last_draw = now
        filled = self._WIDTH * done // self._total if self._total > 0 else self._WIDTH
        bar = "#" * filled + "." * (self._WIDTH - filled)
        sys.stderr.write(f"\r{self._label} [{bar}] {done}/{self._total} \033[K")
        sys.stderr.flush()

    def finish(self):
        if self._enabled:
            sys.stderr.write("\r\033[K")
            sys.stderr.flush()
            self._enabled = False
