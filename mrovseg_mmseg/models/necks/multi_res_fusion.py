"""Multi-Res Fusion (MRF) module, MROVSeg Sec. 3.4, Eq. 2."""
from typing import Optional

import torch
import torch.nn as nn
from mmengine.model import BaseModule
from torch import Tensor

from ..utils.multi_res_features import MultiResLayout

SPATIAL_FUSIONS = ('dwconv', 'concat')
SCALE_FUSIONS = ('scale_attn', 'add', 'concat')


class MultiResFusion(BaseModule):
    """Fuse one CLIP layer's slice map with its global map.

    ``F = Up(a) * DConv(H) + Up((1 - a) * H_bar)``, ``a = sigmoid(f_A(H))``.

    Reading of Eq. 2: ``a`` is predicted at the global grid from the slice map
    max-pooled onto it, and ``Up`` brings both terms to the slice grid
    (stride 16 at 640 input), so F lives on the slice grid, the grid of the
    adapter's visual tokens. This is the only reading in which both ``Up``
    operators of Eq. 2 are needed.

    Args:
        in_channels: CLIP width.
        channels: adapter width D.
        spatial_fusion: 'dwconv' (depthwise-separable 3x3 conv on the restored
            slice map, paper default) or 'concat' (restored map as is, 1x1
            projection only); Table 4a.
        scale_fusion: 'scale_attn' (Eq. 2), 'add' (DConv(H) + Up(H_bar)) or
            'concat' (1x1 conv over both); Table 4b.
    """

    def __init__(self,
                 *,
                 in_channels: int,
                 channels: int,
                 spatial_fusion: str = 'dwconv',
                 scale_fusion: str = 'scale_attn',
                 init_cfg: Optional[dict] = None):
        super().__init__(init_cfg=init_cfg)
        if spatial_fusion not in SPATIAL_FUSIONS:
            raise ValueError(f'spatial_fusion={spatial_fusion!r}: choose one '
                             f'of {SPATIAL_FUSIONS}.')
        if scale_fusion not in SCALE_FUSIONS:
            raise ValueError(f'scale_fusion={scale_fusion!r}: choose one of '
                             f'{SCALE_FUSIONS}.')
        self.scale_fusion = scale_fusion
        if spatial_fusion == 'dwconv':
            self.spatial = nn.Sequential(
                nn.Conv2d(in_channels, in_channels, 3, padding=1,
                          groups=in_channels),
                nn.Conv2d(in_channels, channels, 1))
        else:
            self.spatial = nn.Conv2d(in_channels, channels, 1)
        self.global_proj = nn.Conv2d(in_channels, channels, 1)
        if scale_fusion == 'scale_attn':
            self.scale_attn = nn.Sequential(
                nn.Conv2d(in_channels, channels, 1), nn.GELU(),
                nn.Conv2d(channels, channels, 1))
        elif scale_fusion == 'concat':
            self.merge = nn.Conv2d(2 * channels, channels, 1)

    def forward(self, slice_map: Optional[Tensor], global_map: Tensor,
                layout: MultiResLayout) -> Tensor:
        """Fused map F.

        Args:
            slice_map: (B, C, H', W') slice tokens on the slice canvas, or
                None when there are no slices (then F is the projected global
                map).
            global_map: (B, C, h, w) global-view tokens.

        Returns:
            (B, D, H', W'), or (B, D, h, w) without slices.
        """
        global_feat = self.global_proj(global_map)
        if slice_map is None:
            return global_feat
        # the 3x3 conv sees zeros past the image, as at a training crop's edge
        local = self.spatial(layout.zero_padding(slice_map))
        if self.scale_fusion == 'scale_attn':
            # a_l at the global grid from H_l pooled onto it, (B, D, h, w)
            attn = torch.sigmoid(
                self.scale_attn(layout.slice_to_global(slice_map)))
            return (layout.global_to_slice(attn) * local +
                    layout.global_to_slice((1 - attn) * global_feat))
        upsampled = layout.global_to_slice(global_feat)
        if self.scale_fusion == 'add':
            return local + upsampled
        return self.merge(torch.cat([local, upsampled], dim=1))
