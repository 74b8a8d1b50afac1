"""Where the token grids lie on the image: slicing, restoring, resampling."""
import itertools
import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from mrovseg_mmseg.models.backbones.slicing import (nominal_window,
                                                    plan_slices,
                                                    restore_slices)
from mrovseg_mmseg.models.utils.multi_res_features import MultiResLayout
from mrovseg_mmseg.models.utils.resampling import resize_region


def bilinear_reference(maps, region, size):
    """float64 loop: output (i, j) samples maps at (i + .5) * r / H - .5."""
    maps = maps.double()
    height, width = maps.shape[-2:]

    def taps(index, extent, out, length):
        src = max((index + 0.5) * extent / out - 0.5, 0.0)
        low = min(int(src), length - 1)
        return low, min(low + 1, length - 1), src - low

    out = torch.empty(*maps.shape[:-2], *size, dtype=torch.float64)
    for i in range(size[0]):
        y0, y1, wy = taps(i, region[0], size[0], height)
        for j in range(size[1]):
            x0, x1, wx = taps(j, region[1], size[1], width)
            top = (1 - wx) * maps[..., y0, x0] + wx * maps[..., y0, x1]
            bottom = (1 - wx) * maps[..., y1, x0] + wx * maps[..., y1, x1]
            out[..., i, j] = (1 - wy) * top + wy * bottom
    return out


@pytest.mark.parametrize('region,size', [
    ((5.3, 6.7), (11, 13)),   # fractional part of the map
    ((7, 9), (14, 5)),        # all of it: plain F.interpolate
    ((9.5, 12.25), (6, 20)),  # reaching past the map: border repeated
    ((0.4, 3), (1, 9)),       # less than a pixel
    ((40.5, 9), (6, 5)),      # far past the map in rows: sampled directly
    ((3.2, 61.0), (4, 30)),   # and in columns
])
def test_resize_region_matches_reference(region, size):
    torch.manual_seed(0)
    maps = torch.randn(2, 3, 7, 9)
    out = resize_region(maps, region, size)
    torch.testing.assert_close(out.double(),
                               bilinear_reference(maps, region, size),
                               atol=1e-5, rtol=0)


def test_resize_region_never_comes_back_short():
    """Float rounding of rows * (size / rows) must not lose an output row:
    (11, 10.5) -> (60, 60) once gave 59 x 60. Random maps, fractional
    regions and sizes, one of them the case seen, each checked on values
    at the last row and column against the reference."""
    rng = np.random.default_rng(20)
    cases = [((11, 11), (11.0, 10.5), (60, 60))]
    for _ in range(3000):
        height, width = (int(v) for v in rng.integers(1, 40, 2))
        region = tuple(float(np.round(rng.uniform(0.3, 1.2) * side, 2))
                       for side in (height, width))
        size = tuple(int(v) for v in rng.integers(1, 200, 2))
        cases.append(((height, width), region, size))
    maps = torch.randn(1, 1, 40, 40, dtype=torch.float64)
    for (height, width), region, size in cases:
        part = maps[..., :height, :width]
        out = resize_region(part, region, size)
        assert tuple(out.shape[-2:]) == size, (height, width, region, size)
    (height, width), region, size = cases[0]
    part = maps[..., :height, :width]
    torch.testing.assert_close(resize_region(part, region, size),
                               bilinear_reference(part, region, size))


def test_resize_region_far_past_the_map_forms_no_region_sized_map(
        monkeypatch):
    """A 1 x 1 input at ViT-B/16, p = 0.5 puts the slice canvas 6400 global
    tokens past the global map; padding the map to that size took 117 GiB
    at 768 channels. Only maps of the input's or the output's size may be
    formed, and the values are the reference's."""
    import mrovseg_mmseg.models.utils.resampling as resampling
    largest = []
    lerp = torch.lerp

    def spy(*args, **kwargs):
        out = lerp(*args, **kwargs)
        largest.append(out.shape[-2] * out.shape[-1])
        return out

    monkeypatch.setattr(resampling.torch, 'lerp', spy)
    monkeypatch.setattr(resampling.F, 'pad', None)
    monkeypatch.setattr(resampling.F, 'interpolate', None)
    maps = torch.randn(1, 2, 20, 20, dtype=torch.float64)
    out = resize_region(maps, (6400.0, 6400.0), (20, 20))
    assert max(largest) <= 20 * 20
    torch.testing.assert_close(
        out, bilinear_reference(maps, (6400.0, 6400.0), (20, 20)))


def test_resize_region_equals_resize_then_crop():
    torch.manual_seed(0)
    maps = torch.randn(1, 4, 10, 12)
    # the top-left 8 x 9 of the map, shown at 4 pixels per map pixel
    out = resize_region(maps, (8, 9), (32, 36))
    full = F.interpolate(maps, size=(40, 48), mode='bilinear',
                         align_corners=False)
    torch.testing.assert_close(out, full[..., :32, :36])


RATIOS = (0.25, 0.5, 0.625, 0.75, 1.0)
SIZES = ((640, 640), (640, 854), (1024, 2048), (500, 375), (1, 640))


def grid_for(ratio, size):
    nominal = nominal_window(ratio, 640)
    tokens = max(1, round(nominal / 16))
    return plan_slices(size, slice_ratio=ratio, base_size=640, tokens=tokens)


@pytest.mark.parametrize('ratio,size', list(itertools.product(RATIOS, SIZES)))
def test_slice_offsets_are_whole_tokens_and_cover_the_image(ratio, size):
    grid = grid_for(ratio, size)
    pixels = grid.token_pixels
    for offsets, token_offsets, side in (
            (grid.offsets_y, grid.token_offsets_y, size[0]),
            (grid.offsets_x, grid.token_offsets_x, size[1])):
        for offset, token in zip(offsets, token_offsets):
            assert abs(offset - token * pixels) < 0.5 + 1e-9
        assert offsets[0] == 0 and offsets[-1] + grid.window >= side
        # the canvas reaches past the image by less than one token
        # (overlapping) or one window (tiling)
        reach = offsets[-1] + grid.window - side
        assert reach < (pixels if grid.overlapping else grid.window) or \
            side < grid.window
        assert all(b - a <= grid.window for a, b in zip(offsets, offsets[1:]))


def test_table3_overlap_at_the_training_crop():
    grid = grid_for(0.75, (640, 640))
    assert grid.offsets_y == (0, 160) and grid.token_offsets_y == (0, 10)
    assert grid.token_canvas == (40, 40)
    grid = grid_for(0.625, (640, 640))
    assert grid.window == 400 and grid.offsets_x == (0, 240)


@pytest.mark.parametrize('ratio,size', [(0.5, (640, 854)), (0.75, (640, 854)),
                                        (0.625, (1024, 2048)), (1.0,
                                                                (640, 854))])
def test_restore_slices_places_and_averages(ratio, size):
    grid = grid_for(ratio, size)
    tokens = grid.tokens
    torch.manual_seed(0)
    values = torch.randn(2, grid.num_slices, 3, tokens, tokens)
    restored = restore_slices(values.flatten(0, 1), grid, batch=2)
    assert restored.shape == (2, 3, *grid.token_canvas)
    # reference: every canvas token is the mean of the slices over it
    total = torch.zeros(2, 3, *grid.token_canvas, dtype=torch.float64)
    count = torch.zeros(grid.token_canvas, dtype=torch.float64)
    for index, (y, x) in enumerate(
            itertools.product(grid.token_offsets_y, grid.token_offsets_x)):
        for i in range(tokens):
            for j in range(tokens):
                total[:, :, y + i, x + j] += values[:, index, :, i, j]
                count[y + i, x + j] += 1
    assert count.min() >= 1
    torch.testing.assert_close(restored.double(), total / count)


def layout_for(ratio, size, clip_size=320, patch=16):
    scale = clip_size / max(size)
    covered = [max(1, round(side * scale)) for side in size]
    global_pixels = tuple(patch * side / shown
                          for side, shown in zip(size, covered))
    token_grid = (clip_size // patch, ) * 2
    if ratio == 0:
        return MultiResLayout(tuple(size), token_grid, global_pixels)
    grid = grid_for(ratio, size)
    return MultiResLayout(
        tuple(size), token_grid, global_pixels,
        slice_grid=grid.token_canvas,
        slice_token_pixels=(grid.token_pixels, ) * 2,
        slice_token_grid=(grid.tokens, ) * 2,
        slice_offsets=(grid.token_offsets_y, grid.token_offsets_x))


def test_image_region_by_hand():
    # 640 x 854 at p = 0.5: 2 x 3 windows of 320 px, 20 tokens each; the
    # stride-4 masks (160 x 240) show the image in 160 x 213.5 of them
    layout = layout_for(0.5, (640, 854))
    assert layout.slice_grid == (40, 60)
    assert layout.slice_valid == (40, 54)
    assert layout.image_region((160, 240)) == pytest.approx((160, 213.5))
    # global view only: 854 px -> 320, the 640 px side covers 240 view px
    layout = layout_for(0, (640, 854))
    assert layout.global_valid == (15, 20)
    assert layout.image_region((80, 80)) == pytest.approx((60, 80))


@pytest.mark.parametrize('ratio,size', [(0.5, (640, 854)), (0.75, (854, 640)),
                                        (0.25, (500, 375))])
def test_slice_key_positions_enumerate_each_slice_token(ratio, size):
    layout = layout_for(ratio, size)
    positions = layout.slice_key_positions().tolist()
    tokens = layout.slice_token_grid[0]
    expected = []
    for y, x in itertools.product(*layout.slice_offsets):
        for i, j in itertools.product(range(tokens), range(tokens)):
            expected.append((y + i) * layout.slice_grid[1] + x + j)
    assert positions == expected
    valid = layout.slice_key_valid().tolist()
    rows, cols = layout.slice_valid
    assert valid == [p // layout.slice_grid[1] < rows
                     and p % layout.slice_grid[1] < cols for p in expected]


@pytest.mark.parametrize('size', [(640, 854), (854, 640), (500, 375),
                                  (1024, 2048), (640, 640)])
def test_global_to_slice_samples_each_token_at_its_pixels(size):
    layout = layout_for(0.5, size)
    gy, gx = layout.global_token_pixels
    rows, cols = layout.token_grid
    # a global map whose value is the image y (channel 0) and x (channel 1)
    # of each token centre; padding tokens hold a huge value
    ys = (torch.arange(rows) + 0.5) * gy
    xs = (torch.arange(cols) + 0.5) * gx
    grid = torch.stack(torch.broadcast_tensors(ys[:, None], xs[None, :]))
    valid_rows, valid_cols = layout.global_valid
    grid[:, valid_rows:] = 1e6
    grid[:, :, valid_cols:] = 1e6
    out = layout.global_to_slice(grid[None])[0]
    assert out.shape[-2:] == layout.slice_grid
    sy, sx = layout.slice_token_pixels
    centre_y = (torch.arange(layout.slice_grid[0]) + 0.5) * sy
    centre_x = (torch.arange(layout.slice_grid[1]) + 0.5) * sx
    srows, scols = layout.slice_valid
    assert out[:, :srows, :scols].max() < max(size) + gy + gx, \
        'a slice token that shows the image read a global padding token'
    # linear in position between global token centres: exact there
    inside_y = (centre_y >= ys[0]) & (centre_y <= ys[valid_rows - 1])
    inside_x = (centre_x >= xs[0]) & (centre_x <= xs[valid_cols - 1])
    expected_y = centre_y[:, None].expand(-1, layout.slice_grid[1])
    expected_x = centre_x[None, :].expand(layout.slice_grid[0], -1)
    mask = inside_y[:, None] & inside_x[None, :]
    torch.testing.assert_close(out[0][mask], expected_y[mask], atol=1e-3,
                               rtol=0)
    torch.testing.assert_close(out[1][mask], expected_x[mask], atol=1e-3,
                               rtol=0)


@pytest.mark.parametrize('size', [(640, 640), (640, 854), (500, 375)])
def test_slice_to_global_is_a_max_over_the_same_pixels(size):
    layout = layout_for(0.5, size)
    srows, scols = layout.slice_valid
    gy, gx = layout.global_token_pixels
    sy, sx = layout.slice_token_pixels
    for y, x in ((3, 5), (srows - 1, scols - 1), (srows // 2, 0)):
        hot = torch.zeros(1, 1, *layout.slice_grid)
        hot[..., y, x] = 7.0
        # padding of the slice canvas never counts, however large
        hot[..., srows:, :] = 1e6
        hot[..., :, scols:] = 1e6
        pooled = layout.slice_to_global(hot)[0, 0]
        assert pooled.max() == 7.0, 'max pooling keeps a single hot token'
        gyi, gxi = (pooled == 7.0).nonzero()[0].tolist()
        # the hot token's centre lies in (or within a token of) that cell
        cy, cx = (y + 0.5) * sy, (x + 0.5) * sx
        assert gyi * gy - sy <= cy <= (gyi + 1) * gy + sy
        assert gxi * gx - sx <= cx <= (gxi + 1) * gx + sx
    valid_rows, valid_cols = layout.global_valid
    assert not pooled[valid_rows:].any() and not pooled[:, valid_cols:].any()


def test_zero_padding_touches_only_padding():
    layout = layout_for(0.5, (640, 854))
    maps = torch.ones(1, 2, *layout.slice_grid)
    out = layout.zero_padding(maps)
    rows, cols = layout.slice_valid
    assert out[..., :rows, :cols].min() == 1
    assert not out[..., rows:, :].any() and not out[..., :, cols:].any()
    assert math.prod(out.shape) == math.prod(maps.shape)
