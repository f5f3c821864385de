"""python3 -m arginator_client (with client/python on PYTHONPATH); see cli.py."""
import os
import sys

from .cli import main

if __name__ == "__main__":
    status = main()
    try:
        sys.stdout.flush()
    except BrokenPipeError:  # a reader that went away (| head): not worth a second error
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        status = status or 1
    sys.exit(status)
