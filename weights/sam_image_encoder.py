"""SAM's ViT image encoder (vit_b / vit_l / vit_h), computing the official function with less waste.

Written for export: export_sam.py builds it from an official state_dict and scripts it into
image_encoder.pt (same interface as the traced official module: [1,3,S,S] -> [1,C,H,W]). It is
samcli's own code; it reads the official parameters by their names and computes what
segment_anything's ImageEncoderViT computes, checked against it at export time and against a plain
implementation in the tests.

Where the official graph wastes time on a CPU (vit_b at 1024x1024: 64x64 tokens, 12 blocks, 4 with
global attention) and what this module does instead:

- Global attention materialises a [heads, 4096, 4096] score tensor (800 MB for vit_b) and passes
  over it four times (scores, two broadcast adds of the relative-position terms, softmax) before the
  product with V. Here the scores of a few query rows of one head at a time are made, biased,
  normalised and multiplied by V while they are still in the cache: the same arithmetic, a few MB
  at a time.
- The attention scale 1/sqrt(head_dim) is folded into W_q and b_q (and its inverse into the
  relative-position tables, which the official code applies to the unscaled q).
- Windowed blocks: the official code pads the normalised tokens to whole windows and runs qkv and
  the output projection on the padding too (4900 rows for 4096 tokens). Here qkv runs on the real
  tokens and its output is padded with the qkv bias (what the official projection of a zero padding
  token gives: its keys and values take part in the softmax); the output projection runs after the
  windows are put back, on the real tokens only.
- The output projection and the second MLP layer accumulate straight into the residual stream.

Mathematically exact; the floats differ from the official graph by rounding only.
"""
from typing import List, Tuple

import torch
import torch.nn.functional as F
from torch import Tensor, nn


# Query rows of the token grid whose scores global attention makes at a time, per head: 8 rows of 64
# tokens against 4096 keys is 8 MB of scores. Measured on vit_b (2 threads): 4, 8, 16 and all 64 rows
# took 6.19, 5.96, 6.14 and 6.48 s per image.
QUERY_ROWS = 8


def _get(state, name):
    if name not in state:
        raise KeyError("state_dict has no %s" % name)
    return state[name].detach().to(torch.float32).clone()


def relative_position_table(rel_pos: Tensor, size: int) -> Tensor:
    """[size, size, C]: the relative-position embedding of query position i and key position j
    (segment_anything's get_rel_pos for equal query and key sizes). SAM's tables are made for the
    grid they serve (2*size-1 rows); another length would need the official resize, which no SAM
    checkpoint uses, so it is refused rather than guessed."""
    if rel_pos.shape[0] != 2 * size - 1:
        raise ValueError("relative-position table of %d rows for a grid of %d (expected %d)"
                         % (rel_pos.shape[0], size, 2 * size - 1))
    coords = torch.arange(size)
    return rel_pos[(coords[:, None] - coords[None, :]) + (size - 1)]


class _Block(nn.Module):
    """One transformer block of ImageEncoderViT (pre-norm attention + MLP, both residual)."""

    def __init__(self, state, prefix: str, num_heads: int, window_size: int, grid: Tuple[int, int], eps: float):
        super().__init__()
        dim = state[prefix + ".norm1.weight"].shape[0]
        head_dim = dim // num_heads
        scale = head_dim ** -0.5
        self.heads = num_heads
        self.head_dim = head_dim
        self.window = window_size
        self.eps = eps
        self.query_rows = QUERY_ROWS
        for name in ("norm1", "norm2"):
            self.register_buffer(name + "_weight", _get(state, "%s.%s.weight" % (prefix, name)))
            self.register_buffer(name + "_bias", _get(state, "%s.%s.bias" % (prefix, name)))
        qkv_w = _get(state, prefix + ".attn.qkv.weight")
        qkv_b = _get(state, prefix + ".attn.qkv.bias")
        qkv_w[:dim] *= scale
        qkv_b[:dim] *= scale
        self.register_buffer("qkv_weight_t", qkv_w.t().contiguous())
        self.register_buffer("qkv_bias", qkv_b)
        self.register_buffer("proj_weight_t", _get(state, prefix + ".attn.proj.weight").t().contiguous())
        self.register_buffer("proj_bias", _get(state, prefix + ".attn.proj.bias"))
        self.register_buffer("fc1_weight_t", _get(state, prefix + ".mlp.lin1.weight").t().contiguous())
        self.register_buffer("fc1_bias", _get(state, prefix + ".mlp.lin1.bias"))
        self.register_buffer("fc2_weight_t", _get(state, prefix + ".mlp.lin2.weight").t().contiguous())
        self.register_buffer("fc2_bias", _get(state, prefix + ".mlp.lin2.bias"))
        # Relative positions over the attended grid: the window, or the whole token grid.
        size_h, size_w = (window_size, window_size) if window_size > 0 else grid
        # The official terms use the unscaled q; q here carries the scale, so the tables carry its
        # inverse. Stored as [C, q, k] so that the terms are one batched product per axis.
        rh = relative_position_table(_get(state, prefix + ".attn.rel_pos_h"), size_h) / scale
        rw = relative_position_table(_get(state, prefix + ".attn.rel_pos_w"), size_w) / scale
        self.register_buffer("rel_h", rh.contiguous())  # [qh, kh, d]
        self.register_buffer("rel_w", rw.contiguous())  # [qw, kw, d]

    def forward(self, x: Tensor) -> Tensor:
        """x: [H, W, C] tokens (batch of one), updated in place and returned."""
        H, W, C = x.shape[0], x.shape[1], x.shape[2]
        flat = x.view(H * W, C)
        normed = F.layer_norm(flat, [C], self.norm1_weight, self.norm1_bias, self.eps)
        qkv = torch.addmm(self.qkv_bias, normed, self.qkv_weight_t).view(H, W, 3 * C)
        if self.window > 0:
            attended = self.windowed(qkv, H, W)
        else:
            attended = self.global_attention(qkv, H, W)
        flat.addmm_(attended, self.proj_weight_t).add_(self.proj_bias)
        hidden = F.gelu(torch.addmm(self.fc1_bias, F.layer_norm(flat, [C], self.norm2_weight, self.norm2_bias, self.eps),
                                    self.fc1_weight_t))
        flat.addmm_(hidden, self.fc2_weight_t).add_(self.fc2_bias)
        return x

    def probabilities(self, q: Tensor, keys_t: Tensor, rel_h: Tensor, rel_w: Tensor,
                      qh: int, qw: int, kh: int, kw: int) -> Tensor:
        """Attention weights [G, qh*qw, kh*kw] of queries [G, qh*qw, d] over keys [G, d, kh*kw]
        (transposed and contiguous: the product runs about twice as fast as on a transposed view),
        with the decomposed relative-position terms rel_h [G, qh, qw, kh] and rel_w [G, qh, qw, kw]."""
        g = q.shape[0]
        scores = torch.bmm(q, keys_t).view(g, qh, qw, kh, kw)
        scores.add_(rel_h.unsqueeze(4)).add_(rel_w.unsqueeze(3))
        return torch.softmax(scores.view(g, qh * qw, kh * kw), dim=-1)

    def global_attention(self, qkv: Tensor, H: int, W: int) -> Tensor:
        """qkv [H, W, 3C] -> attended values [H*W, C] (heads concatenated, before the projection).
        A few query rows of one head at a time, so that their scores stay in the cache."""
        n = H * W
        d = self.head_dim
        heads = qkv.view(n, 3, self.heads, d).permute(1, 2, 0, 3)  # [3, heads, n, d]
        q = heads[0].contiguous().view(self.heads, H, W, d)
        keys_t = heads[1].transpose(1, 2).contiguous()
        values_t = heads[2].transpose(1, 2).contiguous()
        # Relative-position terms for every query: [heads, H, W, kh] and [heads, H, W, kw].
        rel_h = torch.einsum("nhwc,hkc->nhwk", q, self.rel_h)
        rel_w = torch.einsum("nhwc,wkc->nhwk", q, self.rel_w)
        # Transposed ([heads, d, H, W]): V^T P^T runs faster than P V for a narrow V.
        out = torch.empty(self.heads, d, H, W, dtype=qkv.dtype, device=qkv.device)
        rows = self.query_rows
        for head in range(self.heads):
            for top in range(0, H, rows):
                bottom = min(top + rows, H)
                probs = self.probabilities(
                    q[head, top:bottom].reshape(1, (bottom - top) * W, d), keys_t[head:head + 1],
                    rel_h[head:head + 1, top:bottom], rel_w[head:head + 1, top:bottom], bottom - top, W, H, W)
                out[head, :, top:bottom] = torch.mm(values_t[head], probs[0].t()).view(d, bottom - top, W)
        return out.permute(2, 3, 0, 1).reshape(n, self.heads * d)

    def windowed(self, qkv: Tensor, H: int, W: int) -> Tensor:
        """qkv [H, W, 3C] -> attended values [H*W, C] with attention inside each window."""
        ws = self.window
        d = self.head_dim
        pad_h = (ws - H % ws) % ws
        pad_w = (ws - W % ws) % ws
        if pad_h > 0 or pad_w > 0:
            padded = self.qkv_bias.expand(H + pad_h, W + pad_w, qkv.shape[2]).clone()
            padded[:H, :W] = qkv
            qkv = padded
        Hp, Wp = H + pad_h, W + pad_w
        nh, nw = Hp // ws, Wp // ws
        windows = nh * nw
        # [3, windows*heads, ws*ws, d]
        parts = (qkv.view(nh, ws, nw, ws, 3, self.heads, d)
                 .permute(4, 0, 2, 5, 1, 3, 6).reshape(3, windows * self.heads, ws * ws, d))
        q = parts[0]
        rel_h = torch.einsum("gyxc,ykc->gyxk", q.view(-1, ws, ws, d), self.rel_h)
        rel_w = torch.einsum("gyxc,xkc->gyxk", q.view(-1, ws, ws, d), self.rel_w)
        probs = self.probabilities(q, parts[1].transpose(1, 2).contiguous(), rel_h, rel_w, ws, ws, ws, ws)
        out = torch.bmm(probs, parts[2])
        out = (out.view(nh, nw, self.heads, ws, ws, d).permute(0, 3, 1, 4, 2, 5)
               .reshape(Hp, Wp, self.heads * d))
        return out[:H, :W].reshape(H * W, self.heads * d)


class SamImageEncoder(nn.Module):
    """ImageEncoderViT from its state_dict (keys under `prefix`): forward([1,3,S,S]) -> [1,out,H,W].

    num_heads, window_sizes (one per block, 0 for global attention) and the blocks' LayerNorm eps are
    what the official builder made (build_sam.py: 12/16/16 heads for vit_b/l/h, windows of 14, four
    global blocks, eps 1e-6)."""

    def __init__(self, state, num_heads: int, window_sizes: List[int], eps: float, prefix: str = "image_encoder"):
        super().__init__()
        patch = _get(state, prefix + ".patch_embed.proj.weight")  # [C, 3, p, p]
        self.patch = int(patch.shape[2])
        self.register_buffer("patch_weight_t", patch.reshape(patch.shape[0], -1).t().contiguous())
        self.register_buffer("patch_bias", _get(state, prefix + ".patch_embed.proj.bias"))
        self.register_buffer("pos_embed", _get(state, prefix + ".pos_embed")[0].contiguous())  # [H, W, C]
        grid = (int(self.pos_embed.shape[0]), int(self.pos_embed.shape[1]))
        self.blocks = nn.ModuleList([_Block(state, "%s.blocks.%d" % (prefix, i), num_heads, window, grid, eps)
                                     for i, window in enumerate(window_sizes)])
        self.register_buffer("neck_conv1", _get(state, prefix + ".neck.0.weight"))
        self.register_buffer("neck_norm1_weight", _get(state, prefix + ".neck.1.weight"))
        self.register_buffer("neck_norm1_bias", _get(state, prefix + ".neck.1.bias"))
        self.register_buffer("neck_conv2", _get(state, prefix + ".neck.2.weight"))
        self.register_buffer("neck_norm2_weight", _get(state, prefix + ".neck.3.weight"))
        self.register_buffer("neck_norm2_bias", _get(state, prefix + ".neck.3.bias"))

    def forward(self, x: Tensor) -> Tensor:
        if x.shape[0] != 1:
            raise RuntimeError("the image encoder takes one image at a time")
        p = self.patch
        H, W = x.shape[2] // p, x.shape[3] // p
        # The patch embedding (a stride-p convolution) as one product over non-overlapping patches.
        patches = x[0].view(3, H, p, W, p).permute(1, 3, 0, 2, 4).reshape(H * W, 3 * p * p)
        tokens = torch.addmm(self.patch_bias, patches, self.patch_weight_t).view(H, W, -1)
        tokens.add_(self.pos_embed)
        for block in self.blocks:
            tokens = block(tokens)
        C = tokens.shape[2]
        # Neck: 1x1 convolution as a product, then LayerNorm2d (eps 1e-6) over channels, 3x3 conv.
        out_ch = self.neck_conv1.shape[0]
        y = torch.mm(tokens.view(H * W, C), self.neck_conv1.view(out_ch, C).t())
        y = F.layer_norm(y, [out_ch], self.neck_norm1_weight, self.neck_norm1_bias, 1e-6)
        y = y.view(1, H, W, out_ch).permute(0, 3, 1, 2)
        y = F.conv2d(y, self.neck_conv2, None, padding=1)
        y = F.layer_norm(y.permute(0, 2, 3, 1), [out_ch], self.neck_norm2_weight, self.neck_norm2_bias, 1e-6)
        return y.permute(0, 3, 1, 2).contiguous()
