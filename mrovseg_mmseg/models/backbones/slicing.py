"""Geometry of MROVSeg's views: one global view plus a grid of slices.

For crop ratio ``p`` and base (training) size ``s`` the nominal slice window
is ``w = round(p * s)`` pixels, the size at which slices enter CLIP.

- ``p <= 0.5``: non-overlapping windows tile the image. Each side gets the
  nearest whole number of windows, ``n = max(1, round(side / w))``, and the
  square window grows to ``max(w, ceil(side / n))`` over both sides, so it
  is never smaller than ``w`` (no made-up resolution) and at most 1.25 w when
  ``n >= 2``. The image is zero-padded to a whole number of windows (less
  than one window per side, usually far less). At a training crop of
  ``s x s`` this is exactly the ``1/p x 1/p`` grid at ``w``; a 2048 x 1024
  image at ``s = 640`` gets 6 x 3 windows of 342 px instead of 7 x 4 windows
  of 320 px around 40% padding.
- ``p > 0.5``: ``floor(side / w) + 1`` windows of ``w`` are spread evenly over
  each side, so that neighbours overlap (paper Table 3: 0.625, 0.75, 1.0).
  Their offsets are whole multiples of a slice token, so that the slices'
  token maps can be put back on one canvas at their true places; the last
  window may then reach up to one token past the image.
- ``p = 0``: the global view only.

Every window is resized to the CLIP input size of the slices, ``t`` tokens a
side; one slice token stands for ``window / t`` image pixels.
"""
import math
from dataclasses import dataclass
from typing import Optional, Tuple

import torch
import torch.nn.functional as F
from torch import Tensor

from ..utils.resampling import resize_bilinear


@dataclass(frozen=True)
class SliceGrid:
    """Windows over an image of ``image_size`` = (H, W) pixels.

    ``window`` is the side of the windows in image pixels and
    ``nominal_window`` the side ``round(p * s)`` they stand for (equal unless
    a non-overlapping grid was stretched to fit the image). ``offsets_y`` /
    ``offsets_x`` are the top-left corners in pixels; ``canvas`` is the
    zero-padded size the windows are cut from, (H', W') >= (H, W).
    ``tokens`` is the side of one slice in tokens and ``token_offsets_y`` /
    ``token_offsets_x`` the corners in tokens of the slice canvas.
    """
    image_size: Tuple[int, int]
    window: int
    nominal_window: int
    offsets_y: Tuple[int, ...]
    offsets_x: Tuple[int, ...]
    canvas: Tuple[int, int]
    tokens: int
    token_offsets_y: Tuple[int, ...]
    token_offsets_x: Tuple[int, ...]

    @property
    def rows(self) -> int:
        return len(self.offsets_y)

    @property
    def cols(self) -> int:
        return len(self.offsets_x)

    @property
    def num_slices(self) -> int:
        return self.rows * self.cols

    @property
    def token_pixels(self) -> float:
        """Image pixels per slice token."""
        return self.window / self.tokens

    @property
    def token_canvas(self) -> Tuple[int, int]:
        """(H', W') tokens of the canvas the slices' token maps restore to."""
        return (self.token_offsets_y[-1] + self.tokens,
                self.token_offsets_x[-1] + self.tokens)

    @property
    def overlapping(self) -> bool:
        return any(b - a < self.window for offsets in (self.offsets_y,
                                                        self.offsets_x)
                   for a, b in zip(offsets, offsets[1:]))


def _side_offsets(length: int, window: int, tokens: int,
                  overlap: bool) -> Tuple[Tuple[int, ...], Tuple[int, ...]]:
    """Window corners along one side, in pixels and in slice tokens."""
    if not overlap:
        count = max(1, math.ceil(length / window))
        return (tuple(i * window for i in range(count)),
                tuple(i * tokens for i in range(count)))
    if length <= window:
        return (0, ), (0, )
    # one window more than fit side by side, so neighbours always overlap;
    # corners on whole tokens, the last one at or just past length - window
    count = length // window + 1
    stride = window / tokens
    span = math.ceil((length - window) / stride - 1e-9)
    token_offsets = tuple(round(i * span / (count - 1)) for i in range(count))
    return tuple(round(k * stride) for k in token_offsets), token_offsets


def fitted_window(image_size: Tuple[int, int], window: int) -> int:
    """Side of non-overlapping windows for an image of (H, W) pixels.

    The nearest whole number of ``window``-pixel windows per side, the window
    enlarged (never shrunk) so that those counts cover the image.
    """
    counts = [max(1, math.floor(side / window + 0.5)) for side in image_size]
    return max([window] + [math.ceil(side / count)
                           for side, count in zip(image_size, counts)])


def check_slice_ratio(slice_ratio: float) -> None:
    if not 0 <= slice_ratio <= 1:
        raise ValueError(f'slice_ratio={slice_ratio} must lie in [0, 1] '
                         '(0 = global view only, 0.5 = paper default).')


def nominal_window(slice_ratio: float, base_size: int) -> int:
    """Side ``round(p * s)`` of the slice windows at the training size."""
    return max(1, round(slice_ratio * base_size))


def plan_slices(image_size: Tuple[int, int],
                *,
                slice_ratio: float,
                base_size: int,
                tokens: Optional[int] = None) -> Optional[SliceGrid]:
    """The slice windows for an image of (H, W) pixels; None when p = 0.

    Args:
        tokens: side of one slice in CLIP tokens; None = one token per
            window pixel (no alignment of overlapping windows).
    """
    check_slice_ratio(slice_ratio)
    if slice_ratio == 0:
        return None
    height, width = image_size
    nominal = nominal_window(slice_ratio, base_size)
    overlap = slice_ratio > 0.5
    window = nominal if overlap else fitted_window((height, width), nominal)
    tokens = window if tokens is None else tokens
    offsets_y, token_offsets_y = _side_offsets(height, window, tokens, overlap)
    offsets_x, token_offsets_x = _side_offsets(width, window, tokens, overlap)
    canvas = (max(height, offsets_y[-1] + window),
              max(width, offsets_x[-1] + window))
    return SliceGrid((height, width), window, nominal, offsets_y, offsets_x,
                     canvas, tokens, token_offsets_y, token_offsets_x)


def restore_slices(maps: Tensor, grid: SliceGrid, batch: int) -> Tensor:
    """Put the slices' maps back on the slice canvas at their offsets.

    Overlapping slices are averaged where they overlap.

    Args:
        maps: (B*S, C, t, t) per-slice maps, row-major slices per image.

    Returns:
        (B, C, H', W') with (H', W') = ``grid.token_canvas``.
    """
    channels, tokens = maps.shape[1], grid.tokens
    rows, cols = grid.rows, grid.cols
    if not grid.overlapping:
        # (B*S, C, t, t) -> (B, m, n, C, t, t) -> (B, C, m, t, n, t)
        x = maps.reshape(batch, rows, cols, channels, tokens, tokens)
        x = x.permute(0, 3, 1, 4, 2, 5)
        return x.reshape(batch, channels, rows * tokens, cols * tokens)
    # (B*S, C, t, t) -> (B, S, C, t, t)
    maps = maps.reshape(batch, rows * cols, channels, tokens, tokens)
    canvas = maps.new_zeros(batch, channels, *grid.token_canvas)
    count = maps.new_zeros(1, 1, *grid.token_canvas)
    index = 0
    for y in grid.token_offsets_y:
        for x in grid.token_offsets_x:
            canvas[..., y:y + tokens, x:x + tokens] += maps[:, index]
            count[..., y:y + tokens, x:x + tokens] += 1
            index += 1
    return canvas / count


def cut_slices(images: Tensor, grid: SliceGrid, out_size: int) -> Tensor:
    """Cut the windows of ``grid`` from a batch and resize them.

    Args:
        images: (B, 3, H, W), normalized.
        out_size: side of the CLIP input.

    Returns:
        (B * S, 3, out_size, out_size), slices in row-major order per image.
    """
    batch, channels, height, width = images.shape
    pad_h, pad_w = grid.canvas[0] - height, grid.canvas[1] - width
    if pad_h or pad_w:
        images = F.pad(images, (0, pad_w, 0, pad_h))
    win = grid.window
    if not grid.overlapping:
        # (B, 3, m*win, n*win) -> (B, m, n, 3, win, win) -> (B*S, 3, win, win)
        rows, cols = grid.rows, grid.cols
        slices = images[:, :, :rows * win, :cols * win].reshape(
            batch, channels, rows, win, cols, win).permute(0, 2, 4, 1, 3, 5)
        slices = slices.reshape(batch * rows * cols, channels, win, win)
    else:
        crops = [images[:, :, y:y + win, x:x + win]
                 for y in grid.offsets_y for x in grid.offsets_x]
        # S x (B, 3, win, win) -> (B, S, 3, win, win) -> (B*S, 3, win, win)
        slices = torch.stack(crops, dim=1).flatten(0, 1)
    if win != out_size:
        slices = F.interpolate(slices, size=(out_size, out_size),
                               mode='bilinear', align_corners=False,
                               antialias=win > out_size)
    return slices


def global_view(images: Tensor, out_size: int) -> Tuple[Tensor, Tuple[int,
                                                                      int]]:
    """Resize a batch (aspect kept) so its longer side is ``out_size``, pad.

    Returns:
        The (B, 3, out_size, out_size) view and the (h, w) pixels it covers.
    """
    height, width = images.shape[-2:]
    scale = out_size / max(height, width)
    size = (max(1, round(height * scale)), max(1, round(width * scale)))
    if size != (height, width):
        images = resize_bilinear(images, size, antialias=scale < 1)
    view = F.pad(images, (0, out_size - size[1], 0, out_size - size[0]))
    return view, size
