"""Your own dataset through configs/custom/: the class file and every bad
input of docs/custom_dataset.md, each stopped with the file and the fix."""
import re
from pathlib import Path

import numpy as np
import pytest
from mmengine.config import Config
from mmseg.registry import DATASETS
from PIL import Image

from mrovseg_mmseg.datasets import CustomOVSegDataset
from mrovseg_mmseg.datasets.class_file import read_class_file

REPO = Path(__file__).resolve().parents[2]
CONFIGS = ('my_dataset_tiny', 'my_dataset_vitb')
ROOT = 'data/my_dataset'
CLASSES = f'{ROOT}/classes.txt'
CLASS_NAMES = ['sky', 'tree', 'road', 'car, automobile']


def save(path: Path, array: np.ndarray) -> str:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(array).save(path)
    return str(path.relative_to(Path.cwd()))


@pytest.fixture
def folder(tmp_path, monkeypatch):
    """The guide's layout under tmp_path, which becomes the current folder:
    one 24x32 image with its label map per split, 4 classes."""
    monkeypatch.chdir(tmp_path)
    rng = np.random.default_rng(0)
    files = {}
    for split in ('train', 'val'):
        image = save(tmp_path / ROOT / 'images' / split / 'a.jpg',
                     rng.integers(0, 256, (24, 32, 3), dtype=np.uint8))
        label = save(tmp_path / ROOT / 'labels' / split / 'a.png',
                     (np.arange(24 * 32).reshape(24, 32) % 4).astype(np.uint8))
        files[split] = (image, label)
    write_classes('\n'.join(CLASS_NAMES) + '\n')
    return files


def write_classes(text: str, path: str = CLASSES, encoding='utf-8') -> None:
    Path(path).write_bytes(text.encode(encoding))


def build(config: str, split: str = 'val', **options):
    cfg = Config.fromfile(REPO / 'configs' / 'custom' / f'{config}.py')
    cfg.merge_from_dict(options)
    return DATASETS.build(cfg[f'{split}_dataloader'].dataset)


@pytest.mark.parametrize('config', CONFIGS)
def test_the_classes_come_from_the_class_file(folder, config):
    dataset = build(config, 'train')
    assert dataset.metainfo['classes'] == CLASS_NAMES
    labels = dataset[0]['data_samples'].gt_sem_seg.data
    assert set(labels.unique().tolist()) <= {0, 1, 2, 3, 255}


def test_another_vocabulary_for_testing(folder):
    write_classes('blue sky\ntree, bush\nstreet\nvehicle\n', f'{ROOT}/o.txt')
    dataset = build('my_dataset_tiny', 'test', **{
        'test_dataloader.dataset.metainfo.classes': f'{ROOT}/o.txt'})
    assert dataset.metainfo['classes'] == [
        'blue sky', 'tree, bush', 'street', 'vehicle']
    assert dataset.metainfo['classes_file'] == f'{ROOT}/o.txt'


def test_windows_line_ends_and_spaces_are_read(tmp_path):
    path = tmp_path / 'classes.txt'
    path.write_bytes(b'\xef\xbb\xbf sky \r\ncar,  automobile\r\n')
    assert read_class_file(str(path)) == ['sky', 'car,  automobile']


@pytest.mark.parametrize('config', CONFIGS)
def test_blank_line_in_the_class_file(folder, config):
    write_classes('sky\ntree\n\nroad\n')
    with pytest.raises(ValueError) as error:
        build(config)
    assert (f'class file {CLASSES} line 3 is blank: line N names class id '
            'N-1, so a blank line shifts every class after it; delete the '
            'line, or write the name of class id 2 there') in str(error.value)


def test_blank_last_line_in_the_class_file(folder):
    write_classes('sky\ntree\n\n')
    with pytest.raises(ValueError, match=re.escape('line 3 is blank')):
        build('my_dataset_tiny')


@pytest.mark.parametrize('config', CONFIGS)
def test_class_named_twice_in_the_class_file(folder, config):
    write_classes('sky\ntree\nroad\ncar\n Sky\n')
    with pytest.raises(ValueError) as error:
        build(config)
    assert (f"class file {CLASSES} line 5 ('Sky') names the class of line 1 "
            "('sky') again") in str(error.value)
    assert ('name each class once; if they are one class, delete line 5 and '
            'relabel its pixels (id 4) with id 0') in str(error.value)


def test_synonym_lists_are_compared_whole(tmp_path):
    """'car, automobile' twice (spacing and case aside) is a duplicate;
    one synonym in two classes is not."""
    path = tmp_path / 'classes.txt'
    path.write_text('car\ncar, truck\nCar ,truck\n')
    with pytest.raises(ValueError, match=re.escape(
            "line 3 ('Car ,truck') names the class of line 2")):
        read_class_file(str(path))


@pytest.mark.parametrize('text,message', [
    ('sky\n# road\n', "line 2 ('# road') holds a \"#\": a class file has no "
     'comments'),
    ('sky\nsofa,, couch\n', "line 2 ('sofa,, couch') has an empty synonym"),
    ('', 'names no class: write one class name per line'),
    ('\n', 'line 1 is blank'),
])
def test_other_bad_class_files(tmp_path, text, message):
    path = tmp_path / 'classes.txt'
    path.write_text(text)
    with pytest.raises(ValueError) as error:
        read_class_file(str(path))
    assert f'class file {path}' in str(error.value)
    assert message in str(error.value)


def test_class_file_that_is_not_utf8(tmp_path):
    path = tmp_path / 'classes.txt'
    path.write_bytes('sky\ncaf\xe9\n'.encode('latin-1'))
    with pytest.raises(ValueError, match=re.escape(
            f"class file {path} line 2 is not UTF-8 (byte b'\\xe9'): save "
            'the file as UTF-8')):
        read_class_file(str(path))


def test_missing_class_file(folder):
    Path(CLASSES).unlink()
    with pytest.raises(FileNotFoundError) as error:
        build('my_dataset_vitb')
    assert (f'class file {CLASSES} ({Path(CLASSES).resolve()}) does not '
            'exist') in str(error.value)
    assert f'a relative path starts in the current folder ({Path.cwd()})' in (
        str(error.value))


def test_no_classes_given(folder):
    with pytest.raises(ValueError, match=re.escape(
            "CustomOVSegDataset needs the class names: set metainfo=dict("
            "classes='path/to/classes.txt')")):
        CustomOVSegDataset(data_root=ROOT, data_prefix=dict(
            img_path='images/val', seg_map_path='labels/val'))


@pytest.mark.parametrize('config', CONFIGS)
@pytest.mark.parametrize('split', ['train', 'val'])
def test_label_id_beyond_the_classes(folder, config, split):
    """mmseg's loader + CheckLabels (tiny), LoadAnnotations16 (ViT-B)."""
    _, label = folder[split]
    labels = np.zeros((24, 32), np.uint8)
    labels[5, 5] = 7
    save(Path(label).resolve(), labels)
    with pytest.raises(ValueError) as error:
        build(config, split)[0]
    message = str(error.value)
    assert f'label map {label}' in message and 'holds value 7' in message
    assert (f'; the classes are the lines of {CLASSES} (line N names class '
            'id N-1): add a line for each missing class id, or set those '
            'pixels to 255 to leave them unlabelled') in message


@pytest.mark.parametrize('config', CONFIGS)
@pytest.mark.parametrize('split', ['train', 'val'])
def test_label_and_image_sizes_differ(folder, config, split):
    image, label = folder[split]
    save(Path(label).resolve(), np.zeros((24, 30), np.uint8))
    with pytest.raises(ValueError) as error:
        build(config, split)[0]
    assert (f'label map {label} (image {image}) is 24x30 pixels, its image '
            '24x32: a label map must have the size of its image; check that '
            "it belongs to this image, or draw it again at the image's size"
            ) in str(error.value)


@pytest.mark.parametrize('config', CONFIGS)
def test_missing_label_file(folder, config):
    image, label = folder['train']
    Path(label).unlink()
    with pytest.raises(FileNotFoundError) as error:
        build(config, 'train')
    assert (f'label map {label} (for image {image}); each image needs a '
            f"label map of the same name ending in '.png' under {ROOT}/labels"
            '/train: add the missing label maps, or move their images out of '
            f'{ROOT}/images/train (docs/custom_dataset.md)') in str(
                error.value)


def test_missing_image_folder_points_at_the_guide(folder):
    with pytest.raises(FileNotFoundError) as error:
        build('my_dataset_tiny', **{
            'val_dataloader.dataset.data_prefix.img_path': 'images/test'})
    assert (f'the image folder {ROOT}/images/test does not exist'
            in str(error.value))
    assert 'docs/custom_dataset.md shows the layout' in str(error.value)
