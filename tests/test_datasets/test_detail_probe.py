"""Checks of the detail-twin world's premise: which keys the frozen-CLIP
probe reads, how it covers tokens, what the model-free check measures, and
which scenes both see."""
import math
from pathlib import Path

import numpy as np
import pytest
import torch
from mmengine.config import Config
from PIL import Image

from mrovseg_mmseg.datasets.detail_twin_world import (
    DETAIL_COLOURS, FINE_AMPLITUDE, TWIN_CLASSES, coarse_checker,
    generate_detail_twin_world, hidden_detail)
from mrovseg_mmseg.evaluation.detail_probe import (build_frozen_clip_probe,
                                                   coverage_biases,
                                                   held_out_scenes,
                                                   local_contrast,
                                                   model_free_check,
                                                   token_coverage)
from mrovseg_mmseg.models.utils.multi_res_features import MultiResLayout

CONFIG = str(Path(__file__).resolve().parents[2] / 'configs' /
             'resolution_claim' / 'mrovseg_tiny_twins64.py')
GREY = (125.0, 125.0, 125.0)
# the tiny twins config's grids: 4 x 4 global tokens of 16 px, an 8 x 8
# slice canvas of 8 px tokens (2 x 2 slices of 4 x 4 tokens)
LAYOUT = MultiResLayout(
    image_size=(64, 64), token_grid=(4, 4), global_token_pixels=(16.0, 16.0),
    slice_grid=(8, 8), slice_token_pixels=(8.0, 8.0),
    slice_token_grid=(4, 4), slice_offsets=((0, 4), (0, 4)))


def disk(centre, radius, size=64):
    yy, xx = np.mgrid[0:size, 0:size]
    return (yy - centre[0])**2 + (xx - centre[1])**2 <= radius**2


def paint(image, mask, colour, detail=None):
    """Paint ``colour`` (+ a (H, W) detail) on ``mask`` of a float image."""
    values = np.asarray(colour, dtype=np.float64)[None] + (
        0 if detail is None else detail[mask][:, None])
    image[mask] = values


@pytest.fixture(scope='module')
def random_probe():
    """The twins config's backbone and text encoder, random CLIP weights."""
    cfg = Config.fromfile(CONFIG)
    return build_frozen_clip_probe(cfg.model.to_dict(), random_clip=True)


def test_global_keys_do_not_see_the_hidden_detail(random_probe):
    """A small checkered object and the same object with its detail removed
    give the same embedding from the global keys, different embeddings from
    the slice keys."""
    small = disk((21.3, 42.6), 4.5)
    red = DETAIL_COLOURS['red']
    detail = hidden_detail(small, FINE_AMPLITUDE)
    checkered = np.zeros((64, 64, 3))
    checkered[:] = GREY
    paint(checkered, small, red, detail)
    plain = checkered - detail[..., None]
    np.testing.assert_allclose(plain[small], np.broadcast_to(red, (
        small.sum(), 3)), atol=1e-9)
    masks = torch.from_numpy(np.stack([~small, small]))[None]  # (1, 2, H, W)
    features = {name: random_probe.features(image[None])
                for name, image in (('checkered', checkered),
                                    ('plain', plain))}
    assert features['plain'].layout == LAYOUT
    embeds = {(name, mode): random_probe.embed(feats, masks, mode)
              for name, feats in features.items()
              for mode in ('global', 'slice')}
    torch.testing.assert_close(embeds['checkered', 'global'],
                               embeds['plain', 'global'], atol=1e-5,
                               rtol=0)
    slice_change = (embeds['checkered', 'slice'] -
                    embeds['plain', 'slice']).abs()
    assert slice_change[0, 1].max() > 1e-3
    logits = random_probe.logits(features['plain'], masks, 'both')
    assert logits.shape == (1, 2, len(TWIN_CLASSES))


def test_coverage_is_the_share_of_each_token():
    mask = torch.zeros(64, 64, dtype=torch.bool)
    mask[10:20, 4:12] = True  # rows 10-19, cols 4-11
    global_cov = token_coverage(mask, (16, 16), (4, 4))
    expected = torch.zeros(4, 4)
    expected[0, 0] = 6 * 8 / 256  # rows 10-15
    expected[1, 0] = 4 * 8 / 256  # rows 16-19
    torch.testing.assert_close(global_cov, expected)
    slice_cov = token_coverage(mask, (8, 8), (8, 8))
    expected = torch.zeros(8, 8)
    expected[1, 0] = expected[1, 1] = 6 * 4 / 64  # rows 10-15, 4 cols each
    expected[2, 0] = expected[2, 1] = 4 * 4 / 64  # rows 16-19
    torch.testing.assert_close(slice_cov, expected)
    # 1.5 px tokens over [1, 1, 0]: 1.5 / 1.5 and 0.5 / 1.5 per axis
    small = torch.tensor([[1.0, 1.0, 0.0]]).T @ torch.tensor([[1.0, 1.0,
                                                               0.0]])
    share = torch.tensor([1.0, 1 / 3])
    torch.testing.assert_close(
        token_coverage(small, (1.5, 1.5), (2, 2)), share[:, None] * share)

    masks = mask[None, None]  # (B, N, H, W)
    heads = 3
    global_bias, local_bias = coverage_biases(masks, LAYOUT, heads, 'both')
    assert global_bias.shape == (1, heads, 1, 16)
    assert local_bias.shape == (1, heads, 1, 64)
    assert global_bias[0, 2, 0, 0] == pytest.approx(math.log(48 / 256))
    assert global_bias[0, 1, 0, 4] == pytest.approx(math.log(32 / 256))
    assert local_bias[0, 0, 0, 8] == pytest.approx(math.log(24 / 64))
    assert local_bias[0, 0, 0, 17] == pytest.approx(math.log(16 / 64))
    assert int(torch.isfinite(global_bias[0, 0, 0]).sum()) == 2
    assert int(torch.isfinite(local_bias[0, 0, 0]).sum()) == 4
    only_global = coverage_biases(masks, LAYOUT, heads, 'global')
    only_slice = coverage_biases(masks, LAYOUT, heads, 'slice')
    torch.testing.assert_close(only_global[0], global_bias)
    assert torch.isneginf(only_global[1]).all()
    assert torch.isneginf(only_slice[0]).all()
    torch.testing.assert_close(only_slice[1], local_bias)


def twin_scene(finish, small_centre):
    """Float scene, no noise: grey background, a large red region (plain
    or 4 px checkered) on the left, a small blue blob (plain or with the
    hidden detail) on the right, a 2 x 2 orange object the global view
    loses."""
    image = np.zeros((64, 64, 3))
    image[:] = GREY
    instances = np.ones((64, 64), np.uint8)
    large = np.zeros((64, 64), bool)
    large[4:60, 2:26] = True
    small = disk(small_centre, 4.0)
    speck = np.zeros((64, 64), bool)
    speck[55:57, 55:57] = True  # odd offset: at most 0.25 in the global view
    checkered = finish == 'checkered'
    paint(image, large, DETAIL_COLOURS['red'],
          coarse_checker(large.shape, 45.0, (1, 2)) if checkered else None)
    paint(image, small, DETAIL_COLOURS['blue'],
          hidden_detail(small, FINE_AMPLITUDE) if checkered else None)
    paint(image, speck, (205, 125, 50))
    objects = [dict(id=1, name='grey', kind='large')]
    for index, (mask, name, kind) in enumerate(
            ((large, f'{finish} red', 'large'),
             (small, f'{finish} blue', 'small'),
             (speck, 'orange', 'small')), start=2):
        instances[mask] = index
        objects.append(dict(id=index, name=name, kind=kind))
    return image, None, dict(instances=instances, objects=objects)


def test_model_free_check_on_hand_built_twins():
    values = np.array([[0, 2, 5], [4, 8, 5], [9, 9, 9]], float)[..., None]
    corner = np.zeros((3, 3), bool)
    corner[:2, :2] = True
    # pairs inside: |0-2|, |4-8| across, |0-4|, |2-8| down
    assert local_contrast(values, corner) == pytest.approx(4.0)
    assert math.isnan(local_contrast(values, np.eye(3, dtype=bool)))
    centres = ((14.0, 44.0), (30.5, 47.2), (45.0, 41.5))
    scenes = [twin_scene(finish, centre) for centre in centres
              for finish in ('plain', 'checkered')]
    result = model_free_check(scenes)
    rows = {(row['kind'], row['pair'], row['view']): row
            for row in result['rows']}
    assert result['objects']['small'] == dict(
        total=12, not_visible_global=6, no_contrast_global=0)
    small_global = rows['small', 'blue', 'global']
    assert small_global['count_first'] == small_global['count_second'] == 3
    assert abs(small_global['contrast_diff']) < 1e-6
    assert small_global['colour_diff_norm'] < 1e-6
    assert rows['small', 'blue', 'full']['contrast_diff'] > 20
    assert rows['large', 'red', 'global']['contrast_diff'] > 5
    assert rows['large', 'red', 'full']['contrast_diff'] > 5
    assert rows['large', 'all detail twins', 'global']['contrast_diff'] > 5
    assert rows['small', 'blue', 'full']['colour_diff_norm'] < 1e-6
    # the global view loses the speck: no orange in it at all
    assert rows['small', 'orange / pink', 'global']['count_first'] == 0
    assert rows['small', 'orange / pink', 'full']['count_first'] == 6


def test_held_out_scenes_are_the_val_split(tmp_path):
    root = tmp_path / 'world'
    generate_detail_twin_world(str(root), num_train=2, num_val=3, seed=7)
    for index, (image, label, extra) in enumerate(held_out_scenes(7, 3)):
        name = f'{index:05d}'
        np.testing.assert_array_equal(
            np.asarray(Image.open(root / 'images/val' / f'{name}.png')),
            image)
        np.testing.assert_array_equal(
            np.asarray(Image.open(root / 'instances/val' / f'{name}.png')),
            extra['instances'])
