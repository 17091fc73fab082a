"""A stand-in for the four `timm` helpers MobileSAM's TinyViT imports, for machines without timm.

MobileSAM's mobile_sam/modeling/tiny_vit_sam.py does

    from timm.models.layers import DropPath as TimmDropPath, to_2tuple, trunc_normal_
    from timm.models.registry import register_model

and nothing else from timm. Debian does not package timm, and pulling it in (with its own torch
requirements) only for these would be out of proportion, so export_sam.py calls install(), which
registers this module's definitions as timm, timm.models, timm.models.layers and
timm.models.registry in sys.modules -- only when `import timm` fails; an installed timm is always
preferred.

What each one is, and why it is enough for an export (eval mode, no training):
  DropPath       stochastic depth: the identity in eval mode (as timm's); in training mode it drops
                 whole samples with probability drop_prob and rescales the rest, as timm does.
                 MobileSAM's vit_t is built with drop_path_rate 0, so TinyViT only subclasses it.
  to_2tuple      x -> (x, x), an iterable (not a string) -> tuple(x); same as timm's _ntuple(2).
  trunc_normal_  torch.nn.init.trunc_normal_, which is timm's function moved into PyTorch (same
                 signature and same draws). It only initialises weights that a checkpoint overwrites.
  register_model returns the function unchanged: timm's registry only serves timm.create_model,
                 which nothing in MobileSAM calls.
"""
import collections.abc
import importlib
import itertools
import sys
import types

import torch

__all__ = ["DropPath", "to_2tuple", "trunc_normal_", "register_model", "install"]


def to_2tuple(x):
    if isinstance(x, collections.abc.Iterable) and not isinstance(x, str):
        return tuple(x)
    return tuple(itertools.repeat(x, 2))


def register_model(fn):
    return fn


def trunc_normal_(tensor, mean=0.0, std=1.0, a=-2.0, b=2.0):
    return torch.nn.init.trunc_normal_(tensor, mean=mean, std=std, a=a, b=b)


class DropPath(torch.nn.Module):
    """Drop paths (stochastic depth) per sample; the identity in eval mode."""

    def __init__(self, drop_prob=0.0, scale_by_keep=True):
        super().__init__()
        self.drop_prob = drop_prob
        self.scale_by_keep = scale_by_keep

    def forward(self, x):
        if not self.drop_prob or not self.training:
            return x
        keep = 1.0 - self.drop_prob
        mask = x.new_empty((x.shape[0],) + (1,) * (x.ndim - 1)).bernoulli_(keep)
        if keep > 0.0 and self.scale_by_keep:
            mask.div_(keep)
        return x * mask


def install():
    """Registers the stand-in as `timm` when timm cannot be imported. Returns True if it did."""
    try:
        importlib.import_module("timm")
        return False
    except ImportError:
        pass
    layers = types.ModuleType("timm.models.layers", "samcli stand-in for timm.models.layers")
    layers.DropPath = DropPath
    layers.to_2tuple = to_2tuple
    layers.trunc_normal_ = trunc_normal_
    registry = types.ModuleType("timm.models.registry", "samcli stand-in for timm.models.registry")
    registry.register_model = register_model
    models = types.ModuleType("timm.models", "samcli stand-in for timm.models")
    models.layers, models.registry = layers, registry
    timm = types.ModuleType("timm", "samcli stand-in for timm (weights/timm_standin.py)")
    timm.models = models
    timm.__samcli_standin__ = True
    sys.modules.update({"timm": timm, "timm.models": models, "timm.models.layers": layers,
                        "timm.models.registry": registry})
    return True
