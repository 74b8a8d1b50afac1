"""Predicted label maps written during testing keep every class id."""
import numpy as np
import pytest
import torch
from mmseg.registry import METRICS
from PIL import Image


def _write(tmp_path, labels, num_classes):
    writer = METRICS.build(
        dict(type='LabelMapWriter', out_dir=str(tmp_path / 'out')))
    writer.dataset_meta = dict(classes=[f'c{i}' for i in range(num_classes)])
    sample = dict(img_path='/data/images/scene_01.jpg',
                  pred_sem_seg=dict(data=torch.as_tensor(labels)[None]))
    writer.process({}, [sample])
    assert writer.compute_metrics([]) == {}
    return np.asarray(Image.open(tmp_path / 'out' / 'scene_01.png'))


def test_ids_above_255_survive_the_round_trip(tmp_path):
    labels = np.array([[0, 255, 256], [300, 846, 7]], dtype=np.int64)
    written = _write(tmp_path, labels, 847)
    assert written.dtype == np.uint16
    np.testing.assert_array_equal(written, labels)


def test_up_to_256_classes_are_written_as_8_bit(tmp_path):
    labels = np.array([[0, 149], [255, 3]], dtype=np.int64)
    written = _write(tmp_path, labels, 256)
    assert written.dtype == np.uint8
    np.testing.assert_array_equal(written, labels)


def test_a_label_that_does_not_fit_is_refused(tmp_path):
    with pytest.raises(ValueError, match='scene_01.png'):
        _write(tmp_path, np.array([[0, 300]]), 150)
