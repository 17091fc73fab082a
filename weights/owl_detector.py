"""OWL-ViT and OWLv2 open-vocabulary detectors (Hugging Face OwlViTForObjectDetection and
Owlv2ForObjectDetection), as one scriptable module with the split interface text-sam runs.

samcli's own code: export_owlvit.py builds it from a Hugging Face state_dict (parameters read by their
names) and scripts it into detector.pt; the export then checks it against the Hugging Face model
itself (text detection and image-guided detection). The tests build it with seeded random weights
(tests/fixtures/make_owl_standin.py) and compare the tools' output with Hugging Face's on the same
weights (tests/data/reference/owl/).

Why a module of its own instead of a trace of forward(): text-sam needs the detector in pieces --
the image tower once per image whatever the queries, the text tower once per query batch, the
class head on any mix of query embeddings, and the example-image query embedding of
image_guided_detection -- and a trace of Hugging Face's methods would freeze their Python control
flow (the query-box choice is data-dependent). The methods, all on one image (batch 1):

  image_features(pixel_values [1,3,S,S]) -> feats [1,P,Dv]   patch tokens times the class token, normed
  boxes(feats) -> [1,P,4]            (cx, cy, w, h) in 0..1 of the model input
  objectness(feats) -> [1,P]         OWLv2's objectness logits (zeros for OWL-ViT, which has no head)
  embed_text(input_ids [Q,L], attention_mask [Q,L]) -> [Q,Dt]   projected, L2-normalised
  embed_query_image(pixel_values) -> (embedding [1,Dt], box [1,4], index [1])
                                     the example's box embedding chosen as image_guided_detection does
  classify(feats, query_embeds [Q,Dt]) -> logits [1,P,Q]
"""
from typing import Dict, List, Optional, Tuple

import torch
import torch.nn.functional as F
from torch import Tensor, nn


# torch.finfo(torch.float32).min, the masked score CLIP's text model adds (TorchScript has no finfo).
FLOAT32_LOWEST = -3.4028234663852886e38


class Config:
    """The architecture numbers the module needs, read off a Hugging Face config (or given)."""

    def __init__(self, vision_width, vision_layers, vision_heads, vision_mlp, image_size, patch_size,
                 text_width, text_layers, text_heads, text_mlp, vocab_size, max_text_length, projection_dim,
                 vision_eps=1e-5, text_eps=1e-5, objectness=False):
        self.vision_width = vision_width
        self.vision_layers = vision_layers
        self.vision_heads = vision_heads
        self.vision_mlp = vision_mlp
        self.image_size = image_size
        self.patch_size = patch_size
        self.text_width = text_width
        self.text_layers = text_layers
        self.text_heads = text_heads
        self.text_mlp = text_mlp
        self.vocab_size = vocab_size
        self.max_text_length = max_text_length
        self.projection_dim = projection_dim
        self.vision_eps = vision_eps
        self.text_eps = text_eps
        self.objectness = objectness

    @staticmethod
    def from_hf(config, objectness):
        v, t = config.vision_config, config.text_config
        for part in (v, t):
            if part.hidden_act != "quick_gelu":
                raise ValueError("activation %r; samcli's OWL module implements quick_gelu" % part.hidden_act)
        return Config(v.hidden_size, v.num_hidden_layers, v.num_attention_heads, v.intermediate_size, v.image_size,
                      v.patch_size, t.hidden_size, t.num_hidden_layers, t.num_attention_heads, t.intermediate_size,
                      t.vocab_size, t.max_position_embeddings, config.projection_dim, v.layer_norm_eps,
                      t.layer_norm_eps, objectness)


class EncoderLayer(nn.Module):
    """CLIP's pre-norm transformer layer: attention, then a quick-GELU MLP, both residual."""

    def __init__(self, width: int, heads: int, mlp: int, eps: float):
        super().__init__()
        self.heads = heads
        self.head_dim = width // heads
        self.scale = self.head_dim ** -0.5
        self.layer_norm1 = nn.LayerNorm(width, eps=eps)
        self.q_proj = nn.Linear(width, width)
        self.k_proj = nn.Linear(width, width)
        self.v_proj = nn.Linear(width, width)
        self.out_proj = nn.Linear(width, width)
        self.layer_norm2 = nn.LayerNorm(width, eps=eps)
        self.fc1 = nn.Linear(width, mlp)
        self.fc2 = nn.Linear(mlp, width)

    def forward(self, x: Tensor, bias: Optional[Tensor]) -> Tensor:
        b, n, c = x.shape
        h = self.layer_norm1(x)
        q = (self.q_proj(h) * self.scale).view(b, n, self.heads, self.head_dim).transpose(1, 2)
        k = self.k_proj(h).view(b, n, self.heads, self.head_dim).transpose(1, 2)
        v = self.v_proj(h).view(b, n, self.heads, self.head_dim).transpose(1, 2)
        # One head at a time: OWLv2's 3601 image tokens make a [heads, 3601, 3601] score tensor of
        # 620 MB for the base model; per head it is 52 MB, with the same arithmetic.
        out = torch.empty_like(q)
        for i in range(self.heads):
            scores = torch.matmul(q[:, i], k[:, i].transpose(1, 2))
            if bias is not None:
                scores = scores + bias
            out[:, i] = torch.matmul(torch.softmax(scores, dim=-1), v[:, i])
        x = x + self.out_proj(out.transpose(1, 2).reshape(b, n, c))
        h = self.fc1(self.layer_norm2(x))
        return x + self.fc2(h * torch.sigmoid(1.702 * h))


class BoxHead(nn.Module):
    """Three dense layers with GELU between them (the box and objectness heads)."""

    def __init__(self, width: int, out: int):
        super().__init__()
        self.dense0 = nn.Linear(width, width)
        self.dense1 = nn.Linear(width, width)
        self.dense2 = nn.Linear(width, out)

    def forward(self, x: Tensor) -> Tensor:
        return self.dense2(F.gelu(self.dense1(F.gelu(self.dense0(x)))))


class ClassHead(nn.Module):
    def __init__(self, vision_width: int, text_width: int):
        super().__init__()
        self.dense0 = nn.Linear(vision_width, text_width)
        self.logit_shift = nn.Linear(vision_width, 1)
        self.logit_scale = nn.Linear(vision_width, 1)


def box_bias(grid: int) -> Tensor:
    """[grid*grid, 4]: the logit of each patch's bottom-right corner as box centre and of the patch
    size as box size, added to the box head's output (the prior that a box sits on its patch)."""
    steps = torch.arange(1, grid + 1, dtype=torch.float32) / grid
    ys, xs = torch.meshgrid(steps, steps, indexing="ij")
    centre = torch.stack((xs, ys), dim=-1).view(-1, 2).clamp(0.0, 1.0)
    size = torch.full_like(centre, 1.0 / grid)
    logit = lambda t: torch.log(t + 1e-4) - torch.log1p(-t + 1e-4)  # noqa: E731
    return torch.cat((logit(centre), logit(size)), dim=-1)


def corners(cxcywh: Tensor) -> Tensor:
    cx, cy, w, h = cxcywh.unbind(-1)
    return torch.stack((cx - 0.5 * w, cy - 0.5 * h, cx + 0.5 * w, cy + 0.5 * h), dim=-1)


def iou_with(box: Tensor, boxes: Tensor, generalized: bool) -> Tensor:
    """IoU (or generalised IoU) of one XYXY box [4] with boxes [N,4]."""
    area = (box[2] - box[0]) * (box[3] - box[1])
    areas = (boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1])
    lt = torch.maximum(box[:2], boxes[:, :2])
    rb = torch.minimum(box[2:], boxes[:, 2:])
    wh = (rb - lt).clamp(min=0)
    inter = wh[:, 0] * wh[:, 1]
    union = area + areas - inter
    iou = inter / union
    if not generalized:
        return iou
    hull = (torch.maximum(box[2:], boxes[:, 2:]) - torch.minimum(box[:2], boxes[:, :2])).clamp(min=0)
    hull_area = hull[:, 0] * hull[:, 1]
    return iou - (hull_area - union) / hull_area


class OwlDetector(nn.Module):
    def __init__(self, c: Config):
        super().__init__()
        self.grid = c.image_size // c.patch_size
        self.lowest = FLOAT32_LOWEST
        self.objectness_enabled = c.objectness
        # Vision tower
        self.class_embedding = nn.Parameter(torch.zeros(c.vision_width))
        self.patch_embedding = nn.Conv2d(3, c.vision_width, c.patch_size, c.patch_size, bias=False)
        self.vision_position_embedding = nn.Parameter(torch.zeros(self.grid * self.grid + 1, c.vision_width))
        self.pre_layernorm = nn.LayerNorm(c.vision_width, eps=c.vision_eps)
        self.vision_layers = nn.ModuleList(
            [EncoderLayer(c.vision_width, c.vision_heads, c.vision_mlp, c.vision_eps) for _ in range(c.vision_layers)])
        self.post_layernorm = nn.LayerNorm(c.vision_width, eps=c.vision_eps)
        self.layer_norm = nn.LayerNorm(c.vision_width, eps=c.vision_eps)
        # Text tower
        self.token_embedding = nn.Embedding(c.vocab_size, c.text_width)
        self.text_position_embedding = nn.Parameter(torch.zeros(c.max_text_length, c.text_width))
        self.text_layers = nn.ModuleList(
            [EncoderLayer(c.text_width, c.text_heads, c.text_mlp, c.text_eps) for _ in range(c.text_layers)])
        self.final_layer_norm = nn.LayerNorm(c.text_width, eps=c.text_eps)
        self.text_projection = nn.Linear(c.text_width, c.projection_dim, bias=False)
        # Heads
        self.class_head = ClassHead(c.vision_width, c.projection_dim)
        self.box_head = BoxHead(c.vision_width, 4)
        self.objectness_head = BoxHead(c.vision_width, 1)
        self.register_buffer("box_bias", box_bias(self.grid), persistent=False)

    # ------------------------------------------------------------------------------------ image
    @torch.jit.export
    def image_features(self, pixel_values: Tensor) -> Tensor:
        x = self.patch_embedding(pixel_values).flatten(2).transpose(1, 2)
        x = torch.cat((self.class_embedding.expand(x.shape[0], 1, -1), x), dim=1) + self.vision_position_embedding
        x = self.pre_layernorm(x)
        for layer in self.vision_layers:
            x = layer(x, None)
        x = self.post_layernorm(x)
        return self.layer_norm(x[:, 1:, :] * x[:, :1, :])

    @torch.jit.export
    def boxes(self, feats: Tensor) -> Tensor:
        return torch.sigmoid(self.box_head(feats) + self.box_bias)

    @torch.jit.export
    def objectness(self, feats: Tensor) -> Tensor:
        if not self.objectness_enabled:
            return torch.zeros(feats.shape[0], feats.shape[1], dtype=feats.dtype, device=feats.device)
        return self.objectness_head(feats)[..., 0]

    # ------------------------------------------------------------------------------------ queries
    @torch.jit.export
    def embed_text(self, input_ids: Tensor, attention_mask: Tensor) -> Tensor:
        q, n = input_ids.shape
        x = self.token_embedding(input_ids) + self.text_position_embedding[:n]
        lowest = self.lowest
        causal = torch.full((n, n), lowest, dtype=x.dtype, device=x.device).triu(1)
        padding = (1.0 - attention_mask.to(x.dtype))[:, None, :] * lowest
        # Added one after the other as in CLIP's text model: a padded key under the diagonal gets
        # the lowest float twice, i.e. -inf, which softmax weighs 0 all the same.
        bias = causal[None] + padding  # [Q, n, n], every head alike
        for layer in self.text_layers:
            x = layer(x, bias)
        x = self.final_layer_norm(x)
        pooled = x[torch.arange(q, device=x.device), input_ids.to(torch.int32).argmax(dim=-1)]
        embeds = self.text_projection(pooled)
        return embeds / torch.linalg.norm(embeds, dim=-1, keepdim=True)

    @torch.jit.export
    def embed_query_image(self, pixel_values: Tensor) -> Tuple[Tensor, Tensor, Tensor]:
        """The example's embedding: among its predicted boxes that cover the whole example best
        (IoU with the full frame at least 0.8 of the best one; generalised IoU when no box overlaps
        the frame), the one least like the example's mean box embedding."""
        feats = self.image_features(pixel_values)
        class_embeds = self.class_head.dense0(feats)[0]
        pred = self.boxes(feats)[0]
        frame = torch.tensor([0.0, 0.0, 1.0, 1.0], dtype=pred.dtype, device=pred.device)
        ious = iou_with(frame, corners(pred), False)
        if bool(torch.all(ious == 0.0)):
            ious = iou_with(frame, corners(pred), True)
        selected = (ious >= torch.max(ious) * 0.8).nonzero().squeeze(1)
        candidates = class_embeds[selected]
        similarity = torch.matmul(candidates, class_embeds.mean(dim=0))
        best = selected[torch.argmin(similarity)].view(1)
        return class_embeds[best], pred[best], best

    # ------------------------------------------------------------------------------------ logits
    @torch.jit.export
    def classify(self, feats: Tensor, query_embeds: Tensor) -> Tensor:
        image_embeds = self.class_head.dense0(feats)
        image_embeds = image_embeds / (torch.linalg.norm(image_embeds, dim=-1, keepdim=True) + 1e-6)
        queries = query_embeds / (torch.linalg.norm(query_embeds, dim=-1, keepdim=True) + 1e-6)
        logits = torch.matmul(image_embeds, queries.t())
        shift = self.class_head.logit_shift(feats)
        scale = F.elu(self.class_head.logit_scale(feats)) + 1.0
        return (logits + shift) * scale

    def forward(self, pixel_values: Tensor, input_ids: Tensor, attention_mask: Tensor) -> Tuple[Tensor, Tensor]:
        feats = self.image_features(pixel_values)
        return self.classify(feats, self.embed_text(input_ids, attention_mask)), self.boxes(feats)


# This module's parameter name prefixes -> Hugging Face's, after the model prefix ("owlvit." / "owlv2.").
_RENAMES = [
    ("class_embedding", "vision_model.embeddings.class_embedding"),
    ("patch_embedding.", "vision_model.embeddings.patch_embedding."),
    ("vision_position_embedding", "vision_model.embeddings.position_embedding.weight"),
    ("pre_layernorm.", "vision_model.pre_layernorm."),
    ("vision_layers.", "vision_model.encoder.layers."),
    ("post_layernorm.", "vision_model.post_layernorm."),
    ("token_embedding.", "text_model.embeddings.token_embedding."),
    ("text_position_embedding", "text_model.embeddings.position_embedding.weight"),
    ("text_layers.", "text_model.encoder.layers."),
    ("final_layer_norm.", "text_model.final_layer_norm."),
]
# Inside a layer, Hugging Face nests the attention projections and the MLP.
_LAYER_PARENTS = {"q_proj": "self_attn.", "k_proj": "self_attn.", "v_proj": "self_attn.", "out_proj": "self_attn.",
                  "fc1": "mlp.", "fc2": "mlp."}
# Parameters of the Hugging Face model that detection does not use (CLIP's image-text head).
_UNUSED = ("visual_projection.", "logit_scale")


def hf_name(name: str, prefix: str) -> str:
    """The Hugging Face name of one of this module's parameters (heads and text_projection keep theirs)."""
    for ours, theirs in _RENAMES:
        if name.startswith(ours):
            rest = name[len(ours):]
            if ours.endswith("layers."):
                index, _, leaf = rest.partition(".")
                rest = index + "." + _LAYER_PARENTS.get(leaf.split(".")[0], "") + leaf
            return prefix + theirs + rest
    return name if name.startswith(("class_head.", "box_head.", "objectness_head.", "layer_norm.")) else prefix + name


def _hf_names(model: OwlDetector, prefix: str) -> Dict[str, str]:
    """Hugging Face name -> this module's, for the parameters the checkpoint has (OWL-ViT: no objectness head)."""
    return {hf_name(name, prefix): name for name in model.state_dict()
            if model.objectness_enabled or not name.startswith("objectness_head.")}


def hf_state_dict(model: OwlDetector, prefix: str) -> Dict[str, Tensor]:
    """This module's parameters under their Hugging Face names (the stand-ins are written so)."""
    own = model.state_dict()
    return {theirs: own[ours] for theirs, ours in _hf_names(model, prefix).items()}


def load_hf_state_dict(model: OwlDetector, state: Dict[str, Tensor], prefix: str) -> None:
    """Loads a Hugging Face OwlViTForObjectDetection / Owlv2ForObjectDetection state_dict; every
    parameter of this module must be found, and every one of theirs used or known to be unused."""
    names = _hf_names(model, prefix)
    ours, unexpected = {}, []
    for name, value in state.items():
        if name.endswith("position_ids") or name[len(prefix):].startswith(_UNUSED):
            continue
        if name in names:
            ours[names[name]] = value
        else:
            unexpected.append(name)
    missing = [name for name in names if name not in state]
    if missing or unexpected:
        raise KeyError("state_dict does not fit the %s detector: missing %s, unexpected %s"
                       % (prefix.rstrip("."), missing[:5], unexpected[:5]))
    model.load_state_dict(ours, strict=False)
