"""Writes classification results byte for byte as the C++ client does (client/results_writer.cc):
CSV (id, label, score, out_of_distribution, call, confidence, call_probability, ood_score,
model, version, input_file, one prob_<label> column per class, numbers as C's %.6g) or JSON Lines (keys sorted, no spaces, numbers as C's %.9g writes the float32 values),
and keeps the per-label, uncertain and out-of-distribution counts for the summary."""
import json
import os
import sys

from . import hamronization
from .errors import ArginatorError

FORMATS = ("csv", "jsonl", "hamronization", "hamronization-json")


# JSONL is assembled by hand as the C++ client does (client/results_writer.cc): numbers as C's
# %.9g writes the float32 values, keys sorted, strings as JSON escapes them.
def _number(value):
    return "%.9g" % value


def _string(value):
    return json.dumps(value, ensure_ascii=False)


def _boolean(value):
    return "true" if value else "false"


def _object(fields):
    """An object of {key: JSON text}, keys sorted (by UTF-8 bytes, as std::sort on std::string)."""
    return "{" + ",".join(_string(k) + ":" + v
                          for k, v in sorted(fields.items(), key=lambda kv: kv[0].encode())) + "}"


def _labelled_numbers(labels, values):
    return _object({label: _number(v) for label, v in zip(labels, values)})


def csv_field(value):
    """A CSV field as RFC 4180 writes it: quoted (inner quotes doubled) when it holds a comma, a
    quote or a line break. Protein ids from FASTA headers often hold commas and pipes."""
    if not any(c in value for c in ',"\r\n'):
        return value
    return '"' + value.replace('"', '""') + '"'


class ResultsWriter:
    """Owns the output file (not standard output, for path "-"); not thread-safe."""

    def __init__(self, path, fmt, input_file="", include_uncertain=False,
                 database_version=None):
        """database_version(model, version) -> reference_database_version, for the
        hAMRonization formats (asked once per model version seen)."""
        if fmt not in FORMATS:
            raise ArginatorError("INVALID_ARGUMENT",
                                 f"format '{fmt}' is not one of {', '.join(FORMATS)}")
        self._include_uncertain = include_uncertain
        self._database_version = database_version
        self._database_versions = {}
        self._reported = 0
        self._header_written = False
        self._with_evidence = False
        self.path = path
        self.format = fmt
        self.label_counts = {}
        self.out_of_distribution = 0
        self.uncertain = 0
        self.written = 0
        self._input_file = os.path.basename(input_file)
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
        if self.format.startswith("hamronization"):
            self._write_hamronization(response)
            return
        if self._labels is None:
            self._labels = list(response.labels)
            if self.format == "csv":
                header = ("id,label,score,out_of_distribution,call,confidence,call_probability,"
                          "ood_score,model,version,input_file")
                # The nearest reference's columns only when the rows carry evidence (--evidence).
                self._with_evidence = bool(response.predictions and
                                           response.predictions[0].evidence)
                if self._with_evidence:
                    header += ",nearest_reference,nearest_label,nearest_cosine,evidence_disagrees"
                # The per-class columns only when the rows carry them (not --no-probabilities).
                if response.predictions and response.predictions[0].probabilities:
                    header += "".join("," + csv_field("prob_" + label) for label in self._labels)
                self._write(header + "\n")
        lines = []
        for p in response.predictions:
            self.label_counts[p.label] = self.label_counts.get(p.label, 0) + 1
            self.out_of_distribution += int(p.out_of_distribution)
            self.uncertain += int(p.call == "uncertain")
            self.written += 1
            if self.format == "csv":
                lines.append(self._csv_line(p, response))
            else:
                lines.append(self._json_line(p, response))
        self._write("".join(lines))

    def _write_hamronization(self, response):
        if self.format == "hamronization" and not self._header_written:
            self._write("\t".join(hamronization.COLUMNS) + "\n")
        self._header_written = True
        key = (response.model_name, response.model_version)
        if key not in self._database_versions:
            self._database_versions[key] = (
                self._database_version(*key) if self._database_version
                else hamronization.database_version(key[1], ""))
        out = []
        for p in response.predictions:
            self.label_counts[p.label] = self.label_counts.get(p.label, 0) + 1
            self.out_of_distribution += int(p.out_of_distribution)
            self.uncertain += int(p.call == "uncertain")
            self.written += 1
            values = hamronization.row(p, response.model_name, self._database_versions[key],
                                       response.model_version, self._input_file,
                                       self._include_uncertain)
            if values is None:
                continue
            if self.format == "hamronization":
                out.append("\t".join(hamronization.tsv_field(v) for v in values) + "\n")
            else:
                record = {c: (v if v else None) for c, v in zip(hamronization.COLUMNS, values)}
                out.append((",\n" if self._reported else "[\n") +
                           json.dumps(record, separators=(",", ":"), ensure_ascii=False))
            self._reported += 1
        self._write("".join(out))

    def close(self):
        if self.format == "hamronization" and not self._header_written:
            self._write("\t".join(hamronization.COLUMNS) + "\n")
        if self.format == "hamronization-json":
            self._write("\n]\n" if self._reported else "[]\n")
        try:
            self._out.flush()
            if self._out is not sys.stdout:
                self._out.close()
        except OSError:
            where = "standard output" if self.path == "-" else self.path
            raise ArginatorError("INTERNAL", f"{where}: close failed") from None

    def _csv_line(self, p, response):
        fields = [csv_field(p.id), csv_field(p.label), "%.6g" % p.score,
                  "true" if p.out_of_distribution else "false", csv_field(p.call), p.confidence,
                  "%.6g" % p.call_probability, "%.6g" % p.ood_score,
                  csv_field(response.model_name), str(response.model_version),
                  csv_field(self._input_file)]
        if self._with_evidence:
            if p.evidence:
                e = p.evidence[0]
                fields += [csv_field(e.id), csv_field(e.label), "%.6g" % e.cosine]
            else:
                fields += ["", "", ""]
            fields.append("true" if p.evidence_disagrees else "false")
        fields.extend("%.6g" % prob for prob in p.probabilities)
        return ",".join(fields) + "\n"

    def _json_line(self, p, response):
        fields = {"id": _string(p.id), "label": _string(p.label), "score": _number(p.score),
                  "out_of_distribution": _boolean(p.out_of_distribution),
                  "l2_norm": _number(p.l2_norm), "call": _string(p.call),
                  "confidence": _string(p.confidence),
                  "call_probability": _number(p.call_probability),
                  "ood_score": _number(p.ood_score), "model": _string(response.model_name),
                  "version": str(response.model_version), "input_file": _string(self._input_file)}
        if p.probabilities:
            fields["probabilities"] = _labelled_numbers(self._labels, p.probabilities)
        if p.calibrated_probabilities:
            fields["calibrated_probabilities"] = _labelled_numbers(self._labels,
                                                                   p.calibrated_probabilities)
        if p.evidence:
            fields["evidence"] = "[" + ",".join(
                _object({"id": _string(e.id), "label": _string(e.label),
                         "cosine": _number(e.cosine)}) for e in p.evidence) + "]"
            fields["evidence_disagrees"] = _boolean(p.evidence_disagrees)
        return _object(fields) + "\n"

    def _write(self, text):
        try:
            self._out.write(text)
        except OSError:
            where = "standard output" if self.path == "-" else self.path
            raise ArginatorError("INTERNAL", f"{where}: write failed") from None
