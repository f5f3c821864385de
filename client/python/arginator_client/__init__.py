"""Arginator's Python client: the peer of the C++ client library and arginator-client.

    import arginator_client as ac

    embeddings = ac.read_embeddings("proteins.h5")          # .h5, .csv or .npy
    with ac.Client("localhost:50051") as client:
        response = client.classify(embeddings.values, embeddings.ids, "betalactamase-class",
                                   label="stable")
        for p in response.predictions:
            print(p.id, p.label, p.score)

The command line: python3 -m arginator_client classify|models|metadata|health (see README.md).
Every failure raises ArginatorError (.code, a grpc.StatusCode name; .message); a bad embeddings
file raises its subclass EmbeddingFileError. The generated stubs are found by the rule in
stubs.py: $ARGINATOR_PY_STUBS, else build/python in this repository.
"""
from .client import Client
from .embedding_files import EMBEDDING_DIM, Embeddings, read_embeddings
from .errors import ArginatorError, EmbeddingFileError
from .results_writer import ResultsWriter, csv_field
from .stubs import STUBS_ENV, stubs_directory

__all__ = [
    "ArginatorError", "Client", "EMBEDDING_DIM", "EmbeddingFileError", "Embeddings",
    "ResultsWriter", "STUBS_ENV", "csv_field", "read_embeddings", "stubs_directory",
]
