"""python3 -m arginator_client: the same subcommands, flags, output and exit statuses as the C++
arginator-client (client/main.cc).

Exit statuses: 0 success; 2 for invalid input (a usage error, an unreadable or invalid input
file, --cert without --key, or the server answering INVALID_ARGUMENT, NOT_FOUND or OUT_OF_RANGE);
1 otherwise (server unreachable, other server errors, health not SERVING). Errors are one line on
stderr: "arginator-client: error: <message>".

`inspect` reads files only: it opens no channel, so it needs neither a server nor the generated
stubs (the client module, and with it grpc, is imported only for the other subcommands).
"""
import argparse
import os
import sys
import traceback

from . import admin, commands
from .errors import ArginatorError, EmbeddingFileError

PROGRAM = "arginator-client"
EXIT_FAILED, EXIT_INVALID_INPUT = 1, 2
# Server codes that mean the request itself was wrong, not the server or the network.
INVALID_INPUT_CODES = frozenset({"INVALID_ARGUMENT", "NOT_FOUND", "OUT_OF_RANGE"})
# ...and for admin calls, also a state that does not allow the action, or a wrong token.
ADMIN_REFUSED_CODES = INVALID_INPUT_CODES | {"FAILED_PRECONDITION", "UNAUTHENTICATED"}


class _Parser(argparse.ArgumentParser):
    """Usage errors as one line and exit status 2, like every other invalid input."""

    def error(self, message):
        _print_error(f"{message} (see {self.prog} --help)")
        sys.exit(EXIT_INVALID_INPUT)


def build_parser():
    parser = _Parser(prog="python3 -m arginator_client",
                     description="classify protein embeddings with an arginator-server")
    subcommands = parser.add_subparsers(dest="command", required=True,
                                        metavar="{classify,inspect,models,metadata,health,admin}")

    def add_common(cmd):
        cmd.add_argument("--target", default="localhost:50051",
                         help="server address host:port (default: %(default)s)")
        cmd.add_argument("--deadline", type=float, default=30.0,
                         help="seconds per call, retries included (default: %(default)s)")
        cmd.add_argument("--tls", action="store_true", help="use TLS")
        cmd.add_argument("--ca-cert", help="PEM CA certificate (implies --tls)")
        cmd.add_argument("--cert", help="PEM client certificate for mutual TLS")
        cmd.add_argument("--key", help="PEM client key for mutual TLS")
        cmd.add_argument("--authority", help="TLS server name override")
        cmd.add_argument("--lb-policy", choices=["pick_first", "round_robin"],
                         help="round_robin: spread calls over every address the target resolves "
                              "to (ipv4:a:port,b:port or dns:///service:port); default pick_first")

    def add_model(cmd):
        cmd.add_argument("--model", required=True, help="model name")
        selector = cmd.add_mutually_exclusive_group()
        selector.add_argument("--version", type=int, help="exact version")
        selector.add_argument("--label", help="version label (stable, canary, ...)")

    def add_input(cmd):
        cmd.add_argument("--input", required=True,
                         help="embeddings: .h5/.hdf5 (one dataset per protein: bio_embeddings, "
                              "ProtTrans, UniProt, per-residue arrays mean-pooled), .csv/.tsv "
                              "(id + values), .npy")
        id_source = cmd.add_mutually_exclusive_group()
        id_source.add_argument("--id-map", metavar="FILE",
                               help="rename the ids: two columns key and id (TSV or CSV)")
        id_source.add_argument("--fasta", metavar="FILE",
                               help="the FASTA the embeddings were made from: ids become its "
                                    "record ids (e.g. WP_000027057.1)")
        cmd.add_argument("--no-pooling", dest="pool_residues", action="store_false",
                         help="refuse per-residue arrays [L, 1024] instead of mean-pooling them")

    classify = subcommands.add_parser("classify",
                                      help="classify an HDF5, CSV or NPY file of embeddings")
    add_common(classify)
    add_model(classify)
    add_input(classify)
    classify.add_argument("--output", required=True,
                          help="results file (CSV or JSON Lines), - for stdout")
    classify.add_argument("--format", choices=("csv", "jsonl", "hamronization",
                                               "hamronization-json"), default="csv",
                          help="csv, jsonl, or hamronization / hamronization-json (hAMRonization "
                               "1.x TSV / JSON: beta-lactamase calls only; default: %(default)s)")
    classify.add_argument("--evidence", type=_evidence, default=0, metavar="K",
                          help="the K nearest known proteins (the model's labelled training "
                               "proteins) of each embedding, as evidence beside its call")
    classify.add_argument("--include-uncertain", action="store_true",
                          help="hAMRonization formats: also report the uncertain calls")
    classify.add_argument("--batch", type=_non_negative, default=256,
                          help="embeddings per request (default: %(default)s)")
    classify.add_argument("--in-flight", type=_non_negative, default=4,
                          help="requests sent and not yet answered while streaming (memory "
                               "holds about this many batches; default: %(default)s)")
    classify.add_argument("--stream", choices=("auto", "always", "never"), default="auto",
                          help="auto (large inputs), always or never (default: %(default)s)")
    classify.add_argument("--no-probabilities", dest="probabilities", action="store_false",
                          help="omit the per-class columns")
    inspect = subcommands.add_parser(
        "inspect", help="read an embeddings file as classify would and say what was found (no "
                        "server)")
    add_input(inspect)
    inspect.add_argument("--ids", action="store_true",
                         help="also list each protein's id and L2 norm")
    add_common(subcommands.add_parser("models", help="list models, versions and their state"))
    metadata = subcommands.add_parser("metadata", help="show one model version's metadata")
    add_common(metadata)
    add_model(metadata)
    health = subcommands.add_parser("health", help="check health; exit 0 when SERVING")
    add_common(health)
    health.add_argument("--service", default="",
                        help="a model name; empty = the whole server")
    admin.add_parser(subcommands, add_common)
    return parser


COMMANDS = {"classify": commands.classify, "models": commands.models,
            "metadata": commands.metadata, "health": commands.health, "admin": admin.run}


def main(argv=None):
    args = build_parser().parse_args(argv)
    # gRPC core logs a failed TLS handshake on stderr as well; the error below says it in one
    # line. GRPC_VERBOSITY=debug (or error) shows its log again.
    os.environ.setdefault("GRPC_VERBOSITY", "NONE")
    try:
        if args.command == "inspect":
            return commands.inspect(args)
        from .client import Client  # grpc and the stubs, for the commands that call a server
        client = Client(args.target, tls=args.tls, ca_cert=args.ca_cert, cert=args.cert,
                        key=args.key, authority=args.authority, deadline=args.deadline,
                        lb_policy=args.lb_policy)
        with client:
            return COMMANDS[args.command](client, args)
    except ArginatorError as error:
        _print_error(error.message)
        if args.command == "admin" and error.code in ADMIN_REFUSED_CODES:
            return EXIT_INVALID_INPUT
        return exit_status(error)
    except KeyboardInterrupt:
        return 130
    except Exception as error:  # a bug: still one line, with where it happened
        frame = traceback.extract_tb(error.__traceback__)[-1]
        _print_error(f"unexpected {type(error).__name__}: {error} (at "
                     f"{os.path.basename(frame.filename)}:{frame.lineno})")
        return EXIT_FAILED


def exit_status(error):
    """2 for invalid input (a bad file, or the server saying the request was wrong), else 1."""
    invalid = isinstance(error, EmbeddingFileError) or error.code in INVALID_INPUT_CODES
    return EXIT_INVALID_INPUT if invalid else EXIT_FAILED


def _print_error(message):
    sys.stderr.write(f"{PROGRAM}: error: {message}\n")
    sys.stderr.flush()


def _evidence(text):
    value = _non_negative(text)
    if value > 50:
        raise argparse.ArgumentTypeError(f"{value} is more than 50")
    return value


def _non_negative(text):
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"'{text}' is not a whole number") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"{value} is negative")
    return value
