"""How the field's tools key per-protein HDF5 files, and where their real ids are
(common/embedding_layouts.cc: the same rules, strings and messages):

 - bio_embeddings keys each protein by the md5 of its sequence and stores the FASTA id in the
   dataset attribute `original_id`; its pipeline also writes mapping_file.csv (pandas' to_csv:
   index = key, columns original_id, sequence_length) at its prefix, one folder above the stage;
 - ProtTrans' prott5_embedder.py keys by the whole FASTA header with '/' and '.' made '_';
 - UniProt's per-protein.h5 keys by accession.
"""
import os
import re

from .errors import EmbeddingFileError
from .text_files import CsvFieldError, is_blank, numbered_lines, split_csv_fields

BIO_EMBEDDINGS = "bio_embeddings reduced embeddings"
MAPPING_FILE = "mapping_file.csv"
_MD5_HEX = re.compile(r"[0-9a-f]{32}")
# https://www.uniprot.org/help/accession_numbers
_UNIPROT_ACCESSION = re.compile(
    r"[OPQ][0-9][A-Z0-9]{3}[0-9]|[A-NR-Z][0-9]([A-Z][A-Z0-9]{2}[0-9]){1,2}")


def is_uniprot_accession(key):
    return _UNIPROT_ACCESSION.fullmatch(key) is not None


def resolve_hdf5_ids(path, names, original_ids):
    """The ids of the datasets `names` (in file order) read from `path`, and (layout, ids text).

    Each dataset's `original_ids` entry where one is non-empty; else mapping_file.csv beside
    `path` or in its parent directory when it lists every name (one that lists only some is an
    error: the ids would be half digests; one that lists none belongs to other data); else the
    names. Raises EmbeddingFileError."""
    if any(original_ids):
        ids = [o or n for n, o in zip(names, original_ids)]
        return _unique(path, names, ids), (BIO_EMBEDDINGS, "original_id attributes")
    mapping_path = find_mapping_file(path)
    if mapping_path:
        mapping = read_mapping_file(mapping_path)
        ids = [mapping[n] for n in names if n in mapping]
        if len(ids) == len(names):
            return (_unique(path, names, ids),
                    (BIO_EMBEDDINGS, f"{MAPPING_FILE} ({mapping_path})"))
        if ids:
            missing = next(n for n in names if n not in mapping)
            raise EmbeddingFileError(
                "INVALID_ARGUMENT",
                f"{mapping_path}: lists {len(ids)} of the {len(names)} datasets in {path} (not "
                f"'{missing}'); the ids cannot be recovered")
    return list(names), describe_keys(names)


def find_mapping_file(h5_path):
    """mapping_file.csv in the directory of `h5_path`, else in that directory's parent; "" when
    neither exists. The path as found: the directory as written ("" for none) joined with the
    name; the parent is the directory's lexical parent, or the directory joined with ".." when it
    is the current one ("", ".") or ends in "..", so `x.h5` looks in ../ as well."""
    directory = os.path.dirname(h5_path)
    if os.path.basename(directory) in ("", ".", ".."):
        parent = os.path.join(directory, "..")
    else:
        parent = os.path.dirname(directory)
    for candidate in (os.path.join(directory, MAPPING_FILE), os.path.join(parent, MAPPING_FILE)):
        if os.path.isfile(candidate):
            return candidate
    return ""


def read_mapping_file(path):
    """key -> original_id from a bio_embeddings mapping file: a header (the first non-blank line)
    with an `original_id` column after the first (the index), then rows of as many fields.
    Raises EmbeddingFileError "{path}: not a bio_embeddings mapping file (line {n}: ...)"."""
    def not_mapping(line_no, why):
        return EmbeddingFileError("INVALID_ARGUMENT", f"{path}: not a bio_embeddings mapping file "
                                                      f"(line {line_no}: {why})")

    mapping, columns, id_column = {}, 0, 0
    for line_no, line in numbered_lines(path):
        if is_blank(line):
            continue
        try:
            fields = split_csv_fields(line, ",")
        except CsvFieldError as error:
            raise not_mapping(line_no, str(error)) from None
        if columns == 0:  # the header: "",original_id,sequence_length
            id_column = fields.index("original_id") if "original_id" in fields else 0
            if id_column == 0:
                raise not_mapping(line_no, "no original_id column")
            columns = len(fields)
            continue
        if len(fields) != columns:
            raise not_mapping(line_no, f"{len(fields)} fields, the header has {columns}")
        mapping[fields[0]] = fields[id_column]
    if columns == 0:
        raise not_mapping(1, "empty")
    return mapping


def describe_keys(names):
    """(layout, ids text) named from the keys alone, when no file says where the ids are."""
    if all(_MD5_HEX.fullmatch(n) for n in names):
        return (BIO_EMBEDDINGS, "dataset names (md5 digests of the sequences: give --fasta FILE "
                                "to recover the FASTA ids)")
    if any(" " in n for n in names):
        return ("ProtTrans embedder (keys are FASTA headers with '/' and '.' replaced by '_')",
                "dataset names (give --fasta FILE to recover the FASTA ids)")
    if all(is_uniprot_accession(n) for n in names):
        return "UniProt per-protein.h5", "dataset names (UniProt accessions)"
    return "per-protein datasets", "dataset names"


def _unique(path, names, ids):
    """`ids`, or EmbeddingFileError naming the first two datasets with the same id."""
    first_with = {}
    for i, id_ in enumerate(ids):
        first = first_with.setdefault(id_, i)
        if first != i:
            raise EmbeddingFileError(
                "INVALID_ARGUMENT",
                f"{path}: datasets '{names[first]}' and '{names[i]}' both have original_id "
                f"'{id_}'")
    return ids
