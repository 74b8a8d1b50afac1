"""What the multi-resolution CLIP backbone hands to the adapter and the head."""
import math
from dataclasses import dataclass, field
from typing import List, Optional, Sequence, Tuple

import torch.nn as nn
import torch.nn.functional as F
from torch import Tensor


@dataclass
class MultiResLayout:
    """How the global token grid and the restored slice grid cover the image.

    Attributes:
        token_grid: (h, w) tokens of the global view.
        global_valid: (h, w) tokens of the global view that show the image
            (the rest is padding).
        slice_rows, slice_cols: the slice grid (m, n); 0 without slices.
        slice_valid: tokens of the restored (m*h', n*w') slice grid that
            show the image.
        slice_token_grid: (h', w') tokens of one slice.
    """
    token_grid: Tuple[int, int]
    global_valid: Tuple[int, int]
    slice_rows: int = 0
    slice_cols: int = 0
    slice_valid: Tuple[int, int] = (0, 0)
    slice_token_grid: Tuple[int, int] = (0, 0)

    @property
    def has_slices(self) -> bool:
        return self.slice_rows > 0

    @property
    def slice_grid(self) -> Tuple[int, int]:
        """(m*h', n*w') tokens of the restored slice grid."""
        return (self.slice_rows * self.slice_token_grid[0],
                self.slice_cols * self.slice_token_grid[1])

    def global_to_slice(self, x: Tensor, mode: str = 'bilinear') -> Tensor:
        """Resample a global map (B, C, h, w) onto the slice grid."""
        gh, gw = self.global_valid
        sh, sw = self.slice_valid
        x = x[..., :gh, :gw]
        if (gh, gw) != (sh, sw):
            kwargs = dict(align_corners=False) if mode == 'bilinear' else {}
            x = F.interpolate(x, size=(sh, sw), mode=mode, **kwargs)
        full_h, full_w = self.slice_grid
        return F.pad(x, (0, full_w - sw, 0, full_h - sh))

    def slice_to_global(self, x: Tensor) -> Tensor:
        """Max-pool a slice-grid map (B, C, m*h, n*w) onto the global grid."""
        gh, gw = self.global_valid
        sh, sw = self.slice_valid
        x = F.adaptive_max_pool2d(x[..., :sh, :sw], (gh, gw))
        return F.pad(x, (0, self.token_grid[1] - gw, 0,
                         self.token_grid[0] - gh))


def valid_tokens(pixels: int, pixels_per_token: float) -> int:
    return max(1, math.ceil(pixels / pixels_per_token - 1e-6))


@dataclass
class MultiResFeatures:
    """Frozen CLIP features of the global view and the slices.

    Attributes:
        global_maps: per fusion layer, (B, C, h, w) global-view tokens.
        slice_maps: per fusion layer, (B, C, m*h, n*w) slice tokens restored
            to their grid; empty when there are no slices.
        fusion_layers: the CLIP layer of each map (0 = stem, l = output of
            block l).
        layout: how the grids cover the image.
        cls_token: (B, C) global-view [CLS] token at the input of the
            classifier's first CLIP block; None if no classifier is fed.
        classifier_kv: per classifier block, its keys and values, each
            (B, heads, T, d) with T = 1 + h*w global tokens ([CLS] first)
            followed by the m*h*n*w slice tokens in restored-grid order.
        clip_tail: the frozen CLIP parts the classifier runs its queries
            through (blocks from the start block on, ``ln_post``, ``proj``,
            logit scale); not owned by the classifier, so never duplicated.
    """
    global_maps: List[Tensor]
    slice_maps: List[Tensor]
    fusion_layers: Tuple[int, ...]
    layout: MultiResLayout
    cls_token: Optional[Tensor] = None
    classifier_kv: List[Tuple[Tensor, Tensor]] = field(default_factory=list)
    clip_tail: Optional['CLIPTail'] = None

    @property
    def num_global_keys(self) -> int:
        """Keys of the global view in ``classifier_kv`` ([CLS] + h*w)."""
        return 1 + self.layout.token_grid[0] * self.layout.token_grid[1]


@dataclass
class CLIPTail:
    """Frozen end of the CLIP image tower used by the mask classifier."""
    blocks: Sequence[nn.Module]
    ln_post: nn.Module
    proj: Tensor
    logit_scale: Tensor
