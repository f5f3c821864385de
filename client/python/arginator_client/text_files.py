"""Text files as the C++ readers see them: whole-file reads with the C++ messages, lines as
std::getline splits them (on "\\n", a trailing "\\r" dropped), and RFC 4180 fields
(common/csv_fields.cc's SplitCsvFields).
"""
from .errors import EmbeddingFileError

# What absl::StripAsciiWhitespace strips, and nothing else (str.strip() would take Unicode spaces).
ASCII_WHITESPACE = " \t\n\v\f\r"


class CsvFieldError(ValueError):
    """A line that RFC 4180 cannot split; the message names the 1-based field and is meant to be
    prefixed with the file and line: "field 2 has an unclosed quote ..."."""


def read_bytes(path, with_reason=False):
    """The file's bytes; EmbeddingFileError NOT_FOUND "{path}: cannot open[: reason]"."""
    try:
        with open(path, "rb") as file:
            return file.read()
    except OSError as error:
        reason = f": {error.strerror}" if with_reason else ""
        raise EmbeddingFileError("NOT_FOUND", f"{path}: cannot open{reason}") from None


def decode(path, data):
    """UTF-8 text; EmbeddingFileError INVALID_ARGUMENT "{path}: line {n} is not UTF-8"."""
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as error:
        line = data[:error.start].count(b"\n") + 1
        raise EmbeddingFileError("INVALID_ARGUMENT", f"{path}: line {line} is not UTF-8") from None


def numbered_lines(path):
    """(line number from 1, line without its "\\r") for every line of the file, blank ones too."""
    text = decode(path, read_bytes(path))
    lines = text.split("\n")
    if lines and lines[-1] == "":  # the newline that ends the last line starts no line
        lines.pop()
    for number, line in enumerate(lines, start=1):
        yield number, line[:-1] if line.endswith("\r") else line


def is_blank(line):
    return not line.strip(ASCII_WHITESPACE)


def split_csv_fields(line, separator):
    """The fields of one line by RFC 4180: a field that starts with '"' is quoted, ends at the next
    '"' not doubled and may hold the separator; '""' inside it is one '"'; after the closing quote
    comes the separator or the end of the line. Unquoted fields are kept as written (callers strip
    what they need). A quoted field cannot span lines. Raises CsvFieldError."""
    if '"' not in line:
        return line.split(separator)
    fields, at = [], 0
    while True:
        number = len(fields) + 1
        if at < len(line) and line[at] == '"':
            parts, at = [], at + 1
            while True:
                quote = line.find('"', at)
                if quote < 0:
                    raise CsvFieldError(f"field {number} has an unclosed quote (quoted fields "
                                        "cannot span lines)")
                parts.append(line[at:quote])
                at = quote + 1
                if at < len(line) and line[at] == '"':
                    parts.append('"')
                    at += 1
                    continue
                break
            if at < len(line) and line[at] != separator:
                raise CsvFieldError(f"field {number} has text after its closing quote")
            fields.append("".join(parts))
        else:
            end = line.find(separator, at)
            end = len(line) if end < 0 else end
            fields.append(line[at:end])
            at = end
        if at >= len(line):
            return fields
        at += 1  # the separator
        if at == len(line):
            fields.append("")  # a trailing separator ends with an empty field
            return fields


def split_or_raise(path, line_no, line, separator):
    """split_csv_fields, its error as INVALID_ARGUMENT "{path}: line {n}: field {k} has ..."."""
    try:
        return split_csv_fields(line, separator)
    except CsvFieldError as error:
        raise EmbeddingFileError("INVALID_ARGUMENT", f"{path}: line {line_no}: {error}") from None
