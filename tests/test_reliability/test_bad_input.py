"""Each row of README's "Bad input and what it gets": the input is tried and
the error must name the file, class or option at fault."""
import fnmatch
import os
import os.path as osp
import re
import shutil

import numpy as np
import pytest
import torch
from mmengine.config import Config
from mmseg.registry import DATASETS, MODELS
from PIL import Image

from mrovseg_mmseg.datasets.synthetic_shapes import generate_synthetic_shapes
from mrovseg_mmseg.models.text_encoders.vocabulary import load_vocabulary_file
from .tiny_run import CONFIG, REPO
from .toy_runner import build_toy_runner

DATASET_CONFIGS = osp.join(REPO, 'configs', '_base_', 'datasets')
ADE_IMAGES, ADE_LABELS = 'images/validation', 'annotations/validation'
ADE847_IMAGES = 'images_847/validation'
ADE847_LABELS = 'annotations_847/validation'


def save_image(path: str, height: int = 24, width: int = 32) -> str:
    os.makedirs(osp.dirname(path), exist_ok=True)
    rng = np.random.default_rng(0)
    Image.fromarray(rng.integers(0, 256, (height, width, 3),
                                 dtype=np.uint8)).save(path)
    return path


def save_label(path: str, labels: np.ndarray) -> str:
    os.makedirs(osp.dirname(path), exist_ok=True)
    Image.fromarray(labels).save(path)
    return path


def truncate(path: str) -> None:
    with open(path, 'rb') as handle:
        data = handle.read()
    with open(path, 'wb') as handle:
        handle.write(data[:len(data) // 2])


def dataset(config: str, root: str, split: str = 'val'):
    """The ``split`` dataset of a base dataset config, under ``root``."""
    cfg = Config.fromfile(osp.join(DATASET_CONFIGS, f'{config}.py'))
    dataset_cfg = cfg[f'{split}_dataloader'].dataset
    dataset_cfg.data_root = root
    return DATASETS.build(dataset_cfg)


@pytest.fixture
def ade150(tmp_path):
    """One ADE-150 validation image (24x32) with its uint8 label map."""
    root = str(tmp_path / 'ade150')
    image = save_image(osp.join(root, ADE_IMAGES, 'ADE_val_00000001.jpg'))
    labels = np.arange(24 * 32).reshape(24, 32) % 151  # 0 (ignored)..150
    label = save_label(
        osp.join(root, ADE_LABELS, 'ADE_val_00000001.png'),
        labels.astype(np.uint8))
    return root, image, label


@pytest.fixture
def ade847(tmp_path):
    """One ADE-847 validation image with a 16-bit label map (ids > 255)."""
    root = str(tmp_path / 'ade847')
    image = save_image(osp.join(root, ADE847_IMAGES, 'ADE_val_00000001.jpg'))
    labels = np.full((24, 32), 300, dtype=np.uint16)
    labels[0, 0] = 65535
    label = save_label(
        osp.join(root, ADE847_LABELS, 'ADE_val_00000001.tif'), labels)
    return root, image, label


@pytest.fixture
def shapes(tmp_path):
    """A fresh synthetic shapes set with 2 training and 2 validation images."""
    root = str(tmp_path / 'shapes')
    generate_synthetic_shapes(root, num_train=2, num_val=2)
    return root


def shapes_files(root: str, split: str = 'val'):
    return (osp.join(root, 'images', split, '00000.png'),
            osp.join(root, 'annotations', split, '00000.png'))


def tiny_model(**overrides):
    cfg = Config.fromfile(CONFIG)
    cfg.merge_from_dict(overrides)
    return MODELS.build(cfg.model)


# --------------------------------------------------------------- images
@pytest.mark.parametrize('damage', ['corrupt', 'truncated'])
def test_benchmark_image_that_cannot_be_decoded(ade150, damage):
    root, image, _ = ade150
    if damage == 'corrupt':
        with open(image, 'wb') as handle:
            handle.write(b'\xff\xd8 not a JPEG' * 20)
    else:
        truncate(image)
    with pytest.raises(
            OSError, match=re.escape(f'cannot decode image {image}')):
        dataset('ade150', root)[0]


@pytest.mark.parametrize('damage', ['corrupt', 'truncated'])
def test_synthetic_image_that_cannot_be_decoded(shapes, damage):
    image, _ = shapes_files(shapes, 'train')
    if damage == 'corrupt':
        with open(image, 'wb') as handle:
            handle.write(b'\x89PNG garbage')
    else:
        truncate(image)
    with pytest.raises(
            AssertionError, match=re.escape(f'failed to load image: {image}')):
        dataset('synthetic_shapes64', shapes, 'train')[0]


# --------------------------------------------------------------- labels
def test_benchmark_missing_label_is_named_when_the_dataset_is_built(ade150):
    root, image, label = ade150
    os.remove(label)
    with pytest.raises(
            FileNotFoundError,
            match=re.escape(f'label map {label} (for image {image})')):
        dataset('ade150', root)


def test_synthetic_missing_label_is_named_when_loaded(shapes):
    _, label = shapes_files(shapes)
    os.remove(label)
    with pytest.raises(FileNotFoundError, match=re.escape(label)):
        dataset('synthetic_shapes64', shapes)[0]


@pytest.mark.parametrize('config,split', [('ade150', 'val'),
                                          ('ade150', 'train'),
                                          ('synthetic_shapes64', 'val'),
                                          ('synthetic_shapes64', 'train')])
def test_label_of_wrong_size(tmp_path, ade150, shapes, config, split):
    if config == 'ade150':
        root, image, label = ade150
        os.makedirs(osp.join(root, 'images', 'training'))
        os.makedirs(osp.join(root, 'annotations', 'training'))
        if split == 'train':
            image = shutil.copy(image, image.replace('validation', 'training'))
            label = label.replace('validation', 'training')
        save_label(label, np.ones((24, 30), dtype=np.uint8))
        size = '24x30 pixels, its image 24x32'
    else:
        root = shapes
        image, label = shapes_files(root, split)
        save_label(label, np.zeros((32, 64), dtype=np.uint8))
        size = '32x64 pixels, its image 64x64'
    with pytest.raises(ValueError) as error:
        dataset(config, root, split)[0]
    assert f'label map {label} (image {image}) is {size}' in str(error.value)


def test_benchmark_label_value_outside_the_classes(ade150):
    root, _, label = ade150
    labels = np.ones((24, 32), dtype=np.uint8)
    labels[3, 4] = 200
    save_label(label, labels)
    with pytest.raises(
            ValueError, match=re.escape(f'label map {label} holds value 200')):
        dataset('ade150', root)[0]


def test_synthetic_label_value_outside_the_classes(shapes):
    _, label = shapes_files(shapes)
    labels = np.array(Image.open(label))
    labels[:2] = 9
    save_label(label, labels)
    with pytest.raises(ValueError) as error:
        dataset('synthetic_shapes64', shapes)[0]
    assert f'label map {label} ' in str(error.value)
    assert 'holds value 9: valid values are the class ids 0..5' in str(
        error.value)


def test_8_bit_label_files_on_a_16_bit_benchmark(ade847):
    root, _, label = ade847
    save_label(label, np.full((24, 32), 255, dtype=np.uint8))
    with pytest.raises(ValueError) as error:
        dataset('ade847', root)[0]
    assert f'label map {label} ' in str(error.value)
    assert "stores 8-bit values (image mode 'L')" in str(error.value)


def test_8_bit_loader_on_a_16_bit_benchmark(ade847):
    root, _, label = ade847
    cfg = Config.fromfile(osp.join(DATASET_CONFIGS, 'ade847.py'))
    dataset_cfg = cfg.val_dataloader.dataset
    dataset_cfg.data_root = root
    dataset_cfg.pipeline = [
        dict(type='LoadImageChecked'),
        dict(type='LoadAnnotations'),  # mmseg's: casts to uint8
        dict(type='CheckLabels'),
        dict(type='PackSegInputs'),
    ]
    with pytest.raises(ValueError) as error:
        DATASETS.build(dataset_cfg)[0]
    assert f'label map {label} ' in str(error.value)
    assert 'was loaded as 8-bit values' in str(error.value)


def test_16_bit_benchmark_labels_pass_the_checks(ade847):
    root, _, _ = ade847
    labels = dataset('ade847', root)[0]['data_samples'].gt_sem_seg.data
    assert set(labels.unique().tolist()) == {300, 65535}


# ------------------------------------------------------------- datasets
def test_empty_benchmark_folder(tmp_path):
    root = str(tmp_path / 'ade847')
    os.makedirs(osp.join(root, ADE847_IMAGES))
    os.makedirs(osp.join(root, ADE847_LABELS))
    with pytest.raises(FileNotFoundError) as error:
        dataset('ade847', root)
    assert "ADE847Dataset: no image ending in '.jpg' under " + osp.join(
        root, ADE847_IMAGES) in str(error.value)


def test_empty_synthetic_folder(shapes):
    folder = osp.join(shapes, 'images', 'val')
    shutil.rmtree(folder)
    os.makedirs(folder)
    with pytest.raises(
            FileNotFoundError,
            match=re.escape(f"no image ending in '.png' under {folder}")):
        dataset('synthetic_shapes64', shapes)


# ---------------------------------------------------------------- model
@pytest.mark.parametrize('size', [(5, 5), (1, 1), (3, 70)])
def test_image_smaller_than_one_patch_is_segmented(size):
    model = tiny_model()
    model.set_vocabulary(['grass', 'sand'])
    assert model.backbone.patch_size == 8
    with torch.no_grad():
        sample = model.eval().predict(torch.randn(1, 3, *size))[0]
    assert sample.pred_sem_seg.data.shape == (1, *size)
    assert set(sample.pred_sem_seg.data.unique().tolist()) <= {0, 1}


def test_image_smaller_than_one_patch_trains():
    from mmengine.structures import PixelData
    from mmseg.structures import SegDataSample
    model = tiny_model()
    model.set_vocabulary(['grass', 'sand'])
    sample = SegDataSample(
        gt_sem_seg=PixelData(data=torch.ones(1, 5, 5, dtype=torch.long)))
    sample.set_metainfo(dict(img_shape=(5, 5), pad_shape=(5, 5)))
    losses = model.train().loss(torch.randn(1, 3, 5, 5), [sample])
    assert all(torch.isfinite(value) for value in losses.values())


def test_class_names_file_that_is_not_utf8(tmp_path):
    path = tmp_path / 'classes.txt'
    path.write_bytes('grass\nsand\n'.encode() + 'café\n'.encode('latin-1'))
    with pytest.raises(ValueError) as error:
        load_vocabulary_file(str(path))
    assert f"vocabulary file '{path}' is not UTF-8" in str(error.value)
    assert '(line 3)' in str(error.value)


@pytest.mark.parametrize('names,message', [
    (['grass', ''], "class name at index 1 is blank: ''"),
    (['grass', '  '], 'class name at index 1 is blank'),
    (['grass', b'sand'], "class name at index 1 is not a str: b'sand'"),
    ([], 'the vocabulary is empty'),
])
def test_empty_or_non_text_class_names(names, message):
    model = tiny_model()
    with pytest.raises(ValueError, match=re.escape(message)):
        model.set_vocabulary(names)


@pytest.mark.parametrize('options,message', [
    ({
        'model.backbone.slice_ratio': 1.5
    }, 'slice_ratio=1.5 must lie in'),
    ({
        'model.backbone.classifier_start_block': 4
    }, 'classifier_start_block=4 is beyond this CLIP'),
    ({
        'model.backbone.fusion_layers': (0, 2, 9)
    }, r'fusion_layers=\(0, 2, 9\): each layer must lie in \[0, 4\]'),
    ({
        'model.neck.num_queries': 0,
        'model.decode_head.num_queries': 0
    }, 'num_queries=0 must be >= 1'),
    ({
        'model.decode_head.num_queries': 8
    }, 'neck.num_queries=16 and decode_head.num_queries=8 must be equal'),
])
def test_invalid_model_config_values(options, message):
    with pytest.raises(ValueError, match=message):
        tiny_model(**options)


# -------------------------------------------------------- missing files
def test_config_with_a_missing_base(tmp_path):
    path = tmp_path / 'broken.py'
    path.write_text("_base_ = ['./no_such_base.py']\n")
    with pytest.raises(FileNotFoundError, match=re.escape('no_such_base.py')):
        Config.fromfile(str(path))


def test_config_with_a_missing_clip_checkpoint(tmp_path):
    missing = str(tmp_path / 'ViT-B-16.pt')
    with pytest.raises(
            FileNotFoundError, match=re.escape(f'pretrained={missing!r}')):
        tiny_model(**{'model.backbone.pretrained': missing})


def test_config_with_a_missing_load_from(tmp_path):
    missing = str(tmp_path / 'iter_60000.pth')
    runner = build_toy_runner(
        str(tmp_path / 'work'),
        custom_hooks=[dict(type='StrictLoadHook')],
        load_from=missing)
    with pytest.raises(
            FileNotFoundError,
            match=re.escape(f'load_from={missing!r}: no such checkpoint')):
        runner.train()


def test_config_with_a_missing_data_root(tmp_path):
    missing = str(tmp_path / 'ADEChallengeData2016')
    with pytest.raises(FileNotFoundError) as error:
        dataset('ade150', missing)
    assert osp.join(missing, ADE_IMAGES) in str(error.value)


# ----------------------------------------------------------------- README
def test_readme_table_rows_name_existing_tests():
    with open(osp.join(REPO, 'README.md'), encoding='utf-8') as handle:
        readme = handle.read()
    section = readme.split('## Bad input and what it gets', 1)[1]
    section = section.split('\n## ', 1)[0]
    rows = [
        line for line in section.splitlines()
        if line.startswith('| ') and not line.startswith('| Bad input')
    ]
    assert len(rows) >= 11
    tests = [name for name in globals() if name.startswith('test_')]
    here = osp.dirname(osp.abspath(__file__))
    for row in rows:
        cited = re.findall(r'`([^`]+)`', row.rstrip(' |').rsplit(' | ', 1)[1])
        assert cited, row
        for name in cited:
            if name.endswith('.py'):
                assert osp.isfile(osp.join(here, name)), name
            else:
                pattern = name.split('[')[0]
                assert fnmatch.filter(tests, pattern), name
