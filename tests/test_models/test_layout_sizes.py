"""Every map of the multi-resolution layout has the size the layout says.

A property test over thousands of random input shapes (tiny, odd, very wide
or tall, larger than the base size), every crop ratio of Table 3 and the
geometry (patch, global view, slice input and base size) of every shipped
config. Each case builds the backbone's real layout and pushes random maps
of the sizes CLIP would give through every layout operation; no CLIP runs.
Maps resampled over the input's extent go in as an empty batch, whose output
size is computed as for any batch, without the pixels: the mask logits
resized to the input, and the global map resampled onto the slice canvas
(``resize_region`` pads it, by repeating its border, to the whole region it
covers in global tokens, which for an input far smaller than one slice
window is thousands of tokens a side).
"""
import glob
import math
import os.path as osp

import numpy as np
import open_clip
import pytest
import torch
from mmengine.config import Config

from mrovseg_mmseg.models.backbones import MultiResCLIPViT
from mrovseg_mmseg.models.backbones.slicing import (global_view,
                                                    nominal_window,
                                                    plan_slices,
                                                    restore_slices)
from mrovseg_mmseg.models.utils.resampling import resize_region

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
TABLE3_RATIOS = (0.0, 0.25, 0.5, 0.625, 0.75, 1.0)
SHAPES_PER_GEOMETRY = 100
# mask logits over the visual grid: the decoder's stride-16, 8 and 4 stages
MASK_SCALES = (1, 2, 4)
CHANNELS = 2


def config_backbones():
    """model.backbone of every shipped config."""
    return [Config.fromfile(path).model.backbone
            for path in sorted(glob.glob(osp.join(REPO, 'configs', '**',
                                                  '*.py'), recursive=True))
            if '_base_' not in path]


def patch_size(backbone) -> int:
    if backbone.get('model_cfg'):
        return backbone.model_cfg['vision_cfg']['patch_size']
    return open_clip.get_model_config(
        backbone.model_name)['vision_cfg']['patch_size']


@pytest.fixture(scope='module')
def shipped():
    """(patch, clip_input_size, slice_input_size, base_size) of the
    shipped configs, and their slice ratios."""
    backbones = config_backbones()
    geometries = sorted({(patch_size(b), b.clip_input_size,
                          b.get('slice_input_size'), b.base_size)
                         for b in backbones}, key=str)
    return geometries, {b.slice_ratio for b in backbones}


def build_backbone(geometry, ratio) -> MultiResCLIPViT:
    """A one-block CLIP of the geometry's patch and view size."""
    patch, clip_size, slice_size, base = geometry
    clip_cfg = dict(
        embed_dim=8,
        vision_cfg=dict(image_size=clip_size, layers=1, width=8,
                        patch_size=patch, head_width=8),
        text_cfg=dict(context_length=8, vocab_size=64, width=8, heads=1,
                      layers=1))
    return MultiResCLIPViT(model_name=None, pretrained=None,
                           model_cfg=clip_cfg, clip_input_size=clip_size,
                           slice_input_size=slice_size, base_size=base,
                           slice_ratio=ratio, fusion_layers=(0, ),
                           classifier_start_block=None)


def exact_fit(rng, backbone: MultiResCLIPViT):
    """A shape whose short side the global view shows in a whole number of
    tokens and the slice canvas covers exactly, in whole windows (p <= 0.5)
    or whole tokens past one window (p > 0.5): the maps then span a whole
    number of each other's tokens, where float rounding can lose a row."""
    patch, clip_size = backbone.patch_size, backbone.clip_input_size
    ratio, base = backbone.slice_ratio, backbone.base_size
    window = nominal_window(ratio, base)
    tokens = backbone.slice_size(window) // patch
    while True:
        if ratio == 0:
            short = int(rng.integers(1, 3 * base + 1))
        elif ratio > 0.5:
            short = window + round(
                int(rng.integers(0, 3 * tokens)) * window / tokens)
        else:
            short = int(rng.integers(1, 4)) * int(
                rng.integers(window, window * 5 // 4 + 1))
        shown = int(rng.integers(1, clip_size // patch)) * patch
        long = max(short, round(short * clip_size / shown))
        _, covered = global_view(torch.empty(0, 3, short, long), clip_size)
        grid = plan_slices((short, long), slice_ratio=ratio, base_size=base,
                           tokens=tokens)
        if covered[0] % patch == 0 and (grid is None
                                        or grid.canvas[0] == short):
            return tuple(int(v) for v in rng.permutation([short, long]))


def random_shapes(rng, backbone: MultiResCLIPViT, count: int):
    """(H, W) input shapes: fixed corner cases, then random ones drawn
    from five families in turn."""
    base = backbone.base_size
    shapes = [(1, 1), (1, base), (base, 1), (base, base), (base - 1, base + 1),
              (2 * base + 1, 3), (1098, 1995), (1995, 1098)]
    families = (
        lambda: rng.integers(1, 33, 2),  # tiny
        lambda: rng.integers(1, 3 * base + 1, 2),  # any, mostly odd-sized
        lambda: rng.integers(base, 4 * base + 1, 2),  # larger than base
        lambda: rng.permutation(  # a strip: very wide or very tall
            [rng.integers(1, 49), rng.integers(1, 4 * base + 1)]),
        lambda: exact_fit(rng, backbone),
    )
    while len(shapes) < count:
        family = families[len(shapes) % len(families)]
        shapes.append(tuple(int(v) for v in family()))
    return shapes


def covers(valid: int, pixels: float, side: int) -> bool:
    """``valid`` tokens of ``pixels`` each cover the side, one fewer not."""
    return (valid * pixels >= side - 1e-6) and (
        (valid - 1) * pixels < side + 1e-6)


def check_layout(backbone: MultiResCLIPViT, shape) -> None:
    """Every map along the layout has the size the layout says."""
    height, width = shape
    patch, clip_size = backbone.patch_size, backbone.clip_input_size
    views, covered = global_view(torch.empty(0, 3, height, width), clip_size)
    assert views.shape[-2:] == (clip_size, clip_size)
    assert max(covered) == clip_size and min(covered) >= 1
    grid = slice_size = None
    if backbone.slice_ratio > 0:
        slice_size = backbone.slice_size(
            nominal_window(backbone.slice_ratio, backbone.base_size))
        assert slice_size % patch == 0
        grid = plan_slices(shape, slice_ratio=backbone.slice_ratio,
                           base_size=backbone.base_size,
                           tokens=slice_size // patch)
    layout = backbone._layout(shape, covered, grid)
    assert layout.image_size == shape
    # the global view's tokens: (V, 1 + h*w, C) -> (V, C, h, w)
    global_tokens = torch.randn(1, 1 + (clip_size // patch)**2, CHANNELS)
    global_map = backbone._to_map(global_tokens)
    assert global_map.shape[-2:] == layout.token_grid
    for valid, pixels, side, size in zip(layout.global_valid,
                                         layout.global_token_pixels, shape,
                                         layout.token_grid):
        assert 1 <= valid <= size and covers(valid, pixels, side)
    assert layout.global_key_valid().numel() == math.prod(layout.token_grid)
    if grid is not None:
        tokens = slice_size // patch
        assert layout.slice_token_grid == (tokens, tokens)
        assert grid.num_slices == layout.num_slices
        for offsets, canvas, side, token_offsets, size in zip(
                (grid.offsets_y, grid.offsets_x), grid.canvas, shape,
                layout.slice_offsets, layout.slice_grid):
            assert offsets[0] == 0 and canvas >= side
            assert offsets[-1] + grid.window <= canvas
            assert token_offsets[-1] + tokens == size
        slice_maps = torch.randn(grid.num_slices, CHANNELS, tokens, tokens)
        restored = restore_slices(slice_maps, grid, batch=1)
        assert restored.shape[-2:] == layout.slice_grid
        for valid, pixels, side, size in zip(layout.slice_valid,
                                             layout.slice_token_pixels, shape,
                                             layout.slice_grid):
            assert 1 <= valid <= size and covers(valid, pixels, side)
        assert layout.global_to_slice(global_map[:0]).shape[-2:] == \
            layout.slice_grid
        assert layout.slice_to_global(restored).shape[-2:] == \
            layout.token_grid
        assert layout.zero_padding(restored).shape == restored.shape
        positions = layout.slice_key_positions()
        assert positions.numel() == grid.num_slices * tokens**2
        assert int(positions.max()) < math.prod(layout.slice_grid)
        assert layout.slice_key_valid().numel() == positions.numel()
    assert layout.visual_grid == (layout.slice_grid
                                  if grid is not None else layout.token_grid)
    assert layout.visual_valid_mask().numel() == math.prod(layout.visual_grid)
    for scale in MASK_SCALES:
        size = tuple(scale * side for side in layout.visual_grid)
        region = layout.image_region(size)
        assert all(0 < r <= s + 1e-6 for r, s in zip(region, size))
        masks = torch.empty(0, CHANNELS, *size)
        assert resize_region(masks, region, shape).shape[-2:] == shape


def test_shipped_ratios_are_those_of_table3(shipped):
    _, ratios = shipped
    assert ratios <= set(TABLE3_RATIOS)


@pytest.mark.parametrize('ratio', TABLE3_RATIOS)
def test_every_map_has_the_size_the_layout_says(shipped, ratio):
    geometries, _ = shipped
    rng = np.random.default_rng(int(ratio * 1000))
    failures = []
    for geometry in geometries:
        backbone = build_backbone(geometry, ratio)
        for shape in random_shapes(rng, backbone, SHAPES_PER_GEOMETRY):
            try:
                check_layout(backbone, shape)
            except Exception as error:  # any error is a failing case
                failures.append(f'{geometry}, input {shape}: {error!r}')
    assert not failures, (
        f'p = {ratio}: {len(failures)} of {len(geometries)} x '
        f'{SHAPES_PER_GEOMETRY} cases fail ((patch, clip_input_size, '
        'slice_input_size, base_size), input (H, W)):\n' +
        '\n'.join(failures[:5]))
