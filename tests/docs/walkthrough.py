"""What the docs' walkthrough tests share: a free port, and a section of a doc by its heading."""
import os
import socket


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def doc_section(source, doc, heading):
    """The text of `## heading` in docs/`doc`, up to the next `## ` heading."""
    text = open(os.path.join(source, "docs", doc)).read()
    return text.split(f"## {heading}", 1)[1].split("\n## ", 1)[0]
