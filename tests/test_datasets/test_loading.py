"""LoadAnnotations16 keeps 16-bit labels; both loaders name bad files."""
from pathlib import Path

import numpy as np
import pytest
import torch
from mmcv.transforms import RandomFlip
from mmengine.config import Config
from mmseg.datasets.transforms import (LoadAnnotations, PackSegInputs,
                                       RandomCrop)
from mmseg.models.data_preprocessor import SegDataPreProcessor

from mrovseg_mmseg.datasets.transforms import (LoadAnnotations16,
                                               LoadImageChecked)
from .fakes import write_image, write_label

CONFIGS = Path(__file__).resolve().parents[2] / 'configs/_base_/datasets'
BENCHMARKS = ('coco_stuff171', 'ade150', 'ade847', 'pascal_context59',
              'pascal_context459', 'voc20', 'cityscapes19')
LABELS_16 = np.array([[0, 255, 256, 300], [846, 65535, 1, 300]],
                     dtype=np.uint16)


def load(path, **sample):
    return LoadAnnotations16()(dict(seg_map_path=str(path), **sample))


@pytest.mark.parametrize('suffix', ['.tif', '.png'])
def test_uint16_files_keep_every_value(tmp_path, suffix):
    path = tmp_path / f'label{suffix}'
    write_label(path, LABELS_16)
    out = load(path, ignore_index=65535, num_classes=847)
    assert out['gt_seg_map'].dtype == np.uint16
    np.testing.assert_array_equal(out['gt_seg_map'], LABELS_16)
    assert out['seg_fields'] == ['gt_seg_map']


@pytest.mark.parametrize('name', BENCHMARKS)
def test_benchmark_pipelines_load_labels_with_the_16_bit_loader(name):
    """mmseg's LoadAnnotations reads a label file as uint8, so 300 would
    become 44 and 65535 become 255: every benchmark loads with ours."""
    config = Config.fromfile(CONFIGS / f'{name}.py')
    for pipeline in (config.train_pipeline, config.test_pipeline):
        loaders = [step['type'] for step in pipeline
                   if step['type'].startswith('LoadAnnotations')]
        assert loaders == ['LoadAnnotations16']


def test_reduce_zero_label_with_ignore_65535(tmp_path):
    path = tmp_path / 'label.tif'
    write_label(path, LABELS_16)
    out = load(path, ignore_index=65535, reduce_zero_label=True)
    expected = np.array([[65535, 254, 255, 299], [845, 65535, 0, 299]])
    np.testing.assert_array_equal(out['gt_seg_map'], expected)


def test_reduce_zero_label_with_ignore_255_matches_mmseg(tmp_path):
    labels = np.array([[0, 1, 150, 255], [2, 0, 255, 149]], dtype=np.uint8)
    path = tmp_path / 'label.png'
    write_label(path, labels)
    ours = load(path, reduce_zero_label=True, num_classes=150)['gt_seg_map']
    theirs = LoadAnnotations()(dict(
        seg_map_path=str(path), reduce_zero_label=True,
        seg_fields=[]))['gt_seg_map']
    assert ours.dtype == np.uint8
    np.testing.assert_array_equal(ours, theirs)
    np.testing.assert_array_equal(ours,
                                  [[255, 0, 149, 255], [1, 255, 255, 148]])


def test_label_map_of_a_class_subset_sends_dropped_classes_to_ignore(tmp_path):
    path = tmp_path / 'label.tif'
    write_label(path, LABELS_16)
    label_map = {i: 65535 for i in range(847)}
    label_map.update({300: 0, 846: 1})
    out = load(path, ignore_index=65535, label_map=label_map, num_classes=2)
    expected = np.full(LABELS_16.shape, 65535)
    expected[0, 3] = expected[1, 3] = 0
    expected[1, 0] = 1
    np.testing.assert_array_equal(out['gt_seg_map'], expected)


def test_value_outside_the_classes_names_file_and_value(tmp_path):
    path = tmp_path / 'ADE_val_00000001.png'
    write_label(path, np.array([[0, 151], [3, 200]], dtype=np.uint8))
    with pytest.raises(ValueError) as err:
        load(path, reduce_zero_label=True, num_classes=150)
    message = str(err.value)
    assert str(path) in message
    assert '151 (class id 150 after reduce_zero_label' in message
    assert '200 (class id 199' in message
    assert '0..149' in message and 'ignore index 255' in message


def test_16_bit_value_outside_the_classes(tmp_path):
    path = tmp_path / 'label.tif'
    write_label(path, LABELS_16)
    with pytest.raises(ValueError, match=r'label\.tif holds value 846'):
        load(path, ignore_index=65535, num_classes=459)


def test_missing_and_undecodable_label_files(tmp_path):
    missing = tmp_path / 'missing.png'
    with pytest.raises(FileNotFoundError, match=str(missing)):
        load(missing)
    garbage = tmp_path / 'garbage.png'
    garbage.write_bytes(b'not a png')
    with pytest.raises(
            ValueError, match=f'cannot decode label map '
            f'{garbage}'):
        load(garbage)


def test_colour_label_map_is_refused(tmp_path):
    path = tmp_path / 'colour.png'
    write_image(path, 4, 5)
    with pytest.raises(ValueError, match=r'colour\.png has shape \(4, 5, 3\)'):
        load(path)


def test_sample_without_label_passes_through():
    sample = dict(img_path='x.jpg')
    assert LoadAnnotations16()(sample) == dict(img_path='x.jpg')


def test_load_image_checked_names_bad_images(tmp_path):
    good = tmp_path / 'good.jpg'
    write_image(good, 3, 4)
    assert LoadImageChecked()(dict(img_path=str(good)))['img'].shape == (3, 4,
                                                                         3)
    with pytest.raises(FileNotFoundError, match=str(tmp_path / 'no.jpg')):
        LoadImageChecked()(dict(img_path=str(tmp_path / 'no.jpg')))
    for name, data in (('garbage.jpg', b'not a jpeg'), ('empty.jpg', b'')):
        (tmp_path / name).write_bytes(data)
        for backend in ('cv2', 'pillow'):
            with pytest.raises(OSError, match=f'cannot decode image .*{name}'):
                LoadImageChecked(imdecode_backend=backend)(
                    dict(img_path=str(tmp_path / name)))


def test_16_bit_labels_survive_training_transforms_and_padding(tmp_path):
    """Crop/flip keep class 300; the preprocessor pads with 65535."""
    path = tmp_path / 'label.tif'
    labels = np.full((6, 8), 300, dtype=np.uint16)
    labels[0, 0] = 65535
    write_label(path, labels)
    sample = load(path, ignore_index=65535, num_classes=847)
    sample['img'] = np.zeros((6, 8, 3), dtype=np.uint8)
    sample['img_shape'] = sample['ori_shape'] = (6, 8)
    sample = RandomCrop(crop_size=(6, 8), ignore_index=65535)(sample)
    sample = RandomFlip(prob=1.0)(sample)
    packed = PackSegInputs()(sample)
    gt = packed['data_samples'].gt_sem_seg.data
    assert gt.dtype == torch.int64 and gt[0, 0, 7] == 65535
    assert (gt == 300).sum() == 47
    preprocessor = SegDataPreProcessor(size=(8, 10), seg_pad_val=65535)
    batch = preprocessor(
        dict(inputs=[packed['inputs']], data_samples=[packed['data_samples']]),
        training=True)
    padded = batch['data_samples'][0].gt_sem_seg.data[0]
    assert padded.shape == (8, 10)
    assert (padded == 300).sum() == 47
    assert (padded == 65535).sum() == 8 * 10 - 47
