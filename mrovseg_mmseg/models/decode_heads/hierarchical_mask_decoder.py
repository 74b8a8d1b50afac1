"""Hierarchical mask decoding, MROVSeg Sec. 3.5, Eq. 4-5."""
from typing import Dict, Optional, Sequence

import torch
import torch.nn as nn
import torch.nn.functional as F
from mmengine.model import BaseModule
from torch import Tensor


def pixel_mlp(in_channels: int, channels: int) -> nn.Sequential:
    """Per-pixel two-layer MLP on channels-last maps (B, H, W, C)."""
    return nn.Sequential(
        nn.Linear(in_channels, channels), nn.GELU(),
        nn.Linear(channels, channels))


class UpsampleBlock(nn.Module):
    """2x transposed convolution (kernel 2, stride 2), LayerNorm, GELU.

    The transposed convolution maps every input pixel to its 2x2 output
    pixels independently, so it is computed as one matrix product on
    channels-last maps followed by a pixel shuffle.
    """

    def __init__(self, in_channels: int, channels: int):
        super().__init__()
        self.proj = nn.Linear(in_channels, 4 * channels)
        self.norm = nn.LayerNorm(channels)
        self.act = nn.GELU()

    def forward(self, x: Tensor) -> Tensor:
        """(B, H, W, C) -> (B, 2H, 2W, C')."""
        batch, height, width, _ = x.shape
        # (B, H, W, 4C') -> (B, H, W, 2, 2, C') -> (B, H, 2, W, 2, C')
        x = self.proj(x).view(batch, height, width, 2, 2, -1)
        x = x.permute(0, 1, 3, 2, 4, 5).reshape(batch, 2 * height, 2 * width,
                                                 -1)
        return self.act(self.norm(x))


class HierarchicalMaskDecoder(BaseModule):
    """Masks from the visual map H, refined with the adapter's fused maps.

    With ``hierarchical=True`` (default)::

        X = cat(H, F_a)                        # slice grid, stride 16 at 640
        X = TConv(X); X = cat(X, L_b(F_b))     # stride 8
        X = TConv(X); X = cat(X, L_c(F_c))     # stride 4
        H_pix = MLP_pix(X); masks = Q_f . H_pix

    F_a, F_b, F_c are the fused maps of ``decoder_layers``. They live on the
    slice grid (see :class:`MultiResFusion`), so they are upsampled by 1x, 2x
    and 4x; with Sec. 3.5's global-grid reading the factors would be 2x, 4x,
    8x and the decoder would have the same shape. The default pairs the
    coarsest stage with the deepest of the three layers, as in an FPN. The
    paper leaves the decoder's channel widths open: the transposed
    convolutions narrow the features to ``stage_channels`` and the lateral
    1x1 convolutions ``L`` bring F_b, F_c to the same width before they are
    upsampled, so the stride-4 stage does not carry D-channel maps.
    ``hierarchical=False`` is the Table 2 ablation: ``H_pix = MLP_pix(H)`` at
    stride 16.

    Args:
        embed_dims: adapter width D (also the width of H_pix and Q_f).
        decoder_layers: CLIP layers whose fused maps join the decoder, one per
            stage (stride 16, 8, 4), or fewer.
        stage_channels: output widths of the two transposed convolutions;
            default (D / 2, D / 4).
        hierarchical: use the fused maps and the transposed convolutions.
    """

    def __init__(self,
                 *,
                 embed_dims: int = 768,
                 decoder_layers: Sequence[int] = (9, 6, 3),
                 stage_channels: Optional[Sequence[int]] = None,
                 hierarchical: bool = True,
                 init_cfg: Optional[dict] = None):
        super().__init__(init_cfg=init_cfg)
        if hierarchical and not 1 <= len(decoder_layers) <= 3:
            raise ValueError(f'decoder_layers={tuple(decoder_layers)}: give '
                             'one to three fused layers (strides 16, 8, 4).')
        if stage_channels is None:
            stage_channels = (embed_dims // 2, embed_dims // 4)
        if len(stage_channels) != 2:
            raise ValueError(f'stage_channels={tuple(stage_channels)}: give '
                             'the widths of the two upsampling stages.')
        self.hierarchical = hierarchical
        self.decoder_layers = tuple(decoder_layers) if hierarchical else ()
        joins = len(self.decoder_layers)
        if not hierarchical:
            self.upsamples = nn.ModuleList()
            self.laterals = nn.ModuleList()
            self.pixel_mlp = pixel_mlp(embed_dims, embed_dims)
            return
        widths = [embed_dims] + list(stage_channels)
        self.laterals = nn.ModuleList(
            nn.Linear(embed_dims, widths[stage]) for stage in range(1, joins))
        self.upsamples = nn.ModuleList()
        for stage in range(2):
            in_channels = widths[stage] * (2 if stage < joins else 1)
            self.upsamples.append(
                UpsampleBlock(in_channels, widths[stage + 1]))
        out_channels = widths[2] * (2 if joins == 3 else 1)
        self.pixel_mlp = pixel_mlp(out_channels, embed_dims)

    def _fused(self, fused_maps: Dict[int, Tensor], stage: int,
               size) -> Tensor:
        """Fused map of a stage, channels-last at ``size``: (B, h, w, C)."""
        layer = self.decoder_layers[stage]
        if layer not in fused_maps:
            raise ValueError(
                f'decoder_layers uses CLIP layer {layer}, which the adapter '
                f'does not fuse (its fusion_layers are {tuple(fused_maps)}).')
        fused = fused_maps[layer].permute(0, 2, 3, 1)  # (B, C, h, w) -> NHWC
        if stage > 0:
            fused = self.laterals[stage - 1](fused)
        if fused.shape[1:3] != tuple(size):
            # NHWC -> NCHW view (channels-last strides) -> resize -> NHWC
            fused = F.interpolate(
                fused.permute(0, 3, 1, 2), size=tuple(size), mode='bilinear',
                align_corners=False).permute(0, 2, 3, 1)
        return fused

    def pixel_features(self, visual: Tensor,
                       fused_maps: Dict[int, Tensor]) -> Tensor:
        """H_pix, channels-last: (B, 4H', 4W', D) hierarchical, else
        (B, H', W', D)."""
        x = visual.permute(0, 2, 3, 1)  # (B, D, H', W') -> (B, H', W', D)
        if self.hierarchical:
            for stage in range(3):
                if stage < len(self.decoder_layers):
                    fused = self._fused(fused_maps, stage, x.shape[1:3])
                    x = torch.cat([x, fused.to(x.dtype)], dim=-1)
                if stage < 2:
                    x = self.upsamples[stage](x)
        return self.pixel_mlp(x)

    def forward(self, visual: Tensor, fused_maps: Dict[int, Tensor],
                queries: Tensor) -> Tensor:
        """Mask logits (B, N, H'', W'') from H (B, D, H', W'), Q_f (B, N, D)."""
        pixels = self.pixel_features(visual, fused_maps)
        return torch.einsum('bnc,bhwc->bnhw', queries, pixels)
