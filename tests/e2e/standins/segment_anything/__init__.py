"""A stand-in for Meta's segment_anything package, for tests of weights/export_sam.py without it.

It has the interface the exporter uses (sam_model_registry; a Sam with image_encoder, prompt_encoder,
mask_decoder, pixel_mean, pixel_std, mask_threshold; the official parameter names and shapes) and
SAM's prompt encoder and mask decoder computed the plain way, as the SAM paper describes them
(multi-head attention with projections per call, transposed convolutions), at a small size:
32 channels, 4 heads, a 16x16 embedding of a 64x64 input, 64x64 low-res masks. The image encoder is
SAM's ViT (ViTDet's backbone: patch embedding, absolute positions, pre-norm blocks with windowed or
global attention and relative-position terms, a convolutional neck) computed as plainly: each
window's attention with its full relative-position bias matrix, windows one by one, at 48 channels,
4 heads, 3 blocks (the middle one global) and windows of 5 tokens, so that the 16x16 grid is padded
as SAM's 64x64 grid is for its windows of 14. It is samcli's own test code, so the exporter's checks
of its own encoder and decoder against "the official modules" run in CI against these plain versions.
"""
import math

import torch
import torch.nn.functional as F
from torch import nn

DIM = 32
HEADS = 4
MLP_DIM = 64
IMAGE_SIZE = 64
PATCH = 4
EMBED = IMAGE_SIZE // PATCH  # 16
MASK_IN = 16                 # mask_downscaling's channels


class Attention(nn.Module):
    def __init__(self, dim, heads, downsample_rate=1):
        super().__init__()
        inner = dim // downsample_rate
        self.num_heads = heads
        self.q_proj = nn.Linear(dim, inner)
        self.k_proj = nn.Linear(dim, inner)
        self.v_proj = nn.Linear(dim, inner)
        self.out_proj = nn.Linear(inner, dim)

    def forward(self, q, k, v):
        def split(x):
            return x.reshape(x.shape[0], x.shape[1], self.num_heads, -1).transpose(1, 2)

        q, k, v = split(self.q_proj(q)), split(self.k_proj(k)), split(self.v_proj(v))
        weights = torch.softmax(q @ k.transpose(-1, -2) / math.sqrt(q.shape[-1]), dim=-1)
        out = (weights @ v).transpose(1, 2)
        return self.out_proj(out.reshape(out.shape[0], out.shape[1], -1))


class MLPBlock(nn.Module):
    def __init__(self, dim, hidden, act=F.relu):
        super().__init__()
        self.lin1 = nn.Linear(dim, hidden)
        self.lin2 = nn.Linear(hidden, dim)
        self.act = act

    def forward(self, x):
        return self.lin2(self.act(self.lin1(x)))


class TwoWayAttentionBlock(nn.Module):
    def __init__(self, first):
        super().__init__()
        self.first = first
        self.self_attn = Attention(DIM, HEADS)
        self.norm1 = nn.LayerNorm(DIM)
        self.cross_attn_token_to_image = Attention(DIM, HEADS, 2)
        self.norm2 = nn.LayerNorm(DIM)
        self.mlp = MLPBlock(DIM, MLP_DIM)
        self.norm3 = nn.LayerNorm(DIM)
        self.norm4 = nn.LayerNorm(DIM)
        self.cross_attn_image_to_token = Attention(DIM, HEADS, 2)

    def forward(self, queries, keys, query_pe, key_pe):
        if self.first:
            queries = self.norm1(self.self_attn(queries, queries, queries))
        else:
            q = queries + query_pe
            queries = self.norm1(queries + self.self_attn(q, q, queries))
        queries = self.norm2(queries + self.cross_attn_token_to_image(queries + query_pe, keys + key_pe, keys))
        queries = self.norm3(queries + self.mlp(queries))
        keys = self.norm4(keys + self.cross_attn_image_to_token(keys + key_pe, queries + query_pe, queries))
        return queries, keys


class TwoWayTransformer(nn.Module):
    def __init__(self, depth=2):
        super().__init__()
        self.num_heads = HEADS
        self.layers = nn.ModuleList([TwoWayAttentionBlock(i == 0) for i in range(depth)])
        self.final_attn_token_to_image = Attention(DIM, HEADS, 2)
        self.norm_final_attn = nn.LayerNorm(DIM)

    def forward(self, image, image_pe, tokens):
        keys = image.flatten(2).transpose(1, 2)
        key_pe = image_pe.flatten(2).transpose(1, 2)
        queries = tokens
        for layer in self.layers:
            queries, keys = layer(queries, keys, tokens, key_pe)
        attn = self.final_attn_token_to_image(queries + tokens, keys + key_pe, keys)
        return self.norm_final_attn(queries + attn), keys


class LayerNorm2d(nn.Module):
    def __init__(self, channels, eps=1e-6):
        super().__init__()
        self.weight = nn.Parameter(torch.ones(channels))
        self.bias = nn.Parameter(torch.zeros(channels))
        self.eps = eps

    def forward(self, x):
        mean = x.mean(1, keepdim=True)
        var = (x - mean).pow(2).mean(1, keepdim=True)
        return self.weight[:, None, None] * (x - mean) / torch.sqrt(var + self.eps) + self.bias[:, None, None]


class MLP(nn.Module):
    def __init__(self, dim_in, hidden, dim_out, num_layers):
        super().__init__()
        sizes = [dim_in] + [hidden] * (num_layers - 1) + [dim_out]
        self.layers = nn.ModuleList(nn.Linear(a, b) for a, b in zip(sizes[:-1], sizes[1:]))

    def forward(self, x):
        for i, layer in enumerate(self.layers):
            x = layer(x)
            if i < len(self.layers) - 1:
                x = F.relu(x)
        return x


class MaskDecoder(nn.Module):
    def __init__(self):
        super().__init__()
        self.iou_token = nn.Embedding(1, DIM)
        self.mask_tokens = nn.Embedding(4, DIM)
        self.transformer = TwoWayTransformer()
        self.output_upscaling = nn.Sequential(
            nn.ConvTranspose2d(DIM, DIM // 4, kernel_size=2, stride=2), LayerNorm2d(DIM // 4), nn.GELU(),
            nn.ConvTranspose2d(DIM // 4, DIM // 8, kernel_size=2, stride=2), nn.GELU())
        self.output_hypernetworks_mlps = nn.ModuleList([MLP(DIM, DIM, DIM // 8, 3) for _ in range(4)])
        self.iou_prediction_head = MLP(DIM, DIM, 4, 3)

    def predict_masks(self, image_embeddings, image_pe, sparse_prompt_embeddings, dense_prompt_embeddings):
        b = sparse_prompt_embeddings.shape[0]
        output_tokens = torch.cat([self.iou_token.weight, self.mask_tokens.weight]).unsqueeze(0).expand(b, -1, -1)
        tokens = torch.cat([output_tokens, sparse_prompt_embeddings], dim=1)
        src = image_embeddings.expand(b, -1, -1, -1) + dense_prompt_embeddings
        hs, keys = self.transformer(src, image_pe.expand(b, -1, -1, -1), tokens)
        up = self.output_upscaling(keys.transpose(1, 2).reshape(src.shape))
        hyper = torch.stack([mlp(hs[:, 1 + i]) for i, mlp in enumerate(self.output_hypernetworks_mlps)], dim=1)
        masks = (hyper @ up.flatten(2)).reshape(b, 4, up.shape[2], up.shape[3])
        return masks, self.iou_prediction_head(hs[:, 0])


class PositionEmbeddingRandom(nn.Module):
    def __init__(self):
        super().__init__()
        self.register_buffer("positional_encoding_gaussian_matrix", torch.randn(2, DIM // 2))

    def encode(self, coords):  # [..., 2] in [0, 1]
        x = 2 * math.pi * ((2 * coords - 1) @ self.positional_encoding_gaussian_matrix)
        return torch.cat([torch.sin(x), torch.cos(x)], dim=-1)

    def forward_with_coords(self, coords, image_size):
        h, w = image_size
        return self.encode(torch.stack([coords[..., 0] / w, coords[..., 1] / h], dim=-1))


class PromptEncoder(nn.Module):
    def __init__(self):
        super().__init__()
        self.input_image_size = (IMAGE_SIZE, IMAGE_SIZE)
        self.image_embedding_size = (EMBED, EMBED)
        self.pe_layer = PositionEmbeddingRandom()
        self.point_embeddings = nn.ModuleList([nn.Embedding(1, DIM) for _ in range(4)])
        self.not_a_point_embed = nn.Embedding(1, DIM)
        self.mask_downscaling = nn.Sequential(
            nn.Conv2d(1, MASK_IN // 4, kernel_size=2, stride=2), LayerNorm2d(MASK_IN // 4), nn.GELU(),
            nn.Conv2d(MASK_IN // 4, MASK_IN, kernel_size=2, stride=2), LayerNorm2d(MASK_IN), nn.GELU(),
            nn.Conv2d(MASK_IN, DIM, kernel_size=1))
        self.no_mask_embed = nn.Embedding(1, DIM)

    def get_dense_pe(self):
        y = (torch.arange(EMBED, dtype=torch.float32) + 0.5) / EMBED
        grid = torch.stack([y.unsqueeze(0).expand(EMBED, EMBED), y.unsqueeze(1).expand(EMBED, EMBED)], dim=-1)
        return self.pe_layer.encode(grid).permute(2, 0, 1).unsqueeze(0)

    def forward(self, points, boxes, masks):
        parts = []
        if points is not None:
            coords, labels = points
            if boxes is None:  # a padding point, as the official encoder adds without a box
                coords = torch.cat([coords, torch.zeros(coords.shape[0], 1, 2)], dim=1)
                labels = torch.cat([labels, -torch.ones(labels.shape[0], 1)], dim=1)
            pe = self.pe_layer.forward_with_coords(coords + 0.5, self.input_image_size)
            table = torch.cat([self.not_a_point_embed.weight] + [e.weight for e in self.point_embeddings])
            pe = torch.where((labels == -1).unsqueeze(-1), torch.zeros_like(pe), pe)
            parts.append(pe + table[(labels + 1).long()])
        if boxes is not None:
            corners = self.pe_layer.forward_with_coords(boxes.reshape(-1, 2, 2) + 0.5, self.input_image_size)
            parts.append(corners + torch.cat([self.point_embeddings[2].weight, self.point_embeddings[3].weight]))
        sparse = torch.cat(parts, dim=1)
        if masks is not None:
            dense = self.mask_downscaling(masks)
        else:
            dense = self.no_mask_embed.weight.reshape(1, -1, 1, 1).expand(sparse.shape[0], -1, EMBED, EMBED)
        return sparse, dense


VIT_DIM = 48
VIT_HEADS = 4
VIT_WINDOW = 5
VIT_GLOBAL = (1,)
VIT_DEPTH = 3


class PatchEmbed(nn.Module):
    def __init__(self):
        super().__init__()
        self.proj = nn.Conv2d(3, VIT_DIM, kernel_size=PATCH, stride=PATCH)


class ViTAttention(nn.Module):
    """Multi-head self-attention over a set of tokens on a size x size grid, with the bias
    q_i . (R_h[y_i - y_j] + R_w[x_i - x_j]) added to each score."""

    def __init__(self, size):
        super().__init__()
        self.num_heads = VIT_HEADS
        self.use_rel_pos = True
        head_dim = VIT_DIM // VIT_HEADS
        self.qkv = nn.Linear(VIT_DIM, 3 * VIT_DIM)
        self.proj = nn.Linear(VIT_DIM, VIT_DIM)
        self.rel_pos_h = nn.Parameter(torch.zeros(2 * size - 1, head_dim))
        self.rel_pos_w = nn.Parameter(torch.zeros(2 * size - 1, head_dim))

    def forward(self, grid):  # [size, size, C] -> [size, size, C]
        size = grid.shape[0]
        tokens = grid.reshape(size * size, VIT_DIM)
        ys = torch.arange(size).repeat_interleave(size)
        xs = torch.arange(size).repeat(size)
        table_h = self.rel_pos_h[ys[:, None] - ys[None, :] + size - 1]  # [n, n, head_dim]
        table_w = self.rel_pos_w[xs[:, None] - xs[None, :] + size - 1]
        heads = []
        for q, k, v in zip(*(part.chunk(VIT_HEADS, dim=1) for part in self.qkv(tokens).chunk(3, dim=1))):
            bias = torch.einsum("id,ijd->ij", q, table_h) + torch.einsum("id,ijd->ij", q, table_w)
            weights = torch.softmax(q @ k.t() / math.sqrt(q.shape[1]) + bias, dim=1)
            heads.append(weights @ v)
        return self.proj(torch.cat(heads, dim=1)).reshape(size, size, VIT_DIM)


class ViTBlock(nn.Module):
    def __init__(self, window_size):
        super().__init__()
        self.window_size = window_size
        self.norm1 = nn.LayerNorm(VIT_DIM, eps=1e-6)
        self.attn = ViTAttention(window_size if window_size > 0 else EMBED)
        self.norm2 = nn.LayerNorm(VIT_DIM, eps=1e-6)
        self.mlp = MLPBlock(VIT_DIM, 2 * VIT_DIM, act=F.gelu)

    def forward(self, x):  # [EMBED, EMBED, C]
        normed = self.norm1(x)
        if self.window_size == 0:
            attended = self.attn(normed)
        else:
            # Zero-pad to whole windows (the padding takes part in each window's attention), attend
            # window by window, drop the padding.
            ws = self.window_size
            padded_size = -(-EMBED // ws) * ws
            padded = torch.zeros(padded_size, padded_size, VIT_DIM)
            padded[:EMBED, :EMBED] = normed
            for y in range(0, padded_size, ws):
                for x0 in range(0, padded_size, ws):
                    padded[y:y + ws, x0:x0 + ws] = self.attn(padded[y:y + ws, x0:x0 + ws].clone())
            attended = padded[:EMBED, :EMBED]
        x = x + attended
        return x + self.mlp(self.norm2(x))


class ImageEncoderViT(nn.Module):
    def __init__(self):
        super().__init__()
        self.patch_embed = PatchEmbed()
        self.pos_embed = nn.Parameter(torch.zeros(1, EMBED, EMBED, VIT_DIM))
        self.blocks = nn.ModuleList([ViTBlock(0 if i in VIT_GLOBAL else VIT_WINDOW) for i in range(VIT_DEPTH)])
        self.neck = nn.Sequential(nn.Conv2d(VIT_DIM, DIM, kernel_size=1, bias=False), LayerNorm2d(DIM),
                                  nn.Conv2d(DIM, DIM, kernel_size=3, padding=1, bias=False), LayerNorm2d(DIM))

    def forward(self, x):  # [B, 3, 64, 64] -> [B, DIM, EMBED, EMBED]
        out = []
        for image in x:
            grid = self.patch_embed.proj(image.unsqueeze(0))[0].permute(1, 2, 0) + self.pos_embed[0]
            for block in self.blocks:
                grid = block(grid)
            out.append(self.neck(grid.permute(2, 0, 1).unsqueeze(0)))
        return torch.cat(out)


class Sam(nn.Module):
    mask_threshold = 0.0

    def __init__(self):
        super().__init__()
        self.image_encoder = ImageEncoderViT()
        self.prompt_encoder = PromptEncoder()
        self.mask_decoder = MaskDecoder()
        self.register_buffer("pixel_mean", torch.tensor([123.675, 116.28, 103.53]).view(-1, 1, 1))
        self.register_buffer("pixel_std", torch.tensor([58.395, 57.12, 57.375]).view(-1, 1, 1))


def _build(checkpoint=None):
    sam = Sam()
    if checkpoint is not None:
        sam.load_state_dict(torch.load(checkpoint, map_location="cpu"))
    return sam


sam_model_registry = {"vit_b": _build}


def random_checkpoint(path, seed=0):
    """Writes a state_dict with every parameter drawn at random: weights scaled by 1/sqrt(fan-in) as a
    trained network's are, biases, norms and embeddings perturbed, so that no stage is an identity and
    outputs vary with the prompt."""
    torch.manual_seed(seed)
    sam = Sam()
    with torch.no_grad():
        for name, p in sam.named_parameters():
            if p.dim() > 1:
                p.copy_(torch.randn_like(p) / math.sqrt(p[0].numel()))
            else:
                p.add_(torch.randn_like(p) * 0.2)
    torch.save(sam.state_dict(), path)
