"""Predictions land on the pixels they come from, through ``model.predict``.

A probe model keeps MROVSeg's real backbone (global view, slicing, slice
restoration, the layout) and its real post-processing (``predict``: cropping
the padded canvas, preprocessor padding, flips, resizing to the original
shape, Eq. 9), and replaces the adapter and head by a probe whose mask logits
are the stem tokens' patch means: with a CLIP whose patch embedding averages
the pixels of a patch, a pixel is labelled "bright" exactly where the image
is bright. The labels must then reproduce the image's bright pattern at the
image's own pixels, for every slice ratio of Table 3 and image shapes that
training never shows.
"""
import itertools
import math

import numpy as np
import pytest
import torch
import torch.nn as nn
import torch.nn.functional as F
from mmseg.registry import MODELS
from mmseg.structures import SegDataSample

from mrovseg_mmseg.models.backbones.slicing import nominal_window, plan_slices
from mrovseg_mmseg.models.decode_heads.mrovseg_head import HeadOutput
from mrovseg_mmseg.models.utils.multi_res_features import MultiResFeatures
from .tiny_model import tiny_model_cfg

RATIOS = (0, 0.25, 0.5, 0.625, 0.75, 1.0)
SHAPES = ((640, 640), (640, 854), (854, 640), (500, 375), (1024, 2048),
          (1, 640), (640, 1))
PATCH = 16
CLIP_SIZE = 320
BASE = 640
# tokens of a blob edge may be blurred over this many tokens of the coarsest
# grid that decides a pixel (a token, plus the bilinear upsampling's reach)
EDGE_TOKENS = 1.5


def probe_clip_cfg() -> dict:
    return dict(
        embed_dim=16,
        vision_cfg=dict(image_size=CLIP_SIZE, layers=1, width=16,
                        patch_size=PATCH, head_width=8),
        text_cfg=dict(context_length=77, vocab_size=49408, width=16, heads=2,
                      layers=1))


def build_probe(ratio: float, tmp_path, real_neck: bool = False) -> nn.Module:
    """MROVSeg whose masks are the patch means of the stem tokens; with
    ``real_neck`` its adapter (one block, Multi-Res Fusion of the stem) runs
    too, and the probe checks the grid of its visual tokens."""
    import open_clip
    clip_cfg = probe_clip_cfg()
    checkpoint = tmp_path / 'probe_clip.pt'
    torch.manual_seed(0)
    torch.save(open_clip.CLIP(**clip_cfg).state_dict(), checkpoint)
    cfg = tiny_model_cfg(
        clip_cfg, str(checkpoint),
        backbone=dict(clip_input_size=CLIP_SIZE, base_size=BASE,
                      slice_ratio=ratio, fusion_layers=(0, ),
                      classifier_start_block=None),
        neck=dict(in_channels=16, num_heads=1, num_blocks=1,
                  fusion_layers=(0, )),
        decode_head=dict(clip_dims=16, clip_proj_dims=16, clip_heads=2,
                         decoder_layers=(0, )),
        vocabulary=['bright', 'dark'])
    model = MODELS.build(cfg).eval()
    visual = model.backbone.visual
    with torch.no_grad():
        # channel 0 of a token = mean of the patch's first input channel
        visual.conv1.weight.zero_()
        visual.conv1.weight[0, 0] = 1 / PATCH**2
        visual.positional_embedding.zero_()
    visual.ln_pre = nn.Identity()
    if not real_neck:
        model.neck.forward = lambda features: None
    model.decode_head.forward = probe_head
    return model


def probe_head(features: MultiResFeatures, adapter, text_embeds,
               with_intermediate=False):
    """Query 0 = "bright" where the stem token is bright, query 1 = "dark"."""
    if adapter is not None:
        assert adapter.final.visual.shape[-2:] == features.layout.visual_grid
    stem = (features.slice_maps or features.global_maps)[0][:, :1]
    # (B, 1, H', W') stride 16 -> stride 4, as the real mask decoder
    bright = F.interpolate(stem, scale_factor=4, mode='bilinear',
                           align_corners=False)
    # normalized mid-grey of the first channel separates bright from dark
    mid = (127.5 - 122.7709383) / 68.5005327
    logits = 20 * (bright - mid)
    mask_logits = torch.cat([logits, -logits], dim=1)  # (B, 2, h, w)
    batch = mask_logits.shape[0]
    cls_logits = torch.tensor([[20., 0., 0.], [0., 20., 0.]]).expand(
        batch, -1, -1)
    return [HeadOutput(cls_logits=cls_logits, mask_logits=mask_logits,
                       mask_region=features.layout.image_region(
                           mask_logits.shape[-2:]))]


def blob_pattern(shape, block: int, seed: int = 0) -> np.ndarray:
    """(H, W) bool: random bright blocks of ``block`` pixels."""
    rng = np.random.default_rng(seed)
    rows, cols = (math.ceil(side / block) for side in shape)
    blocks = rng.random((rows, cols)) < 0.5
    blocks[0, 0], blocks[-1, -1] = True, False  # both labels present
    pattern = blocks.repeat(block, 0).repeat(block, 1)
    return pattern[:shape[0], :shape[1]]


def edge_band(pattern: np.ndarray, width: float) -> np.ndarray:
    """(H, W) bool: pixels within ``width`` pixels of a blob edge."""
    tensor = torch.from_numpy(pattern).float()[None, None]
    radius = max(1, math.ceil(width))

    def square_max(x):  # a (2r+1)^2 max filter as two 1-D ones
        x = F.max_pool2d(x, (2 * radius + 1, 1), stride=1,
                         padding=(radius, 0))
        return F.max_pool2d(x, (1, 2 * radius + 1), stride=1,
                            padding=(0, radius))

    return (square_max(tensor) != -square_max(-tensor))[0, 0].numpy()


def predict_labels(model, image: np.ndarray, meta=None) -> np.ndarray:
    """Labels of ``model.predict`` for a (H, W) uint8 grey image."""
    height, width = image.shape
    inputs = torch.from_numpy(image)[None].expand(3, -1, -1).contiguous()
    sample = SegDataSample()
    sample.set_metainfo(meta or dict(img_shape=(height, width),
                                     ori_shape=(height, width)))
    data = model.data_preprocessor(
        dict(inputs=[inputs], data_samples=[sample]), False)
    result = model.predict(data['inputs'], data['data_samples'])[0]
    return result.pred_sem_seg.data[0].numpy()


def token_pixels(model, shape) -> float:
    """Input pixels per token of the grid the probe reads."""
    backbone = model.backbone
    if backbone.slice_ratio == 0:
        return PATCH * max(shape) / CLIP_SIZE
    nominal = nominal_window(backbone.slice_ratio, BASE)
    tokens = backbone.slice_size(nominal) // PATCH
    grid = plan_slices(shape, slice_ratio=backbone.slice_ratio,
                       base_size=BASE, tokens=tokens)
    return grid.token_pixels


@pytest.fixture(scope='module')
def probes(tmp_path_factory):
    path = tmp_path_factory.mktemp('probe')
    return {ratio: build_probe(ratio, path) for ratio in RATIOS}


# the default run takes every ratio and every shape once (the diagonal of
# the grid, and the last shape at ratio 0); the slow run takes the whole grid
DEFAULT_CASES = set(zip(RATIOS, SHAPES)) | {(RATIOS[0], SHAPES[-1])}
GRID = [
    pytest.param(
        ratio, shape,
        marks=() if (ratio, shape) in DEFAULT_CASES else pytest.mark.slow)
    for ratio, shape in itertools.product(RATIOS, SHAPES)
]


@pytest.mark.parametrize('ratio,shape', GRID)
def test_prediction_stays_on_its_pixels(probes, ratio, shape):
    model = probes[ratio]
    block = 6 * PATCH * max(shape) // CLIP_SIZE if ratio == 0 else 96
    pattern = blob_pattern(shape, max(block, 48))
    image = np.where(pattern, 255, 0).astype(np.uint8)
    labels = predict_labels(model, image)
    assert labels.shape == shape
    wrong = (labels == 0) != pattern
    band = edge_band(pattern, EDGE_TOKENS * token_pixels(model, shape))
    assert not wrong[~band].any(), (
        f'p={ratio}, {shape}: {int(wrong[~band].sum())} pixels away from any '
        f'edge are labelled from other pixels, first at '
        f'{np.argwhere(wrong & ~band)[0].tolist()}')


@pytest.mark.parametrize('ratio', [0.25, 0.5])
def test_translation_by_whole_windows_moves_the_prediction_with_it(
        probes, ratio):
    model = probes[ratio]
    window = round(ratio * BASE)
    shape = (2 * window, 3 * window)
    pattern = blob_pattern(shape, 40, seed=1)
    image = np.where(pattern, 255, 0).astype(np.uint8)
    alone = predict_labels(model, image)
    # the same image at (1, 2) windows inside a mid-grey frame of 4 x 6
    frame = np.full((4 * window, 6 * window), 128, np.uint8)
    top, left = window, 2 * window
    frame[top:top + shape[0], left:left + shape[1]] = image
    framed = predict_labels(model, frame)[top:top + shape[0],
                                          left:left + shape[1]]
    # only the outermost token ring sees the frame through the bilinear
    # upsampling of the masks
    ring = math.ceil(window / (model.backbone.slice_size(window) // PATCH))
    inner = (slice(ring, -ring), ) * 2
    np.testing.assert_array_equal(framed[inner], alone[inner])


def test_flip_padding_and_resize_are_undone(probes):
    model = probes[0.5]
    ori_shape = (300, 427)
    pattern = blob_pattern(ori_shape, 60, seed=2)
    # the pipeline resized the image to 600 x 854, flipped it, and the
    # preprocessor padded it to 640 x 896
    resized = np.asarray(
        F.interpolate(torch.from_numpy(pattern)[None, None].float(),
                      size=(600, 854))[0, 0] > 0.5)
    network_input = np.zeros((640, 896), np.uint8)
    network_input[:600, :854] = np.where(resized[:, ::-1], 255, 0)
    meta = dict(ori_shape=ori_shape, img_shape=(600, 854),
                padding_size=(0, 42, 0, 40), flip=True,
                flip_direction='horizontal')
    labels = predict_labels(model, network_input, meta)
    assert labels.shape == ori_shape
    wrong = (labels == 0) != pattern
    band = edge_band(pattern, 2 * EDGE_TOKENS * 16 * 300 / 600)
    assert not wrong[~band].any()


def test_vit_b16_half_ratio_on_1098x1995_through_the_fusion(tmp_path):
    """ViT-B/16 at p = 0.5 (16 px patches, 320 px views, 640 base) on a
    1098 x 1995 input: 3 x 6 slices of 366 px on a 60 x 120 token canvas.
    The global map resampled onto that canvas by the Multi-Res Fusion came
    back one row short (11 global rows to 60) and predict failed there;
    the labels are the input's size and come from the input's own pixels."""
    model = build_probe(0.5, tmp_path, real_neck=True)
    shape = (1098, 1995)
    pattern = blob_pattern(shape, 96, seed=3)
    image = np.where(pattern, 255, 0).astype(np.uint8)
    labels = predict_labels(model, image)
    assert labels.shape == shape
    wrong = (labels == 0) != pattern
    band = edge_band(pattern, EDGE_TOKENS * token_pixels(model, shape))
    assert not wrong[~band].any()
    assert wrong.mean() < 0.05


def test_pattern_helpers():
    """The probe's pattern helpers do what the tests assume."""
    pattern = blob_pattern((10, 10), 5)
    assert pattern[0, 0] and not pattern[-1, -1]
    band = edge_band(np.pad(np.ones((4, 4), bool), 3), 1)
    assert band[3, 3] and band[2, 2] and not band[0, 9] and not band[5, 5]
