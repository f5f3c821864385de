"""The one exception type the package raises, and its subclass for embedding files."""


class ArginatorError(Exception):
    """A failed call or an invalid input.

    `code` is a grpc.StatusCode name ("NOT_FOUND", "UNAVAILABLE", ...): the server's code for a
    failed call, the matching code for a local check (INVALID_ARGUMENT for a bad argument,
    NOT_FOUND for a missing file). `message` names what was wrong and the value.
    """

    def __init__(self, code, message):
        super().__init__(message)
        self.code = code
        self.message = message

    def __str__(self):
        return self.message


class EmbeddingFileError(ArginatorError):
    """An embeddings file that cannot be read: missing, unknown format, empty, wrong shape or type,
    non-finite values, corrupt; or a file that names its ids (mapping_file.csv, an id map, a
    FASTA) that cannot be read or used. The message starts with the file's path."""
