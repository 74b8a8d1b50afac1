"""Mask proposals, by value against the segmentor's own predict."""
import importlib.util
import json
import os

import cv2
import numpy as np
import pytest
import torch
import torch.nn.functional as F

from mrovseg_mmseg.apis import OVSegInferencer, Proposal
from mrovseg_mmseg.apis.proposals import top_proposals, winning_terms
from mrovseg_mmseg.models.segmentors.mrovseg import without_padding
from mrovseg_mmseg.visualization import draw_proposals

ROOT = os.path.join(os.path.dirname(__file__), '..', '..')
CONFIG = os.path.join(ROOT, 'configs', 'mrovseg_tiny_shapes64.py')
VOCABULARY = ['cat', 'dog', 'sky, heaven', 'tree', 'car']
SIZE = (50, 90)


@pytest.fixture(scope='module')
def inferencer():
    return OVSegInferencer(CONFIG, device='cpu', vocabulary=VOCABULARY)


@pytest.fixture(scope='module')
def image():
    rng = np.random.default_rng(3)
    return rng.integers(0, 256, (*SIZE, 3), dtype=np.uint8)


@pytest.fixture(scope='module')
def reference(inferencer, image):
    """What the segmentor computes itself: predict's label map and (K, H, W)
    Eq. 9 scores, and the full (N, H, W) sigmoids and (N, K + 1) class
    probabilities of ``predict_masks``."""
    model = inferencer.model
    packed = inferencer.pipeline(
        dict(
            img=np.ascontiguousarray(image[..., ::-1]),
            img_shape=SIZE,
            ori_shape=SIZE))
    saved = dict(model.test_cfg)
    model.test_cfg['output_logits'] = True
    try:
        with torch.no_grad():
            data = model.data_preprocessor(
                dict(
                    inputs=[packed['inputs']],
                    data_samples=[packed['data_samples']]), False)
            sample = model(**data, mode='predict')[0]
            inputs, cropped = model.crop_padding(data['inputs'],
                                                 data['data_samples'])
            meta = data['data_samples'][0].metainfo
            if cropped:
                meta = without_padding(meta)
            output = model.predict_masks(inputs)
            masks = model.restore_masks(output.mask_logits, inputs.shape[-2:],
                                        meta, output.mask_region)
    finally:
        model.test_cfg.clear()
        model.test_cfg.update(saved)
    sigmoid = F.interpolate(
        masks, size=SIZE, mode='bilinear', align_corners=False)[0].sigmoid()
    return dict(
        labels=sample.pred_sem_seg.data[0],
        scores=sample.seg_logits.data,  # (K, H, W)
        cls_logits=output.cls_logits,
        masks=masks,
        probs=F.softmax(output.cls_logits, dim=-1)[0],  # (N, K + 1)
        sigmoid=sigmoid)  # (N, H, W)


def brute_force_shares(reference):
    """Each proposal's share of the winning score from (N, H, W) tensors."""
    labels = reference['labels']
    # (N, K + 1)[:, (H, W)] -> (N, H, W)
    terms = reference['probs'][:, labels] * reference['sigmoid']
    sums = terms.sum(dim=(1, 2)).double()
    return sums / sums.sum()


def test_terms_sum_to_predicts_winning_score(reference):
    labels = reference['labels'].numpy()
    bands = list(
        winning_terms(reference['cls_logits'], reference['masks'], labels, 7))
    assert [start for start, _ in bands] == list(range(0, SIZE[0], 7))
    terms = torch.cat([band for _, band in bands], dim=1)  # (N, H, W)
    assert terms.shape == (16, *SIZE)
    winning = reference['scores'].max(dim=0).values  # (H, W)
    torch.testing.assert_close(terms.sum(dim=0), winning, atol=1e-5, rtol=1e-5)
    expected = reference['probs'][:,
                                  reference['labels']] * reference['sigmoid']
    torch.testing.assert_close(terms, expected, atol=1e-5, rtol=1e-5)


def test_top_proposals_are_the_largest_shares(inferencer, image, reference,
                                              monkeypatch):
    monkeypatch.setattr(inferencer, 'pixels_per_chunk', 200)  # 2-row bands
    result = inferencer(image, return_proposals=5)[0]
    assert np.array_equal(result.label_map, reference['labels'].numpy())
    shares = brute_force_shares(reference)
    order = sorted(range(len(shares)), key=lambda n: -float(shares[n]))
    gaps = shares[order[:6]].diff().abs()
    assert gaps.min() > 1e-6  # the ranking is not decided by rounding
    assert [p.index for p in result.proposals] == order[:5]
    assert [p.contribution for p in result.proposals] == pytest.approx(
        shares[order[:5]].tolist(), rel=1e-5)

    every = inferencer(image, return_proposals=100)[0].proposals
    assert [p.index for p in every] == order
    assert sum(p.contribution for p in every) == pytest.approx(1.0)


def test_class_scores_and_masks_are_the_models(inferencer, image, reference):
    probs, sigmoid = reference['probs'], reference['sigmoid']
    proposals = inferencer(image, return_proposals=4)[0].proposals
    assert len(proposals) == 4
    for proposal in proposals:
        n = proposal.index
        best = int(probs[n, :-1].argmax())
        assert proposal.class_index == best
        assert proposal.class_name == VOCABULARY[best]
        assert proposal.score == pytest.approx(float(probs[n, best]), rel=1e-5)
        assert proposal.no_object == pytest.approx(
            float(probs[n, -1]), rel=1e-5)
        assert proposal.mask.shape == SIZE and proposal.mask.dtype == bool
        expected = (sigmoid[n] > 0.5).numpy()
        differ = proposal.mask != expected
        near = (sigmoid[n] - 0.5).abs().numpy() < 1e-5
        assert not (differ & ~near).any()  # only where resizing rounds
        assert 0 < proposal.mask.sum() < proposal.mask.size
        assert proposal.area == pytest.approx(proposal.mask.mean())


def test_shares_and_best_classes_by_hand():
    """Proposal 0 is mostly no object over the whole image, proposal 1 is
    class 'a' on the left half: S_a = .1 + .6 beats S_b = .2 + .3 on the
    left, S_b = .2 beats S_a = .1 on the right."""
    cls_logits = torch.tensor([[[.1, .2, .7], [.6, .3, .1]]]).log()
    masks = torch.full((1, 2, 4, 6), 20.0)
    masks[0, 1, :, 3:] = -20.0
    labels = np.zeros((4, 6), np.uint8)
    labels[:, 3:] = 1
    first, second = top_proposals(
        cls_logits, masks, labels, ['a', 'b'], 5, pixels_per_chunk=12)
    # winning terms: left .1 and .6, right .2 and 0, 12 pixels each
    assert (second.index, first.index) == (0, 1)
    assert first.contribution == pytest.approx(7.2 / 10.8)
    assert second.contribution == pytest.approx(3.6 / 10.8)
    assert (second.class_name, second.score,
            second.no_object) == ('b', pytest.approx(.2), pytest.approx(.7))
    assert (first.class_name, first.score,
            first.no_object) == ('a', pytest.approx(.6), pytest.approx(.1))
    assert np.array_equal(first.mask, labels == 0) and first.area == .5
    assert second.mask.all() and second.area == 1


@pytest.mark.parametrize('count', [-1, 1.5, True, '3'])
def test_bad_proposal_counts_are_named(inferencer, image, count):
    with pytest.raises(ValueError, match=f'return_proposals={count!r}'):
        inferencer(image, return_proposals=count)
    assert inferencer(image)[0].proposals is None


def test_picture_tiles_show_each_mask_in_its_class_colour(image):
    mask = np.zeros(SIZE, bool)
    mask[10:30, 20:60] = True
    proposals = [
        Proposal(n, 1 - n % 2, 'ba'[n % 2], 0.5, 0.1, 0.2, float(mask.mean()),
                 mask if n % 2 else ~mask) for n in range(5)
    ]
    palette = [[255, 0, 0], [0, 0, 255]]
    picture = draw_proposals(
        image, proposals, palette, tile_side=180, columns=3)
    # tiles of 180 x 100 (the image's ratio), at least 200 wide for the
    # captions, 8 px apart; 3 caption lines of 18 px + 6 under each
    assert picture.shape == (8 + 2 * (100 + 60 + 8), 8 + 3 * (200 + 8), 3)
    black = np.zeros((*SIZE, 3), np.uint8)
    picture = draw_proposals(black, proposals[:2], palette, tile_side=180)
    # tile 0: proposal 0, class 1 (blue) outside the rectangle; tile 1:
    # proposal 1, class 0 (red) inside; image pixel (y, x) is at 2 (y, x)
    assert picture[8 + 40, 8 + 80].tolist() == [22, 22, 22]  # dimmed black
    assert picture[8 + 90, 8 + 10].tolist() == [0, 0, 140]  # blended blue
    assert picture[8 + 40, 8 + 208 + 80].tolist() == [140, 0, 0]
    assert (picture[8 + 100:8 + 160, 8:208] < 128).any()  # caption text


def test_infer_tool_writes_the_proposals_picture_and_summary(
        inferencer, image, tmp_path, capsys):
    spec = importlib.util.spec_from_file_location(
        'infer_tool', os.path.join(ROOT, 'tools', 'infer.py'))
    tool = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(tool)
    cv2.imwrite(str(tmp_path / 'a.png'), image[..., ::-1])
    arguments = [
        str(tmp_path / 'a.png'), '--config', CONFIG, '--classes', *VOCABULARY,
        '--device', 'cpu', '--out-dir',
        str(tmp_path / 'out')
    ]
    assert tool.main(arguments + ['--show-proposals', '3']) == 0
    summary = json.loads((tmp_path / 'out' / 'summary.json').read_text())
    listed = summary['images'][str(tmp_path / 'a.png')]['proposals']
    expected = inferencer(image, return_proposals=3)[0].proposals
    assert listed == [item.summary() for item in expected]
    picture = cv2.imread(str(tmp_path / 'out' / 'proposals' / 'a.png'))
    assert picture.shape == (8 + 142 + 60 + 8, 8 + 3 * (256 + 8), 3)

    assert tool.main(arguments + ['--out-dir', str(tmp_path / 'none')]) == 0
    summary = json.loads((tmp_path / 'none' / 'summary.json').read_text())
    assert 'proposals' not in summary['images'][str(tmp_path / 'a.png')]
    assert not (tmp_path / 'none' / 'proposals').exists()
    assert tool.main(arguments + ['--show-proposals', '-1']) == 2
    assert '--show-proposals -1: give a count >= 0' in capsys.readouterr().err
