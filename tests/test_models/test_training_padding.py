"""Training treats the preprocessor's padding as testing does: each image is
seen without it, and a batch seen in several sizes is normalized as one."""
import copy

import pytest
import torch
from mmengine.structures import PixelData
from mmseg.registry import MODELS

from .tiny_model import make_batch, tiny_model_cfg


@pytest.fixture(scope='module')
def model(tiny_clip_cfg, tiny_clip_checkpoint):
    torch.manual_seed(0)
    return MODELS.build(tiny_model_cfg(tiny_clip_cfg,
                                       tiny_clip_checkpoint)).train()


@pytest.fixture
def rand_by_row(monkeypatch):
    """``torch.rand`` whose draw depends only on the trailing dimensions:
    the sampled points of an image or a mask do not depend on how many
    images or masks are drawn with it, so a batch can be compared with its
    parts."""
    rand = torch.rand

    def fake(*size, generator=None, **kwargs):
        size = size[0] if len(size) == 1 and not isinstance(size[0],
                                                            int) else size
        row = rand(*size[1:], generator=torch.Generator().manual_seed(7),
                   **kwargs)
        return row.expand(*size).clone()

    monkeypatch.setattr(torch, 'rand', fake)


def preprocess(model, batch):
    return model.data_preprocessor(copy.deepcopy(batch), True)


def test_a_padded_crop_trains_as_the_image_alone(model, rand_by_row):
    """A crop smaller than the preprocessor's size is padded; its losses are
    those of the image without padding."""
    padded = preprocess(model, make_batch([(48, 56)]))
    assert tuple(padded['inputs'].shape[-2:]) == (64, 64)
    inputs = padded['inputs'][..., :48, :56]
    unpadded_sample = padded['data_samples'][0].clone()
    unpadded_sample.gt_sem_seg = PixelData(
        data=unpadded_sample.gt_sem_seg.data[..., :48, :56])
    unpadded_sample.set_metainfo(dict(padding_size=(0, 0, 0, 0)))
    losses = model.loss(padded['inputs'], padded['data_samples'])
    expected = model.loss(inputs, [unpadded_sample])
    assert losses.keys() == expected.keys()
    for key in expected:
        torch.testing.assert_close(losses[key], expected[key], rtol=1e-5,
                                   atol=1e-6, msg=lambda m: f"{key}: {m}")


def test_a_batch_of_two_sizes_is_normalized_as_one_batch(model, rand_by_row):
    """Images padded differently go through the model apart; the class loss
    is the batch's weighted mean over all queries and the mask losses the
    mean over all matched masks, not a mean of the groups' losses."""
    small, full = (40, 64), (64, 64)
    batch = make_batch([small, full], seed=3)
    mixed = preprocess(model, batch)
    assert mixed['data_samples'][0].metainfo['padding_size'] == (0, 0, 0, 24)
    losses = model.loss(mixed['inputs'], mixed['data_samples'])
    parts = []
    for index in range(2):
        part = preprocess(
            model, dict(inputs=[batch['inputs'][index]],
                        data_samples=[batch['data_samples'][index]]))
        height, width = (small, full)[index]
        sample = part['data_samples'][0]
        sample.gt_sem_seg = PixelData(
            data=sample.gt_sem_seg.data[..., :height, :width])
        sample.set_metainfo(dict(padding_size=(0, 0, 0, 0)))
        segments = int((sample.gt_sem_seg.data.unique() != 255).sum())
        num_queries = model.decode_head.num_queries
        # class weights of the targets: 1 per matched query, 0.1 otherwise
        class_weight = segments + 0.1 * (num_queries - segments)
        losses_alone = model.loss(part['inputs'][..., :height, :width],
                                  [sample])
        parts.append((losses_alone, class_weight, segments))
    for key in losses:
        if key.endswith('loss_cls_ce'):
            weights = [weight for _, weight, _ in parts]
        else:
            weights = [segments for _, _, segments in parts]
        expected = sum(alone[key] * weight for (alone, _, _), weight in zip(
            parts, weights)) / sum(weights)
        torch.testing.assert_close(losses[key], expected, rtol=1e-5,
                                   atol=1e-6, msg=lambda m: f"{key}: {m}")


def test_cut_padding_off_trains_on_the_padded_canvas(tiny_clip_cfg,
                                                     tiny_clip_checkpoint,
                                                     rand_by_row):
    """``train_cfg.cut_padding=False``: one pass over the padded batch, the
    padding seen as image and supervised with the ignore label."""
    torch.manual_seed(0)
    model = MODELS.build(
        tiny_model_cfg(tiny_clip_cfg, tiny_clip_checkpoint,
                       train_cfg=dict(cut_padding=False))).train()
    padded = preprocess(model, make_batch([(40, 64), (64, 64)], seed=3))
    losses = model.loss(padded['inputs'], padded['data_samples'])
    head = model.decode_head
    features = model.extract_feat(padded['inputs'])
    expected = head.loss(features, model.neck(features),
                         model.text_embeds('train'), padded['data_samples'])
    assert losses.keys() == expected.keys()
    for key in expected:
        torch.testing.assert_close(losses[key], expected[key], rtol=1e-5,
                                   atol=1e-6)
