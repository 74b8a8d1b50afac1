"""The segmentor's post-processing on values: padding and flips undone by
``restore_masks``, batches whose images were padded differently (each
predicted alone), samples
without metainfo, and ``encode_decode`` against the Eq. 9 scores of
``predict``."""
import pytest
import torch
import torch.nn.functional as F
from mmseg.registry import MODELS
from mmseg.structures import SegDataSample

from mrovseg_mmseg.models.segmentors.mrovseg import (MROVSeg,
                                                     without_padding)
from mrovseg_mmseg.models.utils.resampling import resize_region
from .tiny_model import make_batch, tiny_model_cfg


@pytest.fixture(scope='module')
def model(tiny_clip_cfg, tiny_clip_checkpoint):
    torch.manual_seed(0)
    # predict() also returns the Eq. 9 scores, which tell apart masks that
    # a random model's labels (mostly one class) would not
    built = MODELS.build(
        tiny_model_cfg(tiny_clip_cfg, tiny_clip_checkpoint,
                       test_cfg=dict(output_logits=True)))
    return built.eval()


def eq9_scores(cls_logits, masks):
    """sum_n softmax(C)[n, k] sigmoid(M)[n]: (B, K, H, W)."""
    probs = F.softmax(cls_logits, dim=-1)[..., :-1]
    return torch.einsum('bnk,bnhw->bkhw', probs, masks.sigmoid())


def assert_prediction(result, expected_scores):
    """``result`` holds these (1, K, H, W) scores and their argmax."""
    torch.testing.assert_close(result.seg_logits.data, expected_scores[0],
                               rtol=1e-5, atol=1e-6)
    assert torch.equal(result.pred_sem_seg.data, expected_scores.argmax(1))


@pytest.mark.parametrize('key', ['padding_size', 'img_padding_size'])
@pytest.mark.parametrize('direction,dim', [('horizontal', 3),
                                           ('vertical', 2)])
def test_restore_masks_cuts_the_padding_then_flips(key, direction, dim):
    logits = torch.arange(2 * 9 * 10, dtype=torch.float32).view(1, 2, 9, 10)
    # (left, right, top, bottom)
    meta = {key: (1, 2, 3, 4), 'flip': True, 'flip_direction': direction}
    restored = MROVSeg.restore_masks(logits, (9, 10), meta)
    expected = logits[..., 3:5, 1:8].flip(dim)
    torch.testing.assert_close(restored, expected, rtol=0, atol=0)
    # without padding or flip the logits come back as they are
    same = MROVSeg.restore_masks(logits, (9, 10), {})
    torch.testing.assert_close(same, logits, rtol=0, atol=0)


def test_without_padding_drops_both_padding_keys():
    meta = dict(img_padding_size=(0, 1, 0, 2), padding_size=(0, 1, 0, 2),
                ori_shape=(5, 6), flip=False)
    assert without_padding(meta) == dict(ori_shape=(5, 6), flip=False)


def test_batch_of_differently_padded_images_predicts_each_one_alone(model):
    """Paddings that differ cannot be cropped off the batch at once: each
    image goes through the model without its padding, as if alone."""
    sizes = [(48, 64), (64, 40), (48, 64)]
    inputs = torch.randn(3, 3, 64, 64,
                         generator=torch.Generator().manual_seed(1))
    samples = []
    for height, width in sizes:
        sample = SegDataSample()
        sample.set_metainfo(dict(ori_shape=(height, width),
                                 img_shape=(height, width),
                                 padding_size=(0, 64 - width, 0, 64 - height)))
        samples.append(sample)
    with torch.no_grad():
        cropped_inputs, cropped = model.crop_padding(inputs, samples)
        assert not cropped and cropped_inputs is inputs
        results = [(r.seg_logits.data.clone(), r.pred_sem_seg.data.clone())
                   for r in model.predict(inputs, samples)]
        for index, (height, width) in enumerate(sizes):
            image = inputs[index:index + 1, :, :height, :width]
            output = model.predict_masks(image)
            masks = resize_region(output.mask_logits, output.mask_region,
                                  (height, width))
            expected = eq9_scores(output.cls_logits, masks)
            scores, labels = results[index]
            torch.testing.assert_close(scores, expected[0], rtol=1e-5,
                                       atol=1e-6)
            assert torch.equal(labels, expected.argmax(1))
            padded = model.predict_masks(inputs[index:index + 1])
            assert not torch.allclose(padded.cls_logits, output.cls_logits,
                                      atol=1e-3)


def test_samples_without_metainfo_are_predicted_at_the_input_size(model):
    batch = make_batch([(64, 64)])
    with torch.no_grad():
        inputs = model.data_preprocessor(batch, training=False)['inputs']
        output = model.predict_masks(inputs)
        masks = resize_region(output.mask_logits, output.mask_region,
                              (64, 64))
        expected = eq9_scores(output.cls_logits, masks)
        no_samples = model.predict(inputs)[0]
        bare = SegDataSample()
        bare.set_metainfo(dict(img_shape=(64, 64)))
        no_shape = model.predict(inputs, [bare])[0]
    assert_prediction(no_samples, expected)
    assert_prediction(no_shape, expected)


def test_encode_decode_gives_the_eq9_scores_of_predict(model):
    batch = make_batch([(64, 64)], seed=4)
    with torch.no_grad():
        data = model.data_preprocessor(batch, training=False)
        metas = [sample.metainfo for sample in data['data_samples']]
        scores = model.encode_decode(data['inputs'], metas)
        result = model.predict(data['inputs'], data['data_samples'])[0]
    assert scores.shape == (1, 3, 64, 64)
    assert_prediction(result, scores)


def test_masks_of_an_image_that_fills_the_canvas_show_it_whole(model):
    """A 64 x 64 input fills the global view and the slice canvas: the
    whole mask map shows the image (mask_region is the map's size)."""
    with torch.no_grad():
        output = model.predict_masks(torch.randn(1, 3, 64, 64))
    assert output.mask_region == pytest.approx(
        tuple(float(size) for size in output.mask_logits.shape[-2:]))
