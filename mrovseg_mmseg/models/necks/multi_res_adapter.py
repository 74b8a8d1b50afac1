"""Multi-Res Adapter, MROVSeg Sec. 3.4 and Eq. 3."""
from dataclasses import dataclass, field
from typing import List, Optional, Sequence

import torch
import torch.nn as nn
import torch.nn.functional as F
from mmengine.model import BaseModule
from mmpretrain.models.backbones.vision_transformer import \
    TransformerEncoderLayer
from mmseg.registry import MODELS
from torch import Tensor
from torch.utils.checkpoint import checkpoint

from ..utils.multi_res_features import MultiResFeatures
from .multi_res_fusion import MultiResFusion


class MLP(nn.Sequential):
    """Linear layers with GELU in between."""

    def __init__(self, in_dims: int, hidden_dims: int, out_dims: int,
                 num_layers: int):
        dims = [in_dims] + [hidden_dims] * (num_layers - 1) + [out_dims]
        layers = []
        for index, (a, b) in enumerate(zip(dims, dims[1:])):
            layers.append(nn.Linear(a, b))
            if index < num_layers - 1:
                layers.append(nn.GELU())
        super().__init__(*layers)


def encoder_layer_with_bias(layer: TransformerEncoderLayer, x: Tensor,
                            attn_bias: Optional[Tensor]) -> Tensor:
    """mmpretrain's ``TransformerEncoderLayer`` with an additive attention
    bias (B or 1, 1, 1, T) on its keys; ``layer(x)`` when it is None."""
    if attn_bias is None:
        return layer(x)
    attn = layer.attn
    batch, length, channels = x.shape
    # (B, T, 3C) -> (B, T, 3, heads, d) -> (3, B, heads, T, d)
    qkv = attn.qkv(layer.ln1(x)).reshape(batch, length, 3, attn.num_heads,
                                         attn.head_dims).permute(2, 0, 3, 1, 4)
    dropout = attn.attn_drop if attn.training else 0.
    out = F.scaled_dot_product_attention(qkv[0], qkv[1], qkv[2],
                                         attn_mask=attn_bias.to(x.dtype),
                                         dropout_p=dropout)
    # (B, heads, T, d) -> (B, T, C)
    out = out.transpose(1, 2).reshape(batch, length, channels)
    x = x + attn.out_drop(attn.gamma1(attn.proj_drop(attn.proj(out))))
    return layer.ffn(layer.ln2(x), identity=x)


@dataclass
class AdapterStage:
    """Adapter state after one supervised block.

    Attributes:
        visual: (B, D, H', W') visual map H (slice grid, or the global grid
            without slices).
        queries: (B, N, D) query features Q_f = MLP_Q(Q).
    """
    visual: Tensor
    queries: Tensor


@dataclass
class AdapterOutput:
    """Final adapter output plus the fused maps and deep-supervision stages."""
    final: AdapterStage
    fused_maps: dict
    intermediate: List[AdapterStage] = field(default_factory=list)
    intermediate_blocks: List[int] = field(default_factory=list)


@MODELS.register_module()
class MultiResAdapter(BaseModule):
    """N learnable queries + stem slice tokens through vanilla ViT blocks.

    Before block j the MRF output of CLIP layer ``fusion_layers[j]`` is added to
    the visual tokens. The final visual tokens are restored to the map H and
    the queries projected to Q_f = MLP_Q(Q). With a backbone that returns no
    slices (p = 0) the adapter runs on the global tokens: the single-resolution
    ablation of Table 2.

    Args:
        in_channels: CLIP width C.
        embed_dims: adapter width D (Table 4e).
        num_heads: heads of the adapter blocks.
        num_blocks: ViT blocks (Table 4c).
        num_queries: N (Table 4f).
        fusion_layers: CLIP layers fused, in block order (Table 4d); each must
            be returned by the backbone. Layer 0 (stem) also provides the
            input tokens and must always be returned by the backbone.
        spatial_fusion, scale_fusion: MRF variants (Table 4a, 4b).
        deep_supervision_blocks: 0-based blocks after which an intermediate
            stage is returned for deep supervision (the last block is always
            the final stage).
        mlp_ratio: FFN width / D.
        attend_padding: let the blocks attend to visual tokens that show no
            image (padding of the slice canvas or of the global view). Off
            by default: training and testing both cut the data
            preprocessor's padding off (``MROVSeg.loss`` and ``predict``),
            so the padding left is that of the grids, masked alike in both,
            and a prediction does not depend on how much of it there is.
        with_cp: recompute each block in the backward pass instead of storing
            its activations (``torch.utils.checkpoint``) while training.
            Off by default: it trades about one extra forward pass of the
            blocks for their activation memory, which only pays when that
            memory is the limit (large inputs or ViT-L on small GPUs); see
            the README's performance section for measured figures.
    """

    def __init__(self,
                 *,
                 in_channels: int = 768,
                 embed_dims: int = 768,
                 num_heads: int = 12,
                 num_blocks: int = 6,
                 num_queries: int = 100,
                 fusion_layers: Sequence[int] = (0, 3, 6, 9, 12),
                 spatial_fusion: str = 'dwconv',
                 scale_fusion: str = 'scale_attn',
                 deep_supervision_blocks: Sequence[int] = (),
                 mlp_ratio: float = 4.0,
                 attend_padding: bool = False,
                 with_cp: bool = False,
                 init_cfg: Optional[dict] = None):
        super().__init__(init_cfg=init_cfg)
        if num_queries < 1:
            raise ValueError(f'num_queries={num_queries} must be >= 1.')
        if num_blocks < 1:
            raise ValueError(f'num_blocks={num_blocks} must be >= 1.')
        if len(fusion_layers) > num_blocks:
            raise ValueError(
                f'fusion_layers={tuple(fusion_layers)} has more layers than '
                f'the adapter has blocks (num_blocks={num_blocks}).')
        if embed_dims % num_heads:
            raise ValueError(f'embed_dims={embed_dims} is not divisible by '
                             f'num_heads={num_heads}.')
        bad = [b for b in deep_supervision_blocks
               if not 0 <= b < num_blocks - 1]
        if bad:
            raise ValueError(
                f'deep_supervision_blocks={tuple(deep_supervision_blocks)}: '
                f'each must lie in [0, {num_blocks - 2}] (the last block is '
                'the final output).')
        self.fusion_layers = tuple(fusion_layers)
        self.num_queries = num_queries
        self.embed_dims = embed_dims
        self.with_cp = with_cp
        self.attend_padding = attend_padding
        self.deep_supervision_blocks = tuple(sorted(deep_supervision_blocks))
        self.input_proj = nn.Linear(in_channels, embed_dims)
        self.queries = nn.Parameter(torch.zeros(num_queries, embed_dims))
        nn.init.trunc_normal_(self.queries, std=0.02)
        self.fusions = nn.ModuleList(
            MultiResFusion(in_channels=in_channels, channels=embed_dims,
                           spatial_fusion=spatial_fusion,
                           scale_fusion=scale_fusion)
            for _ in self.fusion_layers)
        self.blocks = nn.ModuleList(
            TransformerEncoderLayer(
                embed_dims=embed_dims, num_heads=num_heads,
                feedforward_channels=int(embed_dims * mlp_ratio))
            for _ in range(num_blocks))
        for block in self.blocks:
            if block.attn.v_shortcut:
                raise ValueError('adapter blocks with v_shortcut are not '
                                 'supported.')
        self.norm = nn.LayerNorm(embed_dims)
        self.query_mlp = MLP(embed_dims, embed_dims, embed_dims, 3)

    def _layer_maps(self, features: MultiResFeatures, layer: int):
        if layer not in features.fusion_layers:
            raise ValueError(
                f'the adapter needs CLIP layer {layer} but the backbone '
                f'returns only layers {features.fusion_layers}; add it to the '
                "backbone's fusion_layers.")
        index = features.fusion_layers.index(layer)
        slice_map = features.slice_maps[index] if features.slice_maps else None
        return slice_map, features.global_maps[index]

    def _stage(self, x: Tensor, grid) -> AdapterStage:
        batch = x.shape[0]
        x = self.norm(x)
        queries, visual = x[:, :self.num_queries], x[:, self.num_queries:]
        # (B, H'W', D) -> (B, D, H', W')
        visual = visual.transpose(1, 2).reshape(batch, -1, *grid)
        return AdapterStage(visual=visual, queries=self.query_mlp(queries))

    def _padding_bias(self, features: MultiResFeatures,
                      tokens: Tensor) -> Optional[Tensor]:
        """(1, 1, 1, N + H'W') key bias, -inf on padding tokens; None if the
        image fills the grid or padding is attended."""
        if self.attend_padding:
            return None
        valid = features.layout.visual_valid_mask(tokens.device)
        if bool(valid.all()):
            return None
        keep = torch.cat([valid.new_ones(self.num_queries), valid])
        bias = torch.zeros(keep.shape, device=tokens.device,
                           dtype=tokens.dtype)
        return bias.masked_fill(~keep, float('-inf')).view(1, 1, 1, -1)

    def forward(self, features: MultiResFeatures) -> AdapterOutput:
        stem_slice, stem_global = self._layer_maps(features, 0)
        stem = stem_slice if stem_slice is not None else stem_global
        batch, _, *grid = stem.shape
        # (B, C, H', W') -> (B, H'W', C) -> (B, H'W', D)
        tokens = self.input_proj(stem.flatten(2).transpose(1, 2))
        queries = self.queries.to(tokens.dtype).expand(batch, -1, -1)
        x = torch.cat([queries, tokens], dim=1)
        attn_bias = self._padding_bias(features, tokens)
        fused_maps = {}
        output = AdapterOutput(final=None, fused_maps=fused_maps)
        for index, block in enumerate(self.blocks):
            if index < len(self.fusion_layers):
                layer = self.fusion_layers[index]
                fused = self.fusions[index](*self._layer_maps(features, layer),
                                            features.layout)
                fused_maps[layer] = fused
                # (B, D, H', W') -> (B, H'W', D), added to the visual tokens
                visual = x[:, self.num_queries:] + fused.flatten(2).transpose(
                    1, 2)
                x = torch.cat([x[:, :self.num_queries], visual], dim=1)
            if self.with_cp and self.training and x.requires_grad:
                x = checkpoint(encoder_layer_with_bias, block, x, attn_bias,
                               use_reentrant=False)
            else:
                x = encoder_layer_with_bias(block, x, attn_bias)
            if index in self.deep_supervision_blocks:
                output.intermediate.append(self._stage(x, grid))
                output.intermediate_blocks.append(index)
        output.final = self._stage(x, grid)
        return output
