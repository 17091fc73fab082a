"""What the export scripts in this folder share: the user-facing error type, stderr logging, the
manifest writer, the atomic model-directory writer and a main() that turns failures into one line and an exit code."""
import json
import os
import re
import shutil
import signal
import sys
import tempfile


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


def write_model_dir(out, populate, force=False):
    """Creates the directory `out` by calling populate(tmp) on a temporary sibling and renaming it into
    place, so an interrupted export never leaves a half-written model. Returns the absolute path."""
    out = os.path.abspath(out)
    if os.path.exists(out) and not force:
        raise ExportError("%s already exists (use --force to replace it)" % out)
    parent = os.path.dirname(out)
    os.makedirs(parent, exist_ok=True)
    tmp = tempfile.mkdtemp(prefix=".%s.tmp-" % os.path.basename(out), dir=parent)
    try:
        populate(tmp)
        os.chmod(tmp, 0o755)  # mkdtemp makes it 0700
        if os.path.exists(out):
            old = out + ".old-%d" % os.getpid()
            os.rename(out, old)
            os.rename(tmp, out)
            shutil.rmtree(old, ignore_errors=True)
        else:
            os.rename(tmp, out)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return out


APT_PACKAGES = {"torch": "python3-torch", "torchvision": "python3-torchvision", "numpy": "python3-numpy",
                "PIL": "python3-pil"}


def missing_package_message(error):
    """One line naming the package an ImportError is about and how to install it."""
    name = (getattr(error, "name", None) or "").split(".")[0]
    if not name:
        return "a Python package is missing: %s" % str(error).strip().splitlines()[0]
    if name in APT_PACKAGES:
        how = "`apt-get install %s` and run this script with /usr/bin/python3" % APT_PACKAGES[name]
    else:
        how = "`pip install %s`" % name
    return "the Python package '%s' is missing (%s); install it with %s" % (
        name, str(error).strip().splitlines()[0], how)


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
    except ImportError as e:
        # Libraries import optional back-ends lazily (transformers needs `tokenizers` only when a
        # processor is built), so a missing package can surface deep inside a call.
        print("%s: error: %s" % (tool, missing_package_message(e)), file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("%s: interrupted" % tool, file=sys.stderr)
        return 130
    return 0
