"""Bilinear resampling of the part of a map that shows the image."""
import math
from typing import Tuple

import torch
import torch.nn.functional as F
from torch import Tensor


def resize_region(maps: Tensor, region: Tuple[float, float],
                  size: Tuple[int, int]) -> Tensor:
    """Bilinear resize of the top-left ``region`` of ``maps`` to ``size``.

    Output pixel (i, j) samples ``maps`` at ``((i + 0.5) * rows / H - 0.5,
    (j + 0.5) * cols / W - 0.5)``, the sampling of ``F.interpolate(...,
    align_corners=False)``, where ``(rows, cols) = region`` may be fractional
    and may reach past the map (its border is repeated there). This equals
    resizing ``maps`` to ``size * map_size / region`` and keeping the top-left
    ``size`` pixels, without forming the larger map: it is how a map that
    covers a padded canvas is brought onto the image it shows.

    Args:
        maps: (B, C, h, w).
        region: (rows, cols) of ``maps`` pixels the output covers.
        size: (H, W) of the output.

    Returns:
        (B, C, H, W).
    """
    rows, cols = (float(r) for r in region)
    if rows <= 0 or cols <= 0:
        raise ValueError(f'region={region} must be positive.')
    height, width = maps.shape[-2:]
    if (rows, cols) == (height, width):
        if (height, width) == tuple(size):
            return maps
        return F.interpolate(maps, size=tuple(size), mode='bilinear',
                             align_corners=False)
    need = []
    for extent, length, out in ((rows, height, size[0]),
                                (cols, width, size[1])):
        # the last output pixel reads source pixels up to ceil(extent)
        wanted = math.ceil(extent) + 1
        rows_needed = (length if math.ceil(extent) <= length < wanted else
                       wanted)
        # F.interpolate makes floor(rows * scale) outputs in float64, which
        # can fall one short of the exact product (11 * (60 / 11) =
        # 59.99...); one more repeated border row adds the missing output
        # and changes no sampled value
        while math.floor(rows_needed * (out / extent)) < out:
            rows_needed += 1
        need.append(rows_needed)
    pad_h, pad_w = max(0, need[0] - height), max(0, need[1] - width)
    if pad_h > height or pad_w > width:
        # the region reaches far past the map (an image much smaller than a
        # slice window): sample the rows and columns directly, instead of
        # forming a padded map of the region's size
        maps = _sample_axis(maps, -2, rows, size[0])
        return _sample_axis(maps, -1, cols, size[1])
    maps = maps[..., :need[0], :need[1]]
    if pad_h or pad_w:
        maps = F.pad(maps, (0, pad_w, 0, pad_h), mode='replicate')
    out = F.interpolate(maps, scale_factor=(size[0] / rows, size[1] / cols),
                        mode='bilinear', align_corners=False,
                        recompute_scale_factor=False)
    return out[..., :size[0], :size[1]]


def _sample_axis(maps: Tensor, dim: int, extent: float, out: int) -> Tensor:
    """Linear resampling along ``dim`` of the first ``extent`` pixels (the
    border repeated past the map) to ``out`` pixels, sampled as
    ``F.interpolate(..., align_corners=False)``."""
    length = maps.shape[dim]
    dst = torch.arange(out, dtype=torch.float64, device=maps.device)
    src = ((dst + 0.5) * (extent / out) - 0.5).clamp(min=0)
    first = src.floor().long().clamp(max=length - 1)
    second = (first + 1).clamp(max=length - 1)
    weight = (src - first).clamp(0, 1).to(maps.dtype)
    shape = [1] * maps.dim()
    shape[dim] = out
    return torch.lerp(maps.index_select(dim, first),
                      maps.index_select(dim, second), weight.view(shape))


def resize_bilinear(images: Tensor, size: Tuple[int, int],
                    antialias: bool) -> Tensor:
    """``F.interpolate(images, size, mode='bilinear', align_corners=False,
    antialias=antialias)`` for (B, C, H, W) images of any shape.

    torch's antialiased bilinear kernel mixes up the rows when the output is
    one pixel wide (a one-pixel-wide strip's global view); that case is
    resized transposed, where the kernel is right.
    """
    if antialias and size[1] == 1 and size[0] > 1:
        # (B, C, H, W) -> (B, C, W, H), resized, and back
        return F.interpolate(images.transpose(-2, -1), size=(1, size[0]),
                             mode='bilinear', align_corners=False,
                             antialias=True).transpose(-2, -1)
    return F.interpolate(images, size=tuple(size), mode='bilinear',
                         align_corners=False, antialias=antialias)
