"""What the multi-resolution CLIP backbone hands to the adapter and the head."""
import math
from dataclasses import dataclass, field
from typing import List, Optional, Sequence, Tuple

import torch
import torch.nn as nn
import torch.nn.functional as F
from torch import Tensor

from .resampling import resize_region


@dataclass(frozen=True)
class MultiResLayout:
    """Where the token grids of the global view and of the slices lie.

    Positions are in pixels of the (B, 3, H, W) input. Both grids start at the
    image's top-left corner and may reach past it: the global view is padded
    to a square and the slice canvas to whole windows. Tokens that show no
    image pixel are padding; every map on either grid is cropped to the image
    (:meth:`image_region`) before it is resized to it.

    Attributes:
        image_size: (H, W) input pixels.
        token_grid: (h, w) tokens of the global view.
        global_token_pixels: (y, x) input pixels per global token.
        slice_grid: (H', W') tokens of the slice canvas the slices' maps are
            restored to; (0, 0) without slices.
        slice_token_pixels: (y, x) input pixels per slice token.
        slice_token_grid: (t, t) tokens of one slice.
        slice_offsets: token offsets of the slice rows and of the slice
            columns on the slice canvas; overlapping slices overlap there.
    """
    image_size: Tuple[int, int]
    token_grid: Tuple[int, int]
    global_token_pixels: Tuple[float, float]
    slice_grid: Tuple[int, int] = (0, 0)
    slice_token_pixels: Tuple[float, float] = (0.0, 0.0)
    slice_token_grid: Tuple[int, int] = (0, 0)
    slice_offsets: Tuple[Tuple[int, ...], Tuple[int, ...]] = ((), ())

    @property
    def has_slices(self) -> bool:
        return self.slice_grid[0] > 0

    @property
    def num_slices(self) -> int:
        return len(self.slice_offsets[0]) * len(self.slice_offsets[1])

    @property
    def global_valid(self) -> Tuple[int, int]:
        """(h, w) global tokens that show some of the image."""
        return _valid(self.image_size, self.global_token_pixels,
                      self.token_grid)

    @property
    def slice_valid(self) -> Tuple[int, int]:
        """(H', W') slice-canvas tokens that show some of the image."""
        return _valid(self.image_size, self.slice_token_pixels,
                      self.slice_grid)

    @property
    def visual_grid(self) -> Tuple[int, int]:
        """Grid of the adapter's visual tokens and of the masks: the slice
        canvas, or the global grid without slices."""
        return self.slice_grid if self.has_slices else self.token_grid

    @property
    def visual_valid(self) -> Tuple[int, int]:
        return self.slice_valid if self.has_slices else self.global_valid

    def image_region(self, map_size: Tuple[int, int]) -> Tuple[float, float]:
        """(rows, cols) of a map over the visual grid that show the image.

        Args:
            map_size: (h, w) of a map covering :attr:`visual_grid` (any
                stride, e.g. the stride-4 mask logits).
        """
        pixels = (self.slice_token_pixels
                  if self.has_slices else self.global_token_pixels)
        return tuple(image * size / (grid * pixel)
                     for image, size, grid, pixel in zip(
                         self.image_size, map_size, self.visual_grid, pixels))

    def global_to_slice(self, x: Tensor) -> Tensor:
        """Bilinearly resample a global map (B, C, h, w) onto the slice
        canvas, (B, C, H', W'); each slice token gets the global map at its
        own image position. Only global tokens that show the image are read
        (the last one is repeated past it)."""
        gh, gw = self.global_valid
        region = tuple(grid * pixel / global_pixel
                       for grid, pixel, global_pixel in zip(
                           self.slice_grid, self.slice_token_pixels,
                           self.global_token_pixels))
        return resize_region(x[..., :gh, :gw], region, self.slice_grid)

    def slice_to_global(self, x: Tensor) -> Tensor:
        """Max-pool a slice-canvas map (B, C, H', W') onto the global grid.

        Each global token that shows the image takes the maximum of the
        slice tokens over the same image area (adaptive max pooling of the
        slice tokens under the valid global tokens); slice tokens that show
        no image never count. Global padding tokens are 0.
        """
        gh, gw = self.global_valid
        rows, cols = (
            min(size, max(1, math.ceil(valid * global_pixel / pixel - 1e-6)))
            for valid, global_pixel, pixel, size in zip(
                (gh, gw), self.global_token_pixels, self.slice_token_pixels,
                self.slice_grid))
        x = x[..., :rows, :cols]
        valid_rows, valid_cols = self.slice_valid
        if valid_rows < rows or valid_cols < cols:
            x = x.clone()
            x[..., valid_rows:, :] = float('-inf')
            x[..., :, valid_cols:] = float('-inf')
        x = F.adaptive_max_pool2d(x, (gh, gw))
        if valid_rows < rows or valid_cols < cols:
            # a global token over padding only
            x = x.masked_fill(torch.isinf(x), 0)
        return F.pad(x, (0, self.token_grid[1] - gw, 0,
                         self.token_grid[0] - gh))

    def zero_padding(self, x: Tensor) -> Tensor:
        """A map (B, C, H', W') over :attr:`visual_grid` with its padding
        tokens set to 0."""
        rows, cols = self.visual_valid
        if (rows, cols) == tuple(x.shape[-2:]):
            return x
        x = x.clone()
        x[..., rows:, :] = 0
        x[..., :, cols:] = 0
        return x

    def global_key_valid(self, device=None) -> Tensor:
        """(h*w, ) bool: global tokens that show the image, row-major."""
        return _valid_mask(self.token_grid, self.global_valid, device)

    def visual_valid_mask(self, device=None) -> Tensor:
        """(H'*W', ) bool over :attr:`visual_grid`, row-major."""
        return _valid_mask(self.visual_grid, self.visual_valid, device)

    def slice_key_positions(self, device=None) -> Tensor:
        """(S*t*t, ) slice-canvas index (row-major) of every slice token.

        Slice tokens are ordered slice by slice (row-major slices), then
        row-major within a slice, the order of the classifier's
        high-resolution keys.
        """
        tokens = self.slice_token_grid[0]
        local = torch.arange(tokens, device=device)
        rows = torch.tensor(self.slice_offsets[0], device=device)[:, None] + \
            local  # (m, t)
        cols = torch.tensor(self.slice_offsets[1], device=device)[:, None] + \
            local  # (n, t)
        # (m, 1, t, 1) * W' + (1, n, 1, t) -> (m, n, t, t) -> (S*t*t, )
        index = rows[:, None, :, None] * self.slice_grid[1] + \
            cols[None, :, None, :]
        return index.reshape(-1)

    def slice_key_valid(self, device=None) -> Tensor:
        """(S*t*t, ) bool: slice tokens that show the image, key order."""
        valid = _valid_mask(self.slice_grid, self.slice_valid, device)
        return valid[self.slice_key_positions(device)]


def _valid(image_size: Tuple[int, int], pixels: Tuple[float, float],
           grid: Tuple[int, int]) -> Tuple[int, int]:
    return tuple(
        min(size, max(1, math.ceil(image / pixel - 1e-6)))
        for image, pixel, size in zip(image_size, pixels, grid))


def _valid_mask(grid: Tuple[int, int], valid: Tuple[int, int],
                device) -> Tensor:
    rows = torch.arange(grid[0], device=device) < valid[0]
    cols = torch.arange(grid[1], device=device) < valid[1]
    return (rows[:, None] & cols[None, :]).reshape(-1)  # (h, w) -> (h*w, )


@dataclass
class MultiResFeatures:
    """Frozen CLIP features of the global view and the slices.

    Attributes:
        global_maps: per fusion layer, (B, C, h, w) global-view tokens.
        slice_maps: per fusion layer, (B, C, H', W') slice tokens restored
            to the slice canvas (overlaps averaged); empty without slices.
        fusion_layers: the CLIP layer of each map (0 = stem, l = output of
            block l).
        layout: how the grids cover the image.
        cls_token: (B, C) global-view [CLS] token at the input of the
            classifier's first CLIP block; None if no classifier is fed.
        classifier_kv: per classifier block, its keys and values, each
            (B, heads, T, d) with T = 1 + h*w global tokens ([CLS] first)
            followed by the S*t*t slice tokens in slice order
            (:meth:`MultiResLayout.slice_key_positions` places them).
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
