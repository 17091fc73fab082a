"""SAM's prompt encoder + mask decoder, computing the official function with less arithmetic.

Written for export (docs/model-format.md, format version 2): export_sam.py builds it from an official
state_dict and scripts it. It is samcli's own code; it reads the official parameters by their names
and computes what segment_anything's PromptEncoder + MaskDecoder.predict_masks compute, checked
against them at export time and against a plain implementation in tests/fixtures.

Where the arithmetic goes (per prompt, 64x64 image embedding = 4096 rows of 256 channels, T = 7
tokens, 8 heads of 16 channels). The official graph projects the 4096 image rows to 128 channels
several times per prompt; this module avoids almost all of those projections:

- Without a mask input the image side entering the first layer is the same for every prompt, so its
  projections (k and v of token->image attention, q of image->token attention) are computed once per
  image by prepare(), not once per prompt.
- Token->image attention on a per-prompt image side is reassociated per head:
  softmax((Q W_k)(X+P)^T) X W_v^T instead of softmax(Q (W_k (X+P))^T) (W_v X)^T. The k bias adds the
  same value to every score of a row, which softmax ignores; the v bias passes through since each
  row of softmax weights sums to one. 4096x256 by 8*T products replace 4096x256 by 128 ones.
- Image->token attention folds W_q into the T keys and the output projection into the T values, so
  that the per-prompt work is two 4096x256 by 8*T products and no 4096x256x128 projection.
- decode() stops before the upscaling (two transposed convolutions, ~0.4 GMAC per prompt) and
  returns what upscale() needs: callers upscale only the prompts whose predicted IoU they keep.
- The transposed convolutions (kernel 2, stride 2) are matrix products over channel-last pixels;
  the sub-pixel interleaving is applied once, to the final mask planes.

Mathematically exact; the floats differ from the official graph by rounding only (~1e-6).
"""
import math
from typing import List, Optional, Tuple

import torch
import torch.nn.functional as F
from torch import Tensor, nn


def _get(state, name):
    if name not in state:
        raise KeyError("state_dict has no %s" % name)
    return state[name].detach().to(torch.float32).clone()


class _Parameters(nn.Module):
    """The weight and bias of the official module at `prefix`, as buffers (nothing here trains)."""

    def __init__(self, state, prefix: str):
        super().__init__()
        self.register_buffer("weight", _get(state, prefix + ".weight"))
        self.register_buffer("bias", _get(state, prefix + ".bias"))


class _Linear(_Parameters):
    def forward(self, x: Tensor) -> Tensor:
        return F.linear(x, self.weight, self.bias)


class _LayerNorm(_Parameters):
    """nn.LayerNorm (eps 1e-5) or, over channels, segment_anything's LayerNorm2d (eps 1e-6)."""

    def __init__(self, state, prefix: str, eps: float):
        super().__init__(state, prefix)
        self.eps = eps

    def forward(self, x: Tensor) -> Tensor:
        return F.layer_norm(x, [self.weight.shape[0]], self.weight, self.bias, self.eps)

    def channels(self, x: Tensor) -> Tensor:
        """Over dimension 1 of [B,C,H,W]."""
        return self.forward(x.permute(0, 2, 3, 1)).permute(0, 3, 1, 2)


class _Conv(_Parameters):
    def __init__(self, state, prefix: str, stride: int):
        super().__init__(state, prefix)
        self.stride = stride

    def forward(self, x: Tensor) -> Tensor:
        return F.conv2d(x, self.weight, self.bias, stride=self.stride)


class _MLP(nn.Module):
    """Linear layers with ReLU between them (MaskDecoder's hypernetwork and IoU heads)."""

    def __init__(self, state, prefix: str, num_layers: int):
        super().__init__()
        self.layers = nn.ModuleList([_Linear(state, "%s.layers.%d" % (prefix, i)) for i in range(num_layers)])

    def forward(self, x: Tensor) -> Tensor:
        n = len(self.layers)
        for i, layer in enumerate(self.layers):
            x = layer(x)
            if i < n - 1:
                x = F.relu(x)
        return x


class _Attention(nn.Module):
    """The weights of one segment_anything Attention module, with the three ways this decoder uses
    them. Scores are scaled by folding 1/sqrt(head_dim) into the query side."""

    def __init__(self, state, prefix: str, num_heads: int):
        super().__init__()
        self.q = _Linear(state, prefix + ".q_proj")
        self.k = _Linear(state, prefix + ".k_proj")
        self.v = _Linear(state, prefix + ".v_proj")
        self.out = _Linear(state, prefix + ".out_proj")
        self.heads = num_heads
        internal, dim = self.q.weight.shape
        self.head_dim = internal // num_heads
        self.scale = 1.0 / math.sqrt(self.head_dim)
        # Per-head views of the weights: [heads, head_dim, dim] and the output projection as
        # [dim, heads, head_dim].
        self.register_buffer("wq_heads", self.q.weight.reshape(num_heads, self.head_dim, dim).clone())
        self.register_buffer("bq_heads", self.q.bias.reshape(num_heads, self.head_dim).clone())
        self.register_buffer("wk_heads", self.k.weight.reshape(num_heads, self.head_dim, dim).clone())
        self.register_buffer("wv_heads", self.v.weight.reshape(num_heads, self.head_dim, dim).clone())
        self.register_buffer("bv_heads", self.v.bias.reshape(num_heads, self.head_dim).clone())
        self.register_buffer("wo_heads", self.out.weight.reshape(dim, num_heads, self.head_dim).clone())

    def heads_of(self, x: Tensor) -> Tensor:
        """[..., N, heads*head_dim] -> [heads, ..., N, head_dim] for a 2-D x, [B, heads, N, d] for 3-D."""
        if x.dim() == 2:
            return x.reshape(x.shape[0], self.heads, self.head_dim).permute(1, 0, 2)
        return x.reshape(x.shape[0], x.shape[1], self.heads, self.head_dim).permute(0, 2, 1, 3)

    def tokens(self, q: Tensor, k: Tensor, v: Tensor) -> Tensor:
        """Plain attention among the few tokens: [B,T,C] x3 -> [B,T,C]."""
        qh = self.heads_of(self.q(q)) * self.scale
        kh = self.heads_of(self.k(k))
        vh = self.heads_of(self.v(v))
        o = torch.matmul(torch.softmax(torch.matmul(qh, kh.transpose(-1, -2)), dim=-1), vh)
        return self.out(o.permute(0, 2, 1, 3).reshape(q.shape[0], q.shape[1], -1))

    def folded_values(self, tokens: Tensor) -> Tensor:
        """The T token values with the output projection and its bias folded in: [B,T,C] -> [B, heads*T, C].
        Each head's attention weights sum to one over the tokens, so a bias/heads on every value row
        adds the bias once over the heads."""
        vh = self.v(tokens).reshape(tokens.shape[0], tokens.shape[1], self.heads, self.head_dim)
        vo = torch.einsum("bthd,chd->bhtc", vh, self.wo_heads) + self.out.bias / self.heads
        return vo.reshape(tokens.shape[0], self.heads * tokens.shape[1], -1)

    def attend_to_tokens(self, residual: Tensor, scores: Tensor, v: Tensor) -> Tensor:
        """residual + the image rows' attention output, from scores [B, heads, T, HW]: the softmax runs
        over the T tokens (dimension 2, so it is vectorised along the image rows) and the output
        projection is folded into the values, all in one matrix product."""
        b, heads, t, rows = scores.shape
        attn = torch.softmax(scores, dim=2).reshape(b, heads * t, rows)
        return torch.baddbmm(residual, attn.transpose(1, 2), self.folded_values(v))

    def token_to_shared_image(self, q: Tensor, k_heads: Tensor, v_heads: Tensor) -> Tensor:
        """Tokens attending to an image side shared by all prompts, projected once by prepare():
        q [B,T,C], k_heads/v_heads [heads, HW, d] -> [B,T,C]."""
        b, t = q.shape[0], q.shape[1]
        qh = (self.q(q) * self.scale).reshape(b * t, self.heads, self.head_dim).permute(1, 0, 2)
        attn = torch.softmax(torch.bmm(qh, k_heads.transpose(1, 2)), dim=-1)  # [heads, B*T, HW]
        o = torch.bmm(attn, v_heads)  # [heads, B*T, d]
        return self.out(o.permute(1, 0, 2).reshape(b, t, -1))

    def token_to_image(self, q: Tensor, x: Tensor, x_pe: Tensor) -> Tensor:
        """Tokens attending to a per-prompt image side, reassociated: q [B,T,C], x (values) and
        x_pe (keys, x + positional encoding) [B,HW,C] -> [B,T,C]."""
        b, t = q.shape[0], q.shape[1]
        qh = (self.q(q) * self.scale).reshape(b, t, self.heads, self.head_dim)
        u = torch.einsum("bthd,hdc->bhtc", qh, self.wk_heads).reshape(b, self.heads * t, -1)
        attn = torch.softmax(torch.bmm(u, x_pe.transpose(1, 2)), dim=-1)  # [B, heads*T, HW]
        r = torch.bmm(attn, x).reshape(b, self.heads, t, -1)  # softmax-weighted image rows
        o = torch.einsum("bhtc,hdc->bthd", r, self.wv_heads) + self.bv_heads
        return self.out(o.reshape(b, t, -1))

    def shared_image_to_token(self, residual: Tensor, q_heads: Tensor, k: Tensor, v: Tensor) -> Tensor:
        """residual + the attention output of an image side shared by all prompts (its queries
        projected once by prepare(), scaled) attending to each prompt's tokens:
        residual [1 or B, HW, C], q_heads [heads, HW, d], k, v [B,T,C] -> [B,HW,C]."""
        b, t = k.shape[0], k.shape[1]
        kh = self.k(k).reshape(b, t, self.heads, self.head_dim).permute(0, 2, 1, 3)  # [B,heads,T,d]
        return self.attend_to_tokens(residual, torch.matmul(kh, q_heads.transpose(1, 2)), v)

    def image_to_token(self, residual: Tensor, x_pe: Tensor, k: Tensor, v: Tensor) -> Tensor:
        """residual + the attention output of a per-prompt image side attending to the tokens, W_q
        folded into the T keys: residual, x_pe [B,HW,C], k, v [B,T,C] -> [B,HW,C]."""
        b, t = k.shape[0], k.shape[1]
        kh = self.k(k).reshape(b, t, self.heads, self.head_dim) * self.scale
        g = torch.einsum("bthd,hdc->bhtc", kh, self.wq_heads).reshape(b, self.heads * t, -1)
        # The q bias does not cancel here: softmax runs over the tokens, and bias.k differs per token.
        bias = torch.einsum("hd,bthd->bht", self.bq_heads, kh).reshape(b, self.heads * t, 1)
        scores = torch.baddbmm(bias, g, x_pe.transpose(1, 2))  # [B, heads*T, HW]
        return self.attend_to_tokens(residual, scores.reshape(b, self.heads, t, -1), v)


class _Block(nn.Module):
    """The parameters of one TwoWayAttentionBlock."""

    def __init__(self, state, prefix: str, num_heads: int):
        super().__init__()
        self.self_attn = _Attention(state, prefix + ".self_attn", num_heads)
        self.token_to_image = _Attention(state, prefix + ".cross_attn_token_to_image", num_heads)
        self.image_to_token = _Attention(state, prefix + ".cross_attn_image_to_token", num_heads)
        self.mlp_in = _Linear(state, prefix + ".mlp.lin1")
        self.mlp_out = _Linear(state, prefix + ".mlp.lin2")
        self.norm1 = _LayerNorm(state, prefix + ".norm1", 1e-5)
        self.norm2 = _LayerNorm(state, prefix + ".norm2", 1e-5)
        self.norm3 = _LayerNorm(state, prefix + ".norm3", 1e-5)
        self.norm4 = _LayerNorm(state, prefix + ".norm4", 1e-5)

    def norm3_after_mlp(self, x: Tensor) -> Tensor:
        """The block's MLP with its residual and norm3 (ReLU: TwoWayTransformer's activation)."""
        return self.norm3(x + self.mlp_out(F.relu(self.mlp_in(x))))


class SamPromptDecoder(nn.Module):
    """Methods (all tensors float32 on the module's device):

    prepare(image_embeddings [1,C,H,W]) -> context (list of tensors), once per image
    decode(context, point_coords [B,N,2], point_labels [B,N], mask_input [B,1,4H,4W] or None)
        -> (iou_predictions [B,M], hyper [B,M,C/8], image_side [B,HW,C])
    upscale(image_side [b,HW,C], hyper [b,k,C/8]) -> low_res_masks [b,k,4H,4W]
    forward(image_embeddings, point_coords, point_labels, mask_input, has_mask_input)
        -> (low_res_masks [B,M,4H,4W], iou_predictions [B,M]): the format-1 interface, all M=4 outputs

    point_coords are (x, y) in the resized input frame without the +0.5 pixel-centre shift; labels
    1 foreground, 0 background, -1 padding, 2/3 box corners (docs/model-format.md).
    """

    def __init__(self, state, num_heads: int, input_image_size: Tuple[int, int], embedding_size: Tuple[int, int],
                 depth: int = 2):
        super().__init__()
        pe = "prompt_encoder."
        md = "mask_decoder."
        self.input_h = int(input_image_size[0])
        self.input_w = int(input_image_size[1])
        self.register_buffer("gaussian", _get(state, pe + "pe_layer.positional_encoding_gaussian_matrix"))
        self.register_buffer("point_embeddings", torch.cat(
            [_get(state, pe + "point_embeddings.%d.weight" % i) for i in range(4)], dim=0))  # 0 bg .. 3 box br
        self.register_buffer("not_a_point", _get(state, pe + "not_a_point_embed.weight"))
        self.register_buffer("no_mask", _get(state, pe + "no_mask_embed.weight"))
        self.mask_conv1 = _Conv(state, pe + "mask_downscaling.0", 2)
        self.mask_norm1 = _LayerNorm(state, pe + "mask_downscaling.1", 1e-6)
        self.mask_conv2 = _Conv(state, pe + "mask_downscaling.3", 2)
        self.mask_norm2 = _LayerNorm(state, pe + "mask_downscaling.4", 1e-6)
        self.mask_conv3 = _Conv(state, pe + "mask_downscaling.6", 1)

        self.register_buffer("output_tokens", torch.cat(
            [_get(state, md + "iou_token.weight"), _get(state, md + "mask_tokens.weight")], dim=0))
        self.num_masks = int(self.output_tokens.shape[0]) - 1
        self.first = _Block(state, md + "transformer.layers.0", num_heads)
        self.later = nn.ModuleList([_Block(state, md + "transformer.layers.%d" % i, num_heads)
                                    for i in range(1, depth)])
        self.final_attn = _Attention(state, md + "transformer.final_attn_token_to_image", num_heads)
        self.final_norm = _LayerNorm(state, md + "transformer.norm_final_attn", 1e-5)

        # Transposed convolutions (kernel 2, stride 2) as per-pixel linear maps, weights [2*2*out, in]
        # with rows ordered (dy, dx, out).
        up1 = _get(state, md + "output_upscaling.0.weight")  # [C, C/4, 2, 2]
        up2 = _get(state, md + "output_upscaling.3.weight")  # [C/4, C/8, 2, 2]
        self.register_buffer("up1_w", up1.permute(2, 3, 1, 0).reshape(-1, up1.shape[0]).contiguous())
        self.register_buffer("up1_b", _get(state, md + "output_upscaling.0.bias").repeat(4))
        self.up_norm = _LayerNorm(state, md + "output_upscaling.1", 1e-6)
        self.register_buffer("up2_w", up2.permute(2, 3, 1, 0).reshape(-1, up2.shape[0]).contiguous())
        self.register_buffer("up2_b", _get(state, md + "output_upscaling.3.bias").repeat(4))
        self.up1_out = int(up1.shape[1])
        self.up2_out = int(up2.shape[1])
        self.hypernets = nn.ModuleList([_MLP(state, md + "output_hypernetworks_mlps.%d" % i, 3)
                                        for i in range(self.num_masks)])
        self.iou_head = _MLP(state, md + "iou_prediction_head", 3)

        h, w = int(embedding_size[0]), int(embedding_size[1])
        self.embed_h = h
        self.embed_w = w
        y = (torch.arange(h, dtype=torch.float32) + 0.5) / h
        x = (torch.arange(w, dtype=torch.float32) + 0.5) / w
        grid = torch.stack([x.unsqueeze(0).expand(h, w), y.unsqueeze(1).expand(h, w)], dim=-1)
        self.register_buffer("dense_pe", self.positional_encoding(grid).reshape(h * w, -1).contiguous())  # [HW,C]

    # ------------------------------------------------------------------------------ prompt encoder
    def positional_encoding(self, coords: Tensor) -> Tensor:
        """[..., 2] in [0,1]^2 -> [..., C] (PositionEmbeddingRandom)."""
        coords = torch.matmul(2 * coords - 1, self.gaussian)
        coords = 2 * math.pi * coords
        return torch.cat([torch.sin(coords), torch.cos(coords)], dim=-1)

    def embed_points(self, point_coords: Tensor, point_labels: Tensor) -> Tensor:
        """[B,N,2], [B,N] -> sparse embeddings [B,N,C]. Masks multiply by 0/1 instead of the official
        boolean-index assignments, which give the same floats (x*1 = x, x + 0 = x)."""
        coords = point_coords + 0.5
        # Division, as the official code divides: x / w and x * (1/w) can differ in the last bit.
        coords = torch.stack([coords[..., 0] / self.input_w, coords[..., 1] / self.input_h], dim=-1)
        pe = self.positional_encoding(coords)
        labels = point_labels.unsqueeze(-1)
        emb = pe * (labels != -1).to(pe.dtype)
        emb = emb + (labels == -1).to(pe.dtype) * self.not_a_point
        for k in range(4):
            emb = emb + (labels == k).to(pe.dtype) * self.point_embeddings[k]
        return emb

    def embed_mask(self, mask_input: Tensor) -> Tensor:
        """[B,1,4H,4W] low-res logits -> dense embeddings [B,HW,C]."""
        x = F.gelu(self.mask_norm1.channels(self.mask_conv1(mask_input)))
        x = F.gelu(self.mask_norm2.channels(self.mask_conv2(x)))
        return self.mask_conv3(x).flatten(2).transpose(1, 2)

    # ------------------------------------------------------------------------------ decoder
    @torch.jit.export
    def prepare(self, image_embeddings: Tensor) -> List[Tensor]:
        """The prompt-independent part of the first layer, once per image:
        [image [HW,C], image + no-mask embedding [HW,C], its token->image keys and values and its
        image->token queries, each [heads, HW, d]]."""
        image = image_embeddings[0].flatten(1).t().contiguous()
        src = image + self.no_mask
        src_pe = src + self.dense_pe
        att = self.first.token_to_image
        keys = att.heads_of(att.k(src_pe)).contiguous()
        values = att.heads_of(att.v(src)).contiguous()
        i2t = self.first.image_to_token
        queries = (i2t.heads_of(i2t.q(src_pe)) * i2t.scale).contiguous()
        return [image, src, keys, values, queries]

    @torch.jit.export
    def decode(self, context: List[Tensor], point_coords: Tensor, point_labels: Tensor,
               mask_input: Optional[Tensor]) -> Tuple[Tensor, Tensor, Tensor]:
        sparse = self.embed_points(point_coords, point_labels)
        b = sparse.shape[0]
        tokens = torch.cat([self.output_tokens.unsqueeze(0).expand(b, -1, -1), sparse], dim=1)

        blk = self.first
        queries = blk.norm1(blk.self_attn.tokens(tokens, tokens, tokens))  # no residual, no PE: as official
        if mask_input is None:
            att = blk.token_to_image.token_to_shared_image(queries + tokens, context[2], context[3])
            queries = blk.norm3_after_mlp(blk.norm2(queries + att))
            keys = blk.norm4(blk.image_to_token.shared_image_to_token(context[1].unsqueeze(0), context[4],
                                                                      queries + tokens, queries))
        else:
            image = context[0].unsqueeze(0) + self.embed_mask(mask_input)
            image_pe = image + self.dense_pe
            att = blk.token_to_image.token_to_image(queries + tokens, image, image_pe)
            queries = blk.norm3_after_mlp(blk.norm2(queries + att))
            keys = blk.norm4(blk.image_to_token.image_to_token(image, image_pe, queries + tokens, queries))

        for blk in self.later:
            q = queries + tokens
            queries = blk.norm1(queries + blk.self_attn.tokens(q, q, queries))
            keys_pe = keys + self.dense_pe
            queries = blk.norm2(queries + blk.token_to_image.token_to_image(queries + tokens, keys, keys_pe))
            queries = blk.norm3_after_mlp(queries)
            keys = blk.norm4(blk.image_to_token.image_to_token(keys, keys_pe, queries + tokens, queries))

        queries = self.final_norm(queries + self.final_attn.token_to_image(queries + tokens, keys, keys + self.dense_pe))
        iou = self.iou_head(queries[:, 0, :])
        hyper = torch.stack([net(queries[:, 1 + i, :]) for i, net in enumerate(self.hypernets)], dim=1)
        return iou, hyper, keys

    @torch.jit.export
    def upscale(self, image_side: Tensor, hyper: Tensor) -> Tensor:
        """Official output_upscaling + hypernetwork product for the prompts given:
        image_side [b,HW,C], hyper [b,k,C/8] -> [b,k,4H,4W]."""
        b, h, w = image_side.shape[0], self.embed_h, self.embed_w
        # Pixels stay in (y, x, dy, dx) order through both convolutions; the interleave to
        # (4y + 2dy + dy2, 4x + 2dx + dx2) happens once, on the k output planes.
        x = F.linear(image_side.reshape(b * h * w, -1), self.up1_w, self.up1_b)  # [bHW, 4*C/4]
        x = F.gelu(self.up_norm(x.reshape(-1, self.up1_out)))
        x = F.gelu(F.linear(x, self.up2_w, self.up2_b))  # [bHW*4, 4*C/8]
        k = hyper.shape[1]
        x = x.reshape(b, h * w * 16, self.up2_out)
        masks = torch.bmm(x, hyper.transpose(1, 2))  # [b, HW*16, k]
        masks = masks.reshape(b, h, w, 2, 2, 2, 2, k).permute(0, 7, 1, 3, 5, 2, 4, 6)
        return masks.reshape(b, k, 4 * h, 4 * w)

    def forward(self, image_embeddings: Tensor, point_coords: Tensor, point_labels: Tensor, mask_input: Tensor,
                has_mask_input: Tensor) -> Tuple[Tensor, Tensor]:
        context = self.prepare(image_embeddings)
        mask: Optional[Tensor] = None
        if bool(has_mask_input.reshape(-1)[0] > 0.5):
            mask = mask_input.expand(point_coords.shape[0], -1, -1, -1)
        iou, hyper, image_side = self.decode(context, point_coords, point_labels, mask)
        return self.upscale(image_side, hyper), iou
