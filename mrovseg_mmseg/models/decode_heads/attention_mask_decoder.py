"""Decoupled attention-mask decoding, MROVSeg Sec. 3.6, Eq. 6-7."""
from typing import Optional, Tuple

import torch
import torch.nn as nn
from mmengine.model import BaseModule
from torch import Tensor

from ..utils.multi_res_features import MultiResLayout


def conv_mlp(in_channels: int, channels: int) -> nn.Sequential:
    """Per-pixel two-layer MLP as 1x1 convolutions on (B, C, H, W) maps."""
    return nn.Sequential(
        nn.Conv2d(in_channels, channels, 1), nn.GELU(),
        nn.Conv2d(channels, channels, 1))


class AttentionMaskDecoder(BaseModule):
    """Per-head attention biases for the classifier's queries.

    Decoupled (default, Eq. 6-7): ``H_bar = MaxPool(H)`` onto the global grid,
    ``A_local = MLP_L(H)``, ``A_global = MLP_G(H_bar)``, and per CLIP head
    ``M = Q_f x A^T``. Single (Fig. 7 ablation): one ``A = MLP(H)``; its
    max-pooled copy serves the global tokens.

    Args:
        embed_dims: adapter width D (channels of H and Q_f).
        num_heads: CLIP attention heads; masks are per head.
        head_dims: channels per head of the attention space; the queries are
            projected to ``num_heads * head_dims`` when that differs from D.
        decoupled: separate MLPs for local and global masks.
    """

    def __init__(self,
                 *,
                 embed_dims: int = 768,
                 num_heads: int = 12,
                 head_dims: Optional[int] = None,
                 decoupled: bool = True,
                 init_cfg: Optional[dict] = None):
        super().__init__(init_cfg=init_cfg)
        head_dims = head_dims or max(1, embed_dims // num_heads)
        attn_dims = num_heads * head_dims
        self.num_heads = num_heads
        self.decoupled = decoupled
        self.query_proj = (nn.Identity() if attn_dims == embed_dims else
                           nn.Linear(embed_dims, attn_dims))
        self.local_mlp = conv_mlp(embed_dims, attn_dims)
        self.global_mlp = conv_mlp(embed_dims, attn_dims) if decoupled \
            else None

    def _bias(self, queries: Tensor, attn_feats: Tensor) -> Tensor:
        """Q (B, N, heads, d) x A (B, heads*d, h, w) -> (B, heads, N, h*w)."""
        batch, channels = attn_feats.shape[:2]
        # (B, heads*d, h, w) -> (B, heads, d, h*w)
        attn_feats = attn_feats.reshape(batch, self.num_heads,
                                        channels // self.num_heads, -1)
        return torch.einsum('bnhc,bhct->bhnt', queries, attn_feats)

    def forward(self, visual: Tensor, queries: Tensor,
                layout: MultiResLayout) -> Tuple[Tensor, Optional[Tensor]]:
        """Global and local biases.

        Args:
            visual: H, (B, D, m*h, n*w); on the global grid (B, D, h, w) when
                the backbone has no slices.
            queries: Q_f, (B, N, D).

        Returns:
            ``global_bias`` (B, heads, N, h*w) and ``local_bias``
            (B, heads, N, m*h*n*w), the latter None without slices.
        """
        batch, num_queries = queries.shape[:2]
        # (B, N, heads*d) -> (B, N, heads, d)
        attn_queries = self.query_proj(queries).reshape(
            batch, num_queries, self.num_heads, -1)
        if not layout.has_slices:
            mlp = self.global_mlp if self.decoupled else self.local_mlp
            return self._bias(attn_queries, mlp(visual)), None
        local_feats = self.local_mlp(visual)
        if self.decoupled:
            global_feats = self.global_mlp(layout.slice_to_global(visual))
        else:
            global_feats = layout.slice_to_global(local_feats)
        return (self._bias(attn_queries, global_feats),
                self._bias(attn_queries, local_feats))
