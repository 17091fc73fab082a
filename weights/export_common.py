"""What the export scripts in this folder share: the user-facing error type, stderr logging, the
manifest writer and a main() that turns failures into one line and an exit code."""
import json
import re
import signal
import sys


class ExportError(Exception):
    """A user-facing failure: printed as one line, exit code 1."""


def logger(tool):
    """A function printing "<tool>: <message>" to stderr (stdout stays free for data)."""
    def log(msg):
        print("%s: %s" % (tool, msg), file=sys.stderr, flush=True)
    return log


def write_manifest(path, manifest):
    """Indented JSON with short numeric lists kept on one line, for people reading it."""
    text = json.dumps(manifest, indent=2)
    text = re.sub(r"\[([-+0-9.e,\s]+)\]", lambda m: "[" + ", ".join(v.strip() for v in m.group(1).split(",")) + "]",
                  text)
    with open(path, "w") as f:
        f.write(text + "\n")


def run_main(tool, parse_args, export, argv=None):
    """Parses argv and exports; ExportError -> one line and exit 1, Ctrl-C -> exit 130."""
    args = parse_args(sys.argv[1:] if argv is None else argv)
    # SIGTERM (a killed CI job) becomes SystemExit, so the export still removes its temp directory.
    signal.signal(signal.SIGTERM, lambda signum, frame: sys.exit(128 + signum))
    try:
        export(args)
    except ExportError as e:
        print("%s: error: %s" % (tool, e), file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("%s: interrupted" % tool, file=sys.stderr)
        return 130
    return 0
