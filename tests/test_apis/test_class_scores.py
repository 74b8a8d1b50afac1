"""The class scores OVSegInferencer and tools/infer.py report: the mean
probability of each class over the pixels labelled with it."""
import importlib.util
import json
import os

import cv2
import numpy as np
import pytest

from mrovseg_mmseg.apis import OVSegInferencer
from mrovseg_mmseg.apis import inferencer as inferencer_module
from .fixed_scores import CLASSES, FOUND, LABELS, SCORES, fixed_score_rows

ROOT = os.path.join(os.path.dirname(__file__), '..', '..')
CONFIG = os.path.join(ROOT, 'configs', 'mrovseg_tiny_shapes64.py')


@pytest.fixture(scope='module')
def inferencer():
    """Scores one row at a time for the images of fixed_scores."""
    return OVSegInferencer(
        CONFIG, device='cpu', vocabulary=CLASSES, pixels_per_chunk=3)


def assert_found(found, expected):
    """``found``: (index, name, area, score) per class, as FOUND has them."""
    assert [item[:2] for item in found] == [item[:2] for item in expected]
    assert [item[2:] for item in found
            ] == [pytest.approx(item[2:], abs=1e-6) for item in expected]


@pytest.mark.parametrize('size', sorted(SCORES))
def test_scores_are_mean_probabilities_over_each_class(inferencer, monkeypatch,
                                                       size):
    monkeypatch.setattr(inferencer_module, 'score_rows', fixed_score_rows)
    result = inferencer(np.zeros((*size, 3), np.uint8), return_probs=True)[0]
    np.testing.assert_array_equal(result.label_map, LABELS[size])
    assert_found([(item.index, item.name, item.area, item.score)
                  for item in result.found], FOUND[size])
    scores = np.array(SCORES[size], np.float64)  # (H, W, K)
    probs = np.rint(255 * scores / scores.sum(-1, keepdims=True))
    np.testing.assert_array_equal(result.prob_maps, probs.transpose(2, 0, 1))


def test_model_scores_agree_with_the_probability_maps(inferencer):
    rng = np.random.default_rng(5)
    image = rng.integers(0, 256, (40, 60, 3), dtype=np.uint8)
    result = inferencer(image, return_probs=True)[0]
    assert result.found
    for item in result.found:
        mask = result.label_map == item.index
        assert item.area == (mask.sum() / mask.size)
        # the maps hold each probability rounded to a multiple of 1/255
        mean_prob = result.prob_maps[item.index][mask].mean() / 255
        assert abs(item.score - mean_prob) <= 0.5 / 255 + 1e-6


@pytest.fixture(scope='module')
def infer_tool():
    spec = importlib.util.spec_from_file_location(
        'infer_tool', os.path.join(ROOT, 'tools', 'infer.py'))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_infer_tool_summary_has_each_images_scores_and_their_mean(
        infer_tool, tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(inferencer_module, 'score_rows', fixed_score_rows)
    for name, size in (('a', (2, 3)), ('b', (2, 2))):
        cv2.imwrite(str(tmp_path / f'{name}.png'), np.zeros((*size, 3)))
    out = tmp_path / 'out'
    status = infer_tool.main([
        str(tmp_path / 'a.png'),
        str(tmp_path / 'b.png'), '--config', CONFIG, '--classes', *CLASSES,
        '--out-dir',
        str(out), '--device', 'cpu'
    ])
    assert status == 0
    summary = json.loads((out / 'summary.json').read_text())
    for name, size in (('a', (2, 3)), ('b', (2, 2))):
        found = summary['images'][str(tmp_path / f'{name}.png')]['found']
        assert_found(
            [(item['index'], item['name'], item['area'], item['score'])
             for item in found], FOUND[size])
        assert [item['pixels'] for item in found] == [
            round(area * size[0] * size[1]) for _, _, area, _ in FOUND[size]
        ]
        labels = cv2.imread(
            str(out / 'labels' / f'{name}.png'), cv2.IMREAD_UNCHANGED)
        np.testing.assert_array_equal(labels, LABELS[size])
    # over the 10 pixels: sofa 2 + 2 pixels at .5 and .75; sky 3 pixels,
    # mean 2.5 / 3; tree 1 pixel at .75 and 2 at a mean of .875
    table = capsys.readouterr().out.split('\n')
    start = table.index('class        images    area  score')
    assert table[start + 1:start + 4] == [
        'sofa, couch       2   40.0%  0.625',
        'sky               1   30.0%  0.833',
        'tree              2   30.0%  0.833',
    ]
