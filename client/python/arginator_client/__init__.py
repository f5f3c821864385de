"""Arginator's Python client: the peer of the C++ client library and arginator-client.

    import arginator_client as ac

    embeddings = ac.read_embeddings("proteins.h5")          # .h5, .csv or .npy
    # embeddings.source: the layout (bio_embeddings, ProtTrans, UniProt, ...), where the ids came
    # from, the precision, how many per-residue arrays were mean-pooled. Files keyed by md5 or
    # by header: ac.read_embeddings("reduced.h5", fasta="proteins.fasta") gives the FASTA ids.
    with ac.Client("localhost:50051") as client:
        response = client.classify(embeddings.values, embeddings.ids, "betalactamase-class",
                                   label="stable")
        for p in response.predictions:
            print(p.id, p.label, p.score)

The command line: python3 -m arginator_client classify|inspect|models|metadata|health (see
README.md). Every failure raises ArginatorError (.code, a grpc.StatusCode name; .message); a bad
embeddings file raises its subclass EmbeddingFileError. The generated stubs are found by the rule in
stubs.py: $ARGINATOR_PY_STUBS, else build/python in this repository. Reading files needs neither
the stubs nor grpc: Client (and grpc with it) is imported on first use.
"""
from .embedding_files import (EMBEDDING_DIM, EmbeddingSource, Embeddings, describe_read,
                              read_embeddings)
from .errors import ArginatorError, EmbeddingFileError
from .id_map import IdMap, load_id_map
from .results_writer import ResultsWriter, csv_field
from .stubs import STUBS_ENV, stubs_directory

__all__ = [
    "ArginatorError", "Client", "EMBEDDING_DIM", "EmbeddingFileError", "EmbeddingSource",
    "Embeddings", "IdMap", "ResultsWriter", "STUBS_ENV", "csv_field", "describe_read",
    "load_id_map", "read_embeddings", "stubs_directory",
]


def __getattr__(name):
    """Client on first use, so `import arginator_client` and reading files need no grpc."""
    if name == "Client":
        from .client import Client
        return Client
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
