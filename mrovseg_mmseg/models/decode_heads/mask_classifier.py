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
    cross-attend to that block's low-resolution (global view, [CLS] included)
    and high-resolution (slice) tokens with a per-head additive bias
    ``[M_global; M_local]``; the [CLS] key always gets bias 0. The result goes
    through ``ln_post`` and ``proj``, is L2-normalized, and is compared by
    cosine similarity, scaled by CLIP's logit scale, with the text embeddings
    and a learnable no-object embedding.

    Args:
        num_queries: N.
        embed_dims: CLIP ViT width.
        proj_dims: CLIP joint embedding size (text embedding size).
        use_local_tokens: attend to the slice tokens too (multi-grained
            attention); False = low-resolution tokens only (Table 2 ablation).
    """

    def __init__(self,
                 *,
                 num_queries: int = 100,
                 embed_dims: int = 768,
                 proj_dims: int = 512,
                 use_local_tokens: bool = True,
                 init_cfg: Optional[dict] = None):
        super().__init__(init_cfg=init_cfg)
        if num_queries < 1:
            raise ValueError(f'num_queries={num_queries} must be >= 1.')
        self.num_queries = num_queries
        self.use_local_tokens = use_local_tokens
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
            local_bias: (B, heads, N, m*h*n*w) bias on the slice tokens.

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
        num_global = features.num_global_keys
        use_local = self.use_local_tokens and features.layout.has_slices
        bias = self._join_bias(features, global_bias,
                               local_bias if use_local else None, use_local)
        # (B, C) -> (B, N, C)
        queries = features.cls_token.unsqueeze(1) + self.query_pos.to(
            features.cls_token.dtype)
        for block, (keys, values) in zip(tail.blocks, features.classifier_kv):
            if not use_local:
                keys, values = keys[:, :, :num_global], values[:, :, :num_global]
            queries = cross_attention_block(block, queries, keys, values, bias)
        embeds = tail.ln_post(queries) @ tail.proj
        return F.normalize(embeds, dim=-1)

    def _join_bias(self, features: MultiResFeatures,
                   global_bias: Optional[Tensor], local_bias: Optional[Tensor],
                   use_local: bool) -> Optional[Tensor]:
        """[0 for CLS; M_global; M_local] -> (B, heads, N, T), or None."""
        if global_bias is None and local_bias is None:
            return None
        batch = features.cls_token.shape[0]
        heads = features.classifier_kv[0][0].shape[1]
        shape = (batch, heads, self.num_queries)
        ref = global_bias if global_bias is not None else local_bias
        parts = [ref.new_zeros(*shape, 1)]
        grid_tokens = features.num_global_keys - 1
        parts.append(global_bias if global_bias is not None else ref.new_zeros(
            *shape, grid_tokens))
        if use_local:
            local_tokens = features.classifier_kv[0][0].shape[2] - \
                features.num_global_keys
            parts.append(local_bias if local_bias is not None else ref.
                         new_zeros(*shape, local_tokens))
        return torch.cat(parts, dim=-1)

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
