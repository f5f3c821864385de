"""Writes classification results byte for byte as the C++ client does (client/results_writer.cc):
CSV (id, label, score, out_of_distribution, one prob_<label> column per class, numbers as C's
%.6g) or JSON Lines (nlohmann::json's dump: keys sorted, no spaces, shortest round-trip floats),
and keeps the per-label and out-of-distribution counts for the summary."""
import json
import sys

from .errors import ArginatorError


def csv_field(value):
    """A CSV field as RFC 4180 writes it: quoted (inner quotes doubled) when it holds a comma, a
    quote or a line break. Protein ids from FASTA headers often hold commas and pipes."""
    if not any(c in value for c in ',"\r\n'):
        return value
    return '"' + value.replace('"', '""') + '"'


class ResultsWriter:
    """Owns the output file (not standard output, for path "-"); not thread-safe."""

    def __init__(self, path, fmt):
        if fmt not in ("csv", "jsonl"):
            raise ArginatorError("INVALID_ARGUMENT", f"format '{fmt}' is not csv or jsonl")
        self.path = path
        self.format = fmt
        self.label_counts = {}
        self.out_of_distribution = 0
        self.written = 0
        self._labels = None
        if path == "-":
            self._out = sys.stdout
        else:
            try:
                # newline="" keeps "\n" as written: the C++ client writes no "\r".
                self._out = open(path, "w", encoding="utf-8", newline="")
            except OSError:
                raise ArginatorError("PERMISSION_DENIED", f"{path}: cannot write") from None

    def write(self, response):
        """Appends one ClassifyResponse's predictions, in order."""
        if self._labels is None:
            self._labels = list(response.labels)
            if self.format == "csv":
                header = "id,label,score,out_of_distribution"
                # The per-class columns only when the rows carry them (not --no-probabilities).
                if response.predictions and response.predictions[0].probabilities:
                    header += "".join("," + csv_field("prob_" + label) for label in self._labels)
                self._write(header + "\n")
        lines = []
        for p in response.predictions:
            self.label_counts[p.label] = self.label_counts.get(p.label, 0) + 1
            self.out_of_distribution += int(p.out_of_distribution)
            self.written += 1
            if self.format == "csv":
                lines.append(self._csv_line(p))
            else:
                lines.append(self._json_line(p, response))
        self._write("".join(lines))

    def close(self):
        try:
            self._out.flush()
            if self._out is not sys.stdout:
                self._out.close()
        except OSError:
            where = "standard output" if self.path == "-" else self.path
            raise ArginatorError("INTERNAL", f"{where}: close failed") from None

    def _csv_line(self, p):
        fields = [csv_field(p.id), csv_field(p.label), "%.6g" % p.score,
                  "true" if p.out_of_distribution else "false"]
        fields.extend("%.6g" % prob for prob in p.probabilities)
        return ",".join(fields) + "\n"

    def _json_line(self, p, response):
        line = {"id": p.id, "label": p.label, "score": p.score,
                "out_of_distribution": p.out_of_distribution, "l2_norm": p.l2_norm,
                "model": response.model_name, "version": response.model_version}
        if p.probabilities:
            line["probabilities"] = dict(zip(self._labels, p.probabilities))
        return json.dumps(line, sort_keys=True, separators=(",", ":"), ensure_ascii=False) + "\n"

    def _write(self, text):
        try:
            self._out.write(text)
        except OSError:
            where = "standard output" if self.path == "-" else self.path
            raise ArginatorError("INTERNAL", f"{where}: write failed") from None
