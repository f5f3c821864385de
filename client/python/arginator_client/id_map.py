"""Renames protein ids after a read, so results join with RGI and AMRFinderPlus output, which key
on the FASTA id as written (`WP_000027057.1`), not on an embedder's key for it
(common/id_map.cc: the same rules and messages).

From a table (`--id-map`): two columns key and id, tab-separated when the first non-blank line
has a tab, else comma (RFC 4180 quoting); blank lines skipped; an optional header `key<sep>id` on
line 1. From the FASTA the embeddings were made from (`--fasta`): each record answers to its id
(the header up to the first whitespace, Biopython's record.id), its whole header, ProtTrans' key
for it (the header with '/' and '.' replaced by '_') and bio_embeddings' key (the md5 hex digest
of the sequence as written); a key two records with different ids share is ambiguous.

Every error is an EmbeddingFileError (INVALID_ARGUMENT; NOT_FOUND "{path}: cannot open").
"""
import hashlib

from .errors import EmbeddingFileError
from .text_files import ASCII_WHITESPACE, is_blank, numbered_lines, split_or_raise

# A FASTA id ends at the first of these (common/id_map.cc's find_first_of(" \t\v\f")).
_ID_ENDS = " \t\v\f"


def _invalid(message):
    return EmbeddingFileError("INVALID_ARGUMENT", message)


class IdMap:
    """key -> id, read by from_table or from_fasta; immutable after construction."""

    def __init__(self, path):
        self.path = path
        self._entries = {}  # key -> [id, the first other id that made the same key, or ""]

    @classmethod
    def from_table(cls, path):
        """Reads an `--id-map` table; raises EmbeddingFileError."""
        table = cls(path)
        line_of, separator = {}, None
        for line_no, line in numbered_lines(path):
            if is_blank(line):
                continue
            if separator is None:
                separator = "\t" if "\t" in line else ","
            fields = split_or_raise(path, line_no, line, separator)
            if line_no == 1 and fields == ["key", "id"]:
                continue
            if len(fields) != 2:
                raise _invalid(f"{path}: line {line_no} has {len(fields)} fields; expected 2 "
                               "(key, id)")
            key, id_ = fields
            if not id_:
                raise _invalid(f"{path}: line {line_no} has an empty id")
            entry = table._entries.setdefault(key, [id_, ""])
            if entry[0] != id_:
                raise _invalid(f"{path}: key '{key}' is mapped twice (line {line_of[key]}: "
                               f"'{entry[0]}', line {line_no}: '{id_}')")
            line_of.setdefault(key, line_no)
        return table

    @classmethod
    def from_fasta(cls, path):
        """Reads the FASTA the embeddings were made from; raises EmbeddingFileError."""
        fasta, header, sequence = cls(path), None, []
        for line_no, line in numbered_lines(path):
            if line.startswith(">"):
                fasta._add_record(header, sequence)
                header, sequence = line[1:].strip(ASCII_WHITESPACE), []
            elif not is_blank(line):
                if header is None:
                    raise _invalid(f"{path}: line {line_no} comes before the first '>' header")
                sequence.append("".join(c for c in line if c not in ASCII_WHITESPACE))
        fasta._add_record(header, sequence)
        if not fasta._entries:
            raise _invalid(f"{path}: no FASTA records")
        return fasta

    def _add_record(self, header, sequence_parts):
        if header is None:
            return
        end = min((i for i in (header.find(c) for c in _ID_ENDS) if i >= 0), default=len(header))
        id_ = header[:end]
        sequence = "".join(sequence_parts)
        for key in (id_, header, header.replace("/", "_").replace(".", "_"),
                    hashlib.md5(sequence.encode("utf-8")).hexdigest()):
            self._add(key, id_)

    def _add(self, key, id_):
        entry = self._entries.setdefault(key, [id_, ""])
        if entry[0] != id_ and not entry[1]:
            entry[1] = id_

    def apply(self, path, ids):
        """The mapped ids of `ids` (read from `path`): each must be a key (else one error naming
        how many are not, with up to three of them in file order), no key may be ambiguous, and
        no two ids may map to the same id. Raises EmbeddingFileError."""
        mapped, missing = [], []
        for key in ids:
            entry = self._entries.get(key)
            if entry is None:
                missing.append(key)
                continue
            if entry[1]:
                raise _invalid(f"{self.path}: key '{key}' matches the records '{entry[0]}' and "
                               f"'{entry[1]}'")
            mapped.append(entry[0])
        if missing:
            examples = ", ".join(f"'{key}'" for key in missing[:3])
            raise _invalid(f"{path}: {len(missing)} of {len(ids)} ids are not in {self.path} "
                           f"(e.g. {examples})")
        first_with = {}
        for i, id_ in enumerate(mapped):
            first = first_with.setdefault(id_, i)
            if first != i:
                raise _invalid(f"{path}: '{ids[first]}' and '{ids[i]}' both map to '{id_}'")
        return mapped


def load_id_map(table_path=None, fasta_path=None):
    """The map the options name: None for neither, an error for both (a usage error)."""
    if table_path and fasta_path:
        raise _invalid("give an id map table or a FASTA file, not both")
    if table_path:
        return IdMap.from_table(table_path)
    if fasta_path:
        return IdMap.from_fasta(fasta_path)
    return None
