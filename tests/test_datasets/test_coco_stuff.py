"""COCO-Stuff: stuffthingmaps -> converter -> COCOStuff171Dataset."""
import numpy as np
import pytest

from mrovseg_mmseg.datasets import COCOStuff171Dataset
from .fakes import fake_coco_stuff, write_label
from .helpers import build, gt_maps


def prepare(tmp_path, converter, **kwargs):
    root = tmp_path / 'coco_stuff164k'
    stored = fake_coco_stuff(root, **kwargs)
    converter('coco_stuff164k').main([str(root), '--splits', *stored])
    return root, stored


def test_converted_labels_load_as_train_ids(tmp_path, converter):
    root, stored = prepare(tmp_path, converter)
    dataset = build(COCOStuff171Dataset, root, 'images/val2017',
                    'annotations/val2017')
    assert len(dataset) == 1
    # raw id -> train id: person 0 -> 0, unused 'street sign' 11 -> ignore,
    # banner 91 -> 80, wood 181 -> 170, bicycle 1 -> 1, hair brush 90
    # (unused) -> ignore, unlabelled 255 stays.
    expected = np.array([[0, 255, 80, 170], [255, 0, 80, 170],
                         [1, 1, 255, 255]])
    (gt, ) = gt_maps(dataset)
    assert gt.dtype == np.uint8
    np.testing.assert_array_equal(gt, expected)
    raw = COCOStuff171Dataset.METAINFO['raw_classes']
    assert (raw[80], raw[170]) == ('banner', 'wood')
    assert dataset[0]['num_classes'] == 171


def test_both_splits(tmp_path, converter):
    root, _ = prepare(tmp_path, converter, splits=('train2017', 'val2017'))
    for split in ('train2017', 'val2017'):
        assert len(
            list((root / 'annotations' /
                  split).glob('*_labelTrainIds.png'))) == 1


def test_unknown_raw_value_names_file_and_value(tmp_path, converter,
                                                preparation_error):
    raw = np.array([[0, 200], [182, 1]], dtype=np.uint8)
    with pytest.raises(preparation_error) as err:
        prepare(tmp_path, converter, raw=raw)
    message = str(err.value)
    assert 'annotations/val2017/000000000001.png' in message
    assert 'value 182, 200' in message


def test_missing_label_file_is_named(tmp_path, converter, preparation_error):
    root = tmp_path / 'coco_stuff164k'
    fake_coco_stuff(root)
    label = root / 'annotations' / 'val2017' / '000000000001.png'
    label.unlink()
    with pytest.raises(preparation_error, match=f'missing label file {label}'):
        converter('coco_stuff164k').main([str(root), '--splits', 'val2017'])


def test_missing_archive_folder_is_named(tmp_path, converter,
                                         preparation_error):
    with pytest.raises(
            preparation_error, match='images/val2017 .*val2017.zip'):
        converter('coco_stuff164k').main(
            [str(tmp_path), '--splits', 'val2017'])


def test_dataset_names_a_missing_converted_label(tmp_path, converter):
    root, _ = prepare(tmp_path, converter)
    converted = root / 'annotations/val2017/000000000001_labelTrainIds.png'
    converted.unlink()
    with pytest.raises(FileNotFoundError) as err:
        build(COCOStuff171Dataset, root, 'images/val2017',
              'annotations/val2017')
    assert str(converted) in str(err.value)
    assert 'coco_stuff164k.py' in str(err.value)


def test_unreadable_image_is_named_when_loaded(tmp_path, converter):
    root, _ = prepare(tmp_path, converter)
    image = root / 'images/val2017/000000000001.jpg'
    image.write_bytes(b'\x00' * 10)
    dataset = build(COCOStuff171Dataset, root, 'images/val2017',
                    'annotations/val2017')
    with pytest.raises(OSError, match=f'cannot decode image {image}'):
        dataset[0]


def test_out_of_range_train_id_is_named_when_loaded(tmp_path, converter):
    root, _ = prepare(tmp_path, converter)
    converted = root / 'annotations/val2017/000000000001_labelTrainIds.png'
    write_label(converted, np.array([[0, 171]], dtype=np.uint8))
    dataset = build(COCOStuff171Dataset, root, 'images/val2017',
                    'annotations/val2017')
    with pytest.raises(ValueError, match=f'{converted} holds value 171'):
        dataset[0]
