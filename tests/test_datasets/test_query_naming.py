"""Found versus named through a model's own queries, on a hand-built
scene whose query masks and class logits are known."""
import numpy as np
import pytest
import torch

from mrovseg_mmseg.datasets.detail_twin_world import (DETAIL_TWIN_CLASSES,
                                                      TWIN_CLASSES, TWIN_OF)
from mrovseg_mmseg.evaluation.query_naming import query_naming
from mrovseg_mmseg.models.decode_heads.mrovseg_head import HeadOutput

OBJECTS = [
    dict(id=1, name='checkered red', kind='small'),
    dict(id=2, name='plain blue', kind='thin'),
    dict(id=3, name='grey', kind='large'),
]


class FakeModel:
    """predict_masks returns fixed logits: query 0 covers the small object,
    query 1 three of the bar's eight pixels, query 2 nothing."""

    def __init__(self, class_scores):
        masks = torch.full((1, 3, 8, 8), -10.0)
        masks[0, 0, :2, :2] = 10.0
        masks[0, 1, 5, :3] = 10.0
        cls = torch.zeros(1, 3, len(TWIN_CLASSES) + 1)
        for name, score in class_scores.items():
            cls[0, 0, TWIN_CLASSES.index(name)] = score
        self.output = HeadOutput(cls, masks, None)

    def predict_masks(self, inputs):
        return self.output


def _scene():
    instances = np.full((8, 8), 3, np.uint8)
    instances[:2, :2] = 1
    instances[5] = 2
    return torch.zeros(1, 3, 8, 8), instances, OBJECTS


def _run(scores, **kwargs):
    return query_naming(FakeModel(scores), [_scene()], TWIN_CLASSES,
                        TWIN_OF, **kwargs)


def test_found_and_named_by_hand():
    result = _run({'checkered red': 3.0, 'plain red': 1.0},
                  keep=DETAIL_TWIN_CLASSES)
    assert result['objects'] == 2 and result['found_count'] == 1
    assert result['found'] == pytest.approx(50.0)
    assert result['mean_best_iou'] == pytest.approx(100 * (1 + 3 / 8) / 2)
    assert result['named'] == pytest.approx(100.0)
    assert result['named_in_pair'] == pytest.approx(100.0)


def test_named_in_pair_ignores_other_classes():
    result = _run({'orange': 5.0, 'checkered red': 3.0, 'plain red': 1.0})
    assert result['named'] == 0.0
    assert result['named_in_pair'] == pytest.approx(100.0)
    result = _run({'plain red': 3.0, 'checkered red': 1.0})
    assert result['named'] == 0.0 and result['named_in_pair'] == 0.0


def test_a_lower_threshold_finds_the_bar():
    result = _run({'checkered red': 3.0}, min_iou=0.3)
    assert result['found'] == pytest.approx(100.0)
    # the bar's query names nothing: all its logits are 0, argmax class 0
    assert result['named'] == pytest.approx(50.0)
