"""Import Hugging Face transformers from a source tree on a machine without its hub dependencies.

The parity scripts compare our ports with transformers' own models (OWL-ViT, OWLv2, Grounding DINO),
built from tiny random configs: nothing is downloaded. This machine runs Debian's python3 and
python3-torch and has no PyPI, so huggingface_hub, safetensors and tokenizers are missing, while
transformers imports them at top level. import_transformers(src_dir) puts src_dir (the folder that
holds transformers/, e.g. $TRANSFORMERS_SRC) first on sys.path, serves stand-in modules for those
of the three that are missing, relaxes transformers' start-up dependency version check for them,
and imports transformers:

    from hf_transformers import import_transformers
    transformers = import_transformers(os.environ["TRANSFORMERS_SRC"])
    model = transformers.Owlv2ForObjectDetection(transformers.Owlv2Config(...)).eval()

The stand-ins carry no metadata, so transformers' is_safetensors_available() and
is_tokenizers_available() stay False: slow tokenizers are used and save_pretrained needs
safe_serialization=False. Anything that would reach the hub raises OSError; HF_HUB_OFFLINE and
TRANSFORMERS_OFFLINE are set to 1 unless already set. Other dependencies (packaging, filelock,
regex, requests, pyyaml, tqdm, numpy) must be real: python3-packaging python3-filelock
python3-regex python3-requests python3-yaml python3-tqdm python3-numpy python3-torch.
"""
import importlib
import importlib.abc
import importlib.machinery
import importlib.metadata
import importlib.util
import os
import re
import sys
import types
import warnings

# Top-level modules that may be stood in for, with their submodules that transformers imports
# (an attribute of a stand-in with one of these names is that submodule, not a dummy).
STUB_PACKAGES = {
    "huggingface_hub": {"constants", "utils", "file_download", "hf_api", "errors", "repocard",
                        "repocard_data", "community", "inference", "inference_api", "_snapshot_download",
                        "keras_mixin", "hub_mixin", "_deprecation", "_commit_api", "_login",
                        "_typing", "_validators", "_errors", "_runtime", "_headers", "_http",
                        "_telemetry", "tqdm", "logging", "insecure_hashlib"},
    "safetensors": {"torch", "numpy", "flax", "tensorflow", "mlx", "paddle"},
    "tokenizers": {"pre_tokenizers", "decoders", "trainers", "models", "normalizers", "processors",
                   "implementations", "tools"},
}
# Their distribution names in transformers' dependency table.
_DIST_NAMES = {"huggingface_hub": "huggingface-hub", "safetensors": "safetensors", "tokenizers": "tokenizers"}
_CHECK_MODULE = "transformers.dependency_versions_check"

STUBBED = []  # the top-level modules stood in for by this process (filled by import_transformers)


class StubUnavailableError(OSError):
    """Raised when code calls into a stand-in module (a hub download, a safetensors file, ...)."""


def _unavailable(qualname):
    return StubUnavailableError(
        f"{qualname} is a stand-in (tests/parity/hf_transformers.py): the real package is not installed "
        "and this environment has no network")


class _Sentinel:
    def __init__(self, qualname):
        self._qualname = qualname

    def __repr__(self):
        return f"<stand-in {self._qualname}>"

    def __bool__(self):
        return False


class _DummyBase:
    """Base of stand-in classes: usable in annotations, isinstance checks and subclassing."""

    def __init__(self, *args, **kwargs):
        raise _unavailable(type(self).__module__ + "." + type(self).__qualname__)


def _passthrough_decorator_factory(*args, **kwargs):
    if len(args) == 1 and callable(args[0]) and not kwargs:
        return args[0]
    return lambda fn: fn


def _make_function(qualname):
    def stub(*args, **kwargs):
        raise _unavailable(qualname)

    stub.__name__ = stub.__qualname__ = qualname.rsplit(".", 1)[-1]
    stub.__module__ = qualname.rsplit(".", 1)[0]
    return stub


def _make_dummy(module_name, name):
    qualname = f"{module_name}.{name}"
    bare = name.lstrip("_")
    if bare.endswith(("Error", "Exception")):
        return type(name, (StubUnavailableError,), {"__module__": module_name})
    if bare.endswith("Warning"):
        return type(name, (UserWarning,), {"__module__": module_name})
    if bare and bare[0].isupper() and bare.upper() != bare:
        return type(name, (_DummyBase,), {"__module__": module_name})
    if bare and bare.upper() == bare:  # CONSTANT-like
        return _Sentinel(qualname)
    if bare.startswith("deprecate"):
        return _passthrough_decorator_factory
    return _make_function(qualname)


# ---- explicit contents: values transformers reads while it is being imported --------------------

def _hf_home():
    default = os.path.join(os.getenv("XDG_CACHE_HOME", os.path.join("~", ".cache")), "huggingface")
    return os.path.expanduser(os.getenv("HF_HOME", default))


_progress_bars = {"disabled": os.getenv("HF_HUB_DISABLE_PROGRESS_BARS", "").upper() in ("1", "ON", "YES", "TRUE")}


def _storage(tensor):
    return tensor.untyped_storage() if hasattr(tensor, "untyped_storage") else tensor.storage()


def _storage_ptr(tensor):
    try:
        return _storage(tensor).data_ptr()
    except NotImplementedError:
        return 0  # e.g. some tensor subclasses


def _storage_size(tensor):
    storage = _storage(tensor)
    if hasattr(storage, "nbytes"):
        return storage.nbytes()
    return storage.size() * tensor.element_size()


def _explicit_contents(fullname):
    if fullname == "huggingface_hub":
        return {"__version__": "0.0.0+stub", "_CACHED_NO_EXIST": _Sentinel("huggingface_hub._CACHED_NO_EXIST")}
    if fullname == "huggingface_hub.constants":
        home = _hf_home()
        default_cache_path = os.path.join(home, "hub")
        cache = os.path.expanduser(os.getenv("HF_HUB_CACHE", os.getenv("HUGGINGFACE_HUB_CACHE", default_cache_path)))
        return {"HF_HOME": home, "default_home": home, "default_cache_path": default_cache_path,
                "HF_HUB_CACHE": cache, "HUGGINGFACE_HUB_CACHE": cache, "HF_HUB_OFFLINE": True,
                "HF_HUB_DISABLE_TELEMETRY": True, "HF_HUB_DISABLE_PROGRESS_BARS": _progress_bars["disabled"],
                "HF_HUB_ENABLE_HF_TRANSFER": False, "CONFIG_NAME": "config.json",
                "REPO_TYPES": [None, "model", "dataset", "space"]}
    if fullname == "huggingface_hub.utils":
        def disable_progress_bars(*args, **kwargs):
            _progress_bars["disabled"] = True

        def enable_progress_bars(*args, **kwargs):
            _progress_bars["disabled"] = False

        def hf_raise_for_status(response, *args, **kwargs):
            response.raise_for_status()

        return {"are_progress_bars_disabled": lambda *args, **kwargs: _progress_bars["disabled"],
                "disable_progress_bars": disable_progress_bars, "enable_progress_bars": enable_progress_bars,
                "build_hf_headers": lambda *args, **kwargs: {}, "send_telemetry": lambda *args, **kwargs: None,
                "hf_raise_for_status": hf_raise_for_status}
    if fullname == "huggingface_hub.file_download":
        return {"REGEX_COMMIT_HASH": re.compile(r"^[0-9a-f]{40}$")}
    if fullname == "safetensors.torch":
        return {"storage_ptr": _storage_ptr, "storage_size": _storage_size}
    return {}


def _stub_getattr(module):
    def __getattr__(name):
        if name.startswith("__") and name.endswith("__"):
            raise AttributeError(f"stand-in module {module.__name__!r} has no attribute {name!r}")
        if name in module.__dict__.get("__stub_submodules__", ()):
            value = importlib.import_module(f"{module.__name__}.{name}")
        else:
            value = _make_dummy(module.__name__, name)
        setattr(module, name, value)  # same object on every access (except clauses, `is` tests)
        return value

    return __getattr__


# ---- the lenient replacement of transformers/dependency_versions_check.py -------------------------

def _exec_lenient_check(module, stubbed):
    skip = {_DIST_NAMES[name] for name in stubbed}

    def dep_version_check(pkg, hint=None):
        from transformers.dependency_versions_table import deps
        from transformers.utils.versions import require_version
        require_version(deps[pkg], hint)

    from transformers.dependency_versions_table import deps
    from transformers.utils.versions import require_version_core

    pkgs = ["python", "tqdm", "regex", "requests", "packaging", "filelock", "numpy", "tokenizers",
            "huggingface-hub", "safetensors", "accelerate", "pyyaml"]
    for pkg in pkgs:
        if pkg in skip or pkg not in deps:
            continue
        if pkg in ("tokenizers", "accelerate", "safetensors", "huggingface-hub"):
            try:
                importlib.metadata.version(pkg)
            except importlib.metadata.PackageNotFoundError:
                continue  # optional for our use; absent
        try:
            require_version_core(deps[pkg])
        except Exception as error:  # a Debian version a little off is not worth failing for
            warnings.warn(f"transformers dependency check: {' '.join(str(error).split())}")
    module.pkgs_to_check_at_runtime = pkgs
    module.dep_version_check = dep_version_check


class _Loader(importlib.abc.Loader):
    def __init__(self, stubbed):
        self.stubbed = stubbed

    def create_module(self, spec):
        return None  # default module creation

    def exec_module(self, module):
        name = module.__name__
        if name == _CHECK_MODULE:
            _exec_lenient_check(module, self.stubbed)
            return
        module.__stub__ = True
        module.__file__ = None
        parts = name.split(".")
        # known submodules of a top-level stand-in are attributes of it and of its known submodules
        module.__stub_submodules__ = STUB_PACKAGES.get(parts[0], set())
        module.__dict__.update(_explicit_contents(name))
        module.__getattr__ = _stub_getattr(module)


class _Finder(importlib.abc.MetaPathFinder):
    def __init__(self, stubbed):
        self.stubbed = tuple(stubbed)
        self.loader = _Loader(self.stubbed)

    def find_spec(self, fullname, path=None, target=None):
        if fullname == _CHECK_MODULE or fullname.split(".")[0] in self.stubbed:
            return importlib.machinery.ModuleSpec(fullname, self.loader, is_package=fullname != _CHECK_MODULE)
        return None


def _single_line(error):
    text = " ".join(str(error).split())
    return f"{type(error).__name__}: {text}" if text else type(error).__name__


def import_transformers(src_dir, require=()):
    """Import transformers from src_dir (the folder holding transformers/) and return the module.

    Stands in for huggingface_hub, safetensors and tokenizers where they are missing. Each name of
    `require` (e.g. "Owlv2ForObjectDetection") is resolved at once, so that a model whose module
    fails to import is reported here. Raises ImportError with a one-line reason on failure.
    """
    if not src_dir:
        raise ImportError("transformers source not given (set TRANSFORMERS_SRC to the folder holding transformers/)")
    src_dir = os.path.abspath(os.path.expanduser(src_dir))
    if not os.path.isfile(os.path.join(src_dir, "transformers", "__init__.py")):
        raise ImportError(f"no transformers package in {src_dir} (expected {src_dir}/transformers/__init__.py)")

    loaded = sys.modules.get("transformers")
    if loaded is not None:
        where = os.path.dirname(os.path.dirname(os.path.abspath(getattr(loaded, "__file__", "") or "")))
        if where != src_dir:
            raise ImportError(f"another transformers is already imported, from {where}, not {src_dir}")
        return _resolve(loaded, require)

    if src_dir in sys.path:
        sys.path.remove(src_dir)
    sys.path.insert(0, src_dir)
    importlib.invalidate_caches()

    if not any(isinstance(finder, _Finder) for finder in sys.meta_path):
        missing = [name for name in STUB_PACKAGES if importlib.util.find_spec(name) is None]
        sys.meta_path.insert(0, _Finder(missing))
        STUBBED[:] = missing
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

    try:
        import transformers
    except Exception as error:
        for name in [n for n in sys.modules if n == "transformers" or n.startswith("transformers.")]:
            del sys.modules[name]
        raise ImportError(f"cannot import transformers from {src_dir}: {_single_line(error)}") from error
    if "tokenizers" in STUBBED:
        _fix_fallback_added_token()
    return _resolve(transformers, require)


def _fix_fallback_added_token():
    """Without the tokenizers package, transformers (4.40) defines its own AddedToken as a dataclass
    with eq=True and no fields: unhashable, so every slow tokenizer fails in __init__ with
    "TypeError: unhashable type: 'AddedToken'", and any two tokens compare equal; it also lacks the
    __setstate__ that _add_tokens calls. Give it the behaviour of tokenizers.AddedToken: hashed and
    compared by content, flags updated by __setstate__."""
    try:
        from transformers import tokenization_utils_base as base
    except Exception:
        return  # reported when a tokenizer is used
    token = getattr(base, "AddedToken", None)
    if token is None or getattr(token, "__module__", "") != base.__name__ or token.__hash__ is not None:
        return

    def __eq__(self, other):
        if not isinstance(other, token):
            return NotImplemented
        return self.content == other.content

    def __setstate__(self, state):  # the slow tokenizers call it to update a token's flags
        self.__dict__.update(state)

    token.__eq__ = __eq__
    token.__hash__ = lambda self: hash(self.content)
    if "__setstate__" not in vars(token):
        token.__setstate__ = __setstate__


def _resolve(transformers, require):
    for name in require:
        try:
            getattr(transformers, name)
        except Exception as error:
            cause = error.__cause__ or error
            raise ImportError(f"transformers.{name} unavailable: {_single_line(cause)}") from error
    return transformers
