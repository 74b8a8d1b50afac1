"""The generated material world: seen/unseen split on disk, mmseg's label
mapping onto the seen classes, small objects, and captions."""
import re

import numpy as np
from mmseg.datasets.transforms import LoadAnnotations
from PIL import Image

from mrovseg_mmseg.datasets.material_world import (
    CAPTION_TEMPLATES, MATERIAL_CLASSES, SEEN_CLASSES, UNSEEN_CLASSES,
    MaterialWorldDataset, caption, caption_pair, generate_material_world)
from mrovseg_mmseg.evaluation.open_vocab_metric import small_object_zone


def _labels(root, split):
    return [
        np.asarray(Image.open(path))
        for path in sorted((root / 'annotations' / split).glob('*.png'))
    ]


def test_split_on_disk_and_determinism(tmp_path):
    root = tmp_path / 'world'
    generate_material_world(str(root), num_train=30, num_val=20, seed=3)
    unseen_ids = {MATERIAL_CLASSES.index(name) for name in UNSEEN_CLASSES}
    train_ids = set(np.unique(np.concatenate(
        [label.ravel() for label in _labels(root, 'train')])))
    val_ids = set(np.unique(np.concatenate(
        [label.ravel() for label in _labels(root, 'val')])))
    assert not train_ids & unseen_ids
    assert unseen_ids <= val_ids
    assert (root / 'classes.txt').read_text().split('\n')[:12] == list(
        MATERIAL_CLASSES)
    again = tmp_path / 'again'
    generate_material_world(str(again), num_train=30, num_val=20, seed=3)
    for first, second in zip(_labels(root, 'val'), _labels(again, 'val')):
        np.testing.assert_array_equal(first, second)
    image = np.asarray(Image.open(root / 'images/val/00000.png'))
    assert image.shape == (64, 64, 3)


def test_small_objects_are_under_one_global_token(tmp_path):
    """Small segments (< 256 px, one global-view token of the 64 px scene)
    appear in most held-out scenes."""
    root = tmp_path / 'world'
    generate_material_world(str(root), num_train=1, num_val=40, seed=0)
    with_small = sum(
        small_object_zone(label, 256, 0, 255).any()
        for label in _labels(root, 'val'))
    assert with_small >= 30


def test_training_dataset_maps_ids_onto_seen_classes(tmp_path):
    root = tmp_path / 'world'
    generate_material_world(str(root), num_train=12, num_val=2, seed=1)
    dataset = MaterialWorldDataset(
        data_root=str(root),
        metainfo=dict(classes=SEEN_CLASSES),
        data_prefix=dict(
            img_path='images/train', seg_map_path='annotations/train'),
        pipeline=[])
    assert dataset.metainfo['classes'] == SEEN_CLASSES
    load = LoadAnnotations()
    for index in range(len(dataset)):
        info = dataset[index]
        raw = np.asarray(Image.open(info['seg_map_path']))
        mapped = load(dict(info))['gt_seg_map']
        for raw_id in np.unique(raw):
            name = MATERIAL_CLASSES[raw_id]
            assert set(np.unique(mapped[raw == raw_id])) == {
                SEEN_CLASSES.index(name)
            }


def test_captions_name_each_material_once():
    rng = np.random.default_rng(0)
    names = ['grass', 'water', 'wood']
    phrasings = set()
    for _ in range(60):
        text = caption(rng, names)
        words = re.findall(r'[a-z]+', text)
        assert sorted(w for w in words if w in MATERIAL_CLASSES) == sorted(
            names)
        phrasings.add(re.sub('|'.join(names), 'X', text))
    assert len(phrasings) >= 5
    for _ in range(40):
        view, text = caption_pair(rng, 32)
        assert view.shape == (32, 32, 3) and view.dtype == np.uint8
        named = [w for w in re.findall(r'[a-z]+', text) if w in
                 MATERIAL_CLASSES]
        assert 1 <= len(named) == len(set(named))
    assert len(CAPTION_TEMPLATES) >= 5
