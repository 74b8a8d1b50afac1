"""Multi-grained masked-attention mask classifier (MROVSeg Sec. 3.6, Alg. 1)."""
from typing import Optional

import torch
import torch.nn as nn
import torch.nn.functional as F
from mmengine.model import BaseModule
from mmseg.registry import MODELS
from torch import Tensor

from ..utils.clip_block import cross_attention_block
from ..utils.multi_res_features import MultiResFeatures


@MODELS.register_module()
class MultiGrainedMaskClassifier(BaseModule):
    """Classify mask proposals with CLIP's own [CLS] path.

    The global view's [CLS] token at the input of CLIP block k is copied to N
    queries and given a learnable position embedding. Through CLIP's remaining
    blocks (frozen weights, read from ``features.clip_tail``) the queries
    cross-attend to that block's low-resolution (global view) and
    high-resolution (slice) patch tokens with a per-head additive bias
    ``[M_global; M_local]`` (Eq. 8). Each slice token takes its bias from
    ``M_local`` at its own place on the slice canvas, so tokens of
    overlapping slices that show the same pixels share it. Tokens that show
    no image (padding of the global view or of the slice canvas) get no
    attention. The result goes through ``ln_post`` and ``proj``, is
    L2-normalized, and is compared by cosine similarity, scaled by CLIP's
    logit scale, with the text embeddings and a learnable no-object
    embedding.

    Args:
        num_queries: N.
        embed_dims: CLIP ViT width.
        proj_dims: CLIP joint embedding size (text embedding size).
        use_local_tokens: attend to the slice tokens too (multi-grained
            attention); False = low-resolution tokens only (Table 2 ablation).
        attend_cls_key: also attend to the global view's [CLS] token (bias
            0). Off by default: Eq. 8's keys are the visual tokens
            ``[K_LR; K_HR]``, and SAN keeps its queries off the [CLS] key.
            On, with zero biases and position embedding and no slice tokens,
            every query reproduces CLIP's ``encode_image``.
    """

    def __init__(self,
                 *,
                 num_queries: int = 100,
                 embed_dims: int = 768,
                 proj_dims: int = 512,
                 use_local_tokens: bool = True,
                 attend_cls_key: bool = False,
                 init_cfg: Optional[dict] = None):
        super().__init__(init_cfg=init_cfg)
        if num_queries < 1:
            raise ValueError(f'num_queries={num_queries} must be >= 1.')
        self.num_queries = num_queries
        self.use_local_tokens = use_local_tokens
        self.attend_cls_key = attend_cls_key
        self.query_pos = nn.Parameter(torch.zeros(num_queries, embed_dims))
        self.no_object_embed = nn.Parameter(torch.zeros(1, proj_dims))
        nn.init.trunc_normal_(self.query_pos, std=0.02)
        nn.init.trunc_normal_(self.no_object_embed, std=0.02)

    def embed(self,
              features: MultiResFeatures,
              global_bias: Optional[Tensor] = None,
              local_bias: Optional[Tensor] = None) -> Tensor:
        """Normalized CLIP embedding of every query.

        Args:
            features: backbone output with ``cls_token``, ``classifier_kv``
                and ``clip_tail``.
            global_bias: (B, heads, N, h*w) bias on the global patch tokens.
            local_bias: (B, heads, N, H'*W') bias over the slice canvas.

        Returns:
            (B, N, proj_dims), unit length.
        """
        tail = features.clip_tail
        if tail is None or features.cls_token is None:
            raise ValueError('the backbone was built without a classifier '
                             'start block (classifier_start_block=None).')
        if len(tail.blocks) != len(features.classifier_kv):
            raise ValueError('features.classifier_kv does not match the CLIP '
                             'blocks of features.clip_tail.')
        use_local = self.use_local_tokens and features.layout.has_slices
        first = 0 if self.attend_cls_key else 1
        last = None if use_local else features.num_global_keys
        bias = self.attention_bias(features, global_bias,
                                   local_bias if use_local else None,
                                   use_local)
        # (B, C) -> (B, N, C)
        queries = features.cls_token.unsqueeze(1) + self.query_pos.to(
            features.cls_token.dtype)
        for block, (keys, values) in zip(tail.blocks, features.classifier_kv):
            keys, values = keys[:, :, first:last], values[:, :, first:last]
            queries = cross_attention_block(block, queries, keys, values, bias)
        embeds = tail.ln_post(queries) @ tail.proj
        return F.normalize(embeds, dim=-1)

    def attention_bias(self, features: MultiResFeatures,
                       global_bias: Optional[Tensor],
                       local_bias: Optional[Tensor],
                       use_local: bool) -> Optional[Tensor]:
        """Additive bias over the attended keys, or None when it is all 0.

        Keys: ([CLS] if ``attend_cls_key``), the h*w global tokens, then
        (with ``use_local``) the S*t*t slice tokens in slice order. [CLS]
        gets 0, global tokens ``global_bias``, each slice token
        ``local_bias`` at its slice-canvas position; tokens that show no
        image get -inf.

        Returns:
            (B or 1, heads or 1, N or 1, keys).
        """
        layout = features.layout
        device = features.cls_token.device
        global_valid = layout.global_key_valid(device)
        slice_valid = layout.slice_key_valid(device) if use_local else None
        padded = not bool(global_valid.all()) or (
            slice_valid is not None and not bool(slice_valid.all()))
        if global_bias is None and local_bias is None and not padded:
            return None
        ref = global_bias if global_bias is not None else local_bias
        dtype = ref.dtype if ref is not None else features.cls_token.dtype
        parts = []
        if self.attend_cls_key:
            parts.append(torch.zeros(1, device=device, dtype=dtype))
        parts.append(_masked(global_bias, global_valid, dtype))
        if use_local:
            positions = layout.slice_key_positions(device)
            gathered = (local_bias[..., positions]
                        if local_bias is not None else None)
            parts.append(_masked(gathered, slice_valid, dtype))
        shape = torch.broadcast_shapes((1, 1, 1),
                                       *(part.shape[:-1] for part in parts))
        return torch.cat([part.expand(*shape, -1) for part in parts], dim=-1)

    def forward(self,
                features: MultiResFeatures,
                text_embeds: Tensor,
                global_bias: Optional[Tensor] = None,
                local_bias: Optional[Tensor] = None) -> Tensor:
        """Class logits of every query.

        Args:
            text_embeds: (K, proj_dims) normalized class embeddings.

        Returns:
            (B, N, K + 1) logits; the last class is "no object".
        """
        embeds = self.embed(features, global_bias, local_bias)
        no_object = F.normalize(self.no_object_embed, dim=-1)
        classes = torch.cat([text_embeds.to(embeds.dtype),
                             no_object.to(embeds.dtype)])
        scale = features.clip_tail.logit_scale.to(embeds.dtype)
        return scale * embeds @ classes.t()  # (B, N, K + 1)


def _masked(bias: Optional[Tensor], valid: Tensor, dtype) -> Tensor:
    """``bias`` (..., T) with -inf where not ``valid``; (T, ) if bias is
    None."""
    if bias is None:
        bias = torch.zeros(valid.shape, device=valid.device, dtype=dtype)
    return bias.masked_fill(~valid, float('-inf'))
