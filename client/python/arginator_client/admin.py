"""`admin`: the server's ModelAdmin service from the command line, with the C++ client's
subcommands, flags, output and exit statuses (client/admin_command.cc). The bearer token comes
from --token-file or $ARGINATOR_ADMIN_TOKEN, never from a flag value (shell history, `ps`)."""
import os
import sys

from .errors import ArginatorError

TOKEN_ENV = "ARGINATOR_ADMIN_TOKEN"


def add_parser(subcommands, add_common):
    admin = subcommands.add_parser(
        "admin", help="manage the server's models: load, labels, canary, shadow, promote, "
                      "rollback")
    verbs = admin.add_subparsers(dest="verb", required=True)

    def common(cmd, needs_model=True):
        add_common(cmd)
        cmd.add_argument("--token-file",
                         help=f"file holding the admin token (else ${TOKEN_ENV})")
        cmd.add_argument("--json", action="store_true", help="print the server's answer as JSON")
        cmd.add_argument("--model", required=needs_model, default="", help="model name")
        return cmd

    common(verbs.add_parser("status", help="versions, states, labels, canary, shadow"),
           needs_model=False)
    for verb, what in (("load", "load a version (and keep it loaded)"),
                       ("unload", "unload a version")):
        common(verbs.add_parser(verb, help=what)).add_argument("--version", type=int,
                                                               required=True)
    label = verbs.add_parser("label", help="point a version label at a version")
    label_verbs = label.add_subparsers(dest="sub", required=True)
    label_set = common(label_verbs.add_parser("set", help="label -> version"))
    label_set.add_argument("--label", required=True)
    label_set.add_argument("--version", type=int, required=True)
    common(label_verbs.add_parser("clear", help="remove a label")).add_argument(
        "--label", required=True)
    canary = verbs.add_parser("canary", help="the canary version and its share")
    canary_set = common(canary.add_subparsers(dest="sub", required=True).add_parser(
        "set", help="the canary takes --weight percent of default requests"))
    canary_set.add_argument("--version", type=int, default=0,
                            help="the canary version (default: the current one)")
    canary_set.add_argument("--weight", type=_percent, required=True,
                            help="percent of default requests, 0-100")
    shadow = verbs.add_parser("shadow", help="run default requests again on a candidate")
    shadow_verbs = shadow.add_subparsers(dest="sub", required=True)
    shadow_set = common(shadow_verbs.add_parser("set", help="shadow default requests"))
    shadow_set.add_argument("--version", type=int, required=True)
    shadow_set.add_argument("--percent", type=_percent, default=100.0,
                            help="percent of default requests shadowed (100)")
    common(shadow_verbs.add_parser("clear", help="stop shadowing"))
    common(shadow_verbs.add_parser("report", help="how the shadow's calls compare"))
    common(verbs.add_parser("promote", help="stable -> the canary's version"))
    common(verbs.add_parser("rollback", help="stable -> 'previous' after a promote"))
    common(verbs.add_parser("default-label",
                            help="the label default requests follow")).add_argument(
        "--label", required=True)
    common(verbs.add_parser("rescan", help="scan the model repository now"), needs_model=False)


def _percent(text):
    import argparse
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"'{text}' is not a number") from None
    if not 0 <= value <= 100:
        raise argparse.ArgumentTypeError(f"{value} is not in [0, 100]")
    return value


def _token(args):
    token = ""
    if args.token_file:
        try:
            with open(args.token_file, encoding="utf-8") as file:
                token = file.readline()
        except OSError:
            raise ArginatorError("INVALID_ARGUMENT",
                                 f"cannot read --token-file {args.token_file}") from None
    else:
        token = os.environ.get(TOKEN_ENV, "")
    token = token.strip()
    if not token:
        raise ArginatorError("INVALID_ARGUMENT", "admin calls need the server's admin token: "
                                                 f"--token-file FILE or ${TOKEN_ENV}")
    return token


def run(client, args):
    token = _token(args)
    verb = args.verb + (" " + args.sub if getattr(args, "sub", None) else "")
    name = args.model
    calls = {
        "status": ("ReleaseStatus", {"name": name}),
        "shadow report": ("ReleaseStatus", {"name": name}),
        "load": ("LoadVersion", {"name": name, "version": getattr(args, "version", 0)}),
        "unload": ("UnloadVersion", {"name": name, "version": getattr(args, "version", 0)}),
        "label set": ("SetVersionLabel", {"name": name, "label": getattr(args, "label", ""),
                                          "version": getattr(args, "version", 0)}),
        "label clear": ("SetVersionLabel", {"name": name, "label": getattr(args, "label", ""),
                                            "version": 0}),
        "canary set": ("SetCanary", {"name": name, "version": getattr(args, "version", 0),
                                     "percent": getattr(args, "weight", 0.0)}),
        "shadow set": ("SetShadow", {"name": name, "version": getattr(args, "version", 0),
                                     "percent": getattr(args, "percent", 100.0)}),
        "shadow clear": ("SetShadow", {"name": name, "version": 0, "percent": 100.0}),
        "promote": ("Promote", {"name": name}),
        "rollback": ("Rollback", {"name": name}),
        "default-label": ("SetDefaultLabel", {"name": name, "label": getattr(args, "label", "")}),
        "rescan": ("Rescan", {}),
    }
    method, fields = calls[verb]
    response = client.admin(method, token, **fields)
    if args.json:
        from google.protobuf import json_format
        print(json_format.MessageToJson(response, preserving_proto_field_name=True,
                                        including_default_value_fields=True, indent=None))
        return 0
    out = []
    if verb != "status":
        out.append(response.message + "\n")
    for status in response.status:
        if verb == "shadow report" and not status.HasField("shadow"):
            out.append(f"model {status.name}: no shadow has run\n")
            continue
        out.append(format_status(status, client.version_state_name))
    sys.stdout.write("".join(out))
    return 0


def _g(value):
    """A percentage as C's %g prints it."""
    return "%g%%" % value


def format_status(s, state_name):
    """One model's release status, line for line as the C++ client prints it."""
    lines = [f"model {s.name}: default requests follow '{s.default_label}'"
             + (f" (version {s.default_version})" if s.default_version > 0 else "") + "\n"]
    labels = sorted(f"{label}={version}" for label, version in s.labels.items())
    lines.append("  labels:   " + (", ".join(labels) if labels else "none") + "\n")
    if s.labels.get("canary"):
        lines.append(f"  canary:   version {s.labels['canary']} takes {_g(s.canary_percent)} of "
                     "default requests\n")
    if s.labels.get("shadow"):
        lines.append(f"  shadow:   version {s.labels['shadow']} runs {_g(s.shadow_percent)} of "
                     "default requests again\n")
    if s.labels.get("previous"):
        lines.append(f"  previous: version {s.labels['previous']} (for rollback)"
                     + (f" until {s.previous_until}" if s.previous_until else "") + "\n")
    versions = "".join(
        f" {v.version} {state_name(v.state)}"
        + (f" [{','.join(v.version_labels)}]" if v.version_labels else "") + ";"
        for v in s.versions)
    lines.append("  versions:" + versions + "\n")
    if s.HasField("shadow"):
        r = s.shadow
        share = 100.0 * r.agreements / r.rows if r.rows > 0 else 0.0
        lines.append(f"  shadow report: version {r.shadow_version} against {r.primary_version}: "
                     f"{r.rows} embeddings, {r.agreements} agree ({share:.2f}%), {r.dropped} "
                     f"dropped, probability drift mean {r.mean_probability_drift:.4f} max "
                     f"{r.max_probability_drift:.4f}\n")
        for f in r.flips:
            lines.append(f"    {getattr(f, 'from')} -> {f.to}: {f.count}\n")
    return "".join(lines)
