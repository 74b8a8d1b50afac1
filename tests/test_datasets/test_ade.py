"""ADE-150 (official layout, checked) and ADE-847 (full release converted)."""
import numpy as np
import pytest
from PIL import Image

from mrovseg_mmseg.datasets import ADE150Dataset, ADE847Dataset
from .fakes import (ADE_ID_300, ADE_LAST, ADE_OTHER, ADE_WALL, ade_objectnames,
                    fake_ade150, fake_ade847, write_label)
from .helpers import build, gt_maps

IGNORE = 65535


def test_ade150_checked_and_zero_reduced(tmp_path, converter):
    root = tmp_path / 'ADEChallengeData2016'
    fake_ade150(root, splits=('training', 'validation'))
    converter('ade20k_150').main(
        [str(root), '--splits', 'training', 'validation'])
    dataset = build(ADE150Dataset, root, 'images/validation',
                    'annotations/validation')
    (gt, ) = gt_maps(dataset)
    np.testing.assert_array_equal(gt, [[255, 0, 1, 149], [149, 7, 255, 0]])
    assert ADE150Dataset.METAINFO['classes'][149] == 'flag'


def test_ade150_value_outside_classes(tmp_path, converter, preparation_error):
    root = tmp_path / 'ADEChallengeData2016'
    fake_ade150(root, labels=np.array([[0, 151]], dtype=np.uint8))
    label = root / 'annotations/validation/ADE_val_00000001.png'
    with pytest.raises(preparation_error, match=f'{label} holds value 151'):
        converter('ade20k_150').main([str(root)])
    dataset = build(ADE150Dataset, root, 'images/validation',
                    'annotations/validation')
    with pytest.raises(ValueError, match=f'{label} holds value 151'):
        dataset[0]


def test_ade150_missing_label(tmp_path, converter, preparation_error):
    root = tmp_path / 'ADEChallengeData2016'
    fake_ade150(root)
    label = root / 'annotations/validation/ADE_val_00000001.png'
    label.unlink()
    with pytest.raises(preparation_error, match=f'missing label file {label}'):
        converter('ade20k_150').main([str(root)])


def ade847_classes():
    """Class values of one validation image and the train ids expected."""
    classes = np.array([[ADE_WALL, ADE_ID_300, ADE_LAST, 0],
                        [ADE_OTHER, ADE_ID_300, ADE_WALL, ADE_LAST],
                        [0, 0, ADE_ID_300, ADE_WALL]])
    table = {
        ADE_WALL: 0,
        ADE_ID_300: 300,
        ADE_LAST: 846,
        0: IGNORE,
        ADE_OTHER: IGNORE
    }
    return classes, np.vectorize(table.get)(classes)


def prepare_ade847(tmp_path, converter, *extra_args, **fake_kwargs):
    root = tmp_path / 'ade' / 'ADE20K_2021_17_01'
    root.mkdir(parents=True)
    classes, expected = ade847_classes()
    fake_ade847(root, {
        'ADE_val_00000001.jpg': classes,
        'ADE_train_00000001.jpg': classes[:2]
    }, **fake_kwargs)
    converter('ade20k_847').main([str(root), *extra_args])
    return root, expected


def test_ade847_converted_to_uint16_train_ids(tmp_path, converter):
    root, expected = prepare_ade847(tmp_path, converter)
    label = root / 'annotations_847/validation/ADE_val_00000001.tif'
    with Image.open(label) as image:
        assert image.mode == 'I;16'
    assert not (root / 'annotations_847' / 'training').exists()
    dataset = build(ADE847Dataset, root, 'images_847/validation',
                    'annotations_847/validation')
    (gt, ) = gt_maps(dataset)
    assert gt.dtype == np.uint16
    np.testing.assert_array_equal(gt, expected)
    sample = dataset[0]
    assert (sample['ignore_index'], sample['num_classes']) == (IGNORE, 847)
    assert sample['img'].shape == (3, 4, 3)


def test_ade847_resizes_short_side_like_the_benchmark(tmp_path, converter):
    root, _ = prepare_ade847(tmp_path, converter, '--max-short-side', '2',
                             '--splits', 'training', 'validation')
    dataset = build(ADE847Dataset, root, 'images_847/validation',
                    'annotations_847/validation')
    sample = dataset[0]
    # 3x4 -> short side 2: 2 x round(4 / 3 * 2) = 2x3, nearest labels.
    assert sample['img'].shape == (2, 3, 3)
    assert sample['gt_seg_map'].shape == (2, 3)
    assert set(np.unique(sample['gt_seg_map'])) <= {0, 300, 846, IGNORE}
    train = build(ADE847Dataset, root, 'images_847/training',
                  'annotations_847/training')
    assert train[0]['gt_seg_map'].shape == (2, 4)  # short side already 2


def test_ade847_refuses_an_index_with_other_class_names(
        tmp_path, converter, preparation_error):
    names = ade_objectnames()
    names[ADE_WALL - 1] = 'mural'
    with pytest.raises(preparation_error, match="is 'mural', expected 'wall'"):
        prepare_ade847(tmp_path, converter, objectnames=names)


def test_ade847_class_value_beyond_the_index(tmp_path, converter,
                                             preparation_error):
    root = tmp_path / 'ADE20K_2021_17_01'
    root.mkdir()
    classes = np.array([[ADE_WALL, 3300]])
    fake_ade847(root, {'ADE_val_00000001.jpg': classes})
    with pytest.raises(preparation_error) as err:
        converter('ade20k_847').main([str(root)])
    assert 'ADE_val_00000001_seg.png holds class value 3300' in str(err.value)


def test_ade847_missing_segmentation_file(tmp_path, converter,
                                          preparation_error):
    root = tmp_path / 'ADE20K_2021_17_01'
    root.mkdir()
    fake_ade847(root, {'ADE_val_00000001.jpg': np.array([[ADE_WALL]])})
    seg = next(root.rglob('*_seg.png'))
    seg.unlink()
    with pytest.raises(
            preparation_error, match=f'missing segmentation file {seg}'):
        converter('ade20k_847').main([str(root)])


def test_ade847_missing_index(tmp_path, converter, preparation_error):
    with pytest.raises(preparation_error, match='index_ade20k.pkl'):
        converter('ade20k_847').main([str(tmp_path)])


def test_ade847_dataset_names_value_outside_classes(tmp_path, converter):
    root, _ = prepare_ade847(tmp_path, converter)
    label = root / 'annotations_847/validation/ADE_val_00000001.tif'
    write_label(label, np.array([[0, 847], [IGNORE, 3]], dtype=np.uint16))
    dataset = build(ADE847Dataset, root, 'images_847/validation',
                    'annotations_847/validation')
    with pytest.raises(ValueError, match=f'{label} holds value 847'):
        dataset[0]


def test_ade847_class_subset_maps_the_rest_to_65535(tmp_path, converter):
    root, expected = prepare_ade847(tmp_path, converter)
    names = ADE847Dataset.METAINFO['classes']
    dataset = build(
        ADE847Dataset,
        root,
        'images_847/validation',
        'annotations_847/validation',
        metainfo=dict(classes=[names[846], names[300]]))
    assert dataset.metainfo['palette'] == [
        ADE847Dataset.METAINFO['palette'][846],
        ADE847Dataset.METAINFO['palette'][300]
    ]
    (gt, ) = gt_maps(dataset)
    subset = np.vectorize({0: IGNORE, 300: 1, 846: 0, IGNORE: IGNORE}.get)
    np.testing.assert_array_equal(gt, subset(expected))


def test_ade847_raw_names_on_request(tmp_path, converter):
    root, _ = prepare_ade847(tmp_path, converter)
    dataset = build(
        ADE847Dataset,
        root,
        'images_847/validation',
        'annotations_847/validation',
        class_names='raw')
    assert dataset.metainfo['classes'] == ADE847Dataset.METAINFO['raw_classes']
    assert dataset.label_map is None


def test_ade847_refuses_unknown_classes_and_a_foreign_ignore_index(
        tmp_path, converter):
    root, _ = prepare_ade847(tmp_path, converter)
    with pytest.raises(ValueError, match="'spaceship'"):
        build(
            ADE847Dataset,
            root,
            'images_847/validation',
            'annotations_847/validation',
            metainfo=dict(classes=['wall', 'spaceship']))
    with pytest.raises(ValueError, match='ignore index 65535'):
        build(
            ADE847Dataset,
            root,
            'images_847/validation',
            'annotations_847/validation',
            ignore_index=255)
