"""ObjectNamingMetric: per-object naming and instance IoU by group and kind,
checked by hand on an 8 x 8 scene and on a generated detail-twin world with
the ground truth and with every checkered class swapped for its plain
twin."""
import json
from pathlib import Path

import numpy as np
import pytest
import torch
from mmengine.config import Config
from mmengine.evaluator import Evaluator
from mmseg.registry import DATASETS, METRICS
from PIL import Image

from mrovseg_mmseg.datasets.detail_twin_world import (
    CHECKERED_CLASSES, CONTROL_CLASSES, TWIN_CLASSES, TWIN_OF,
    DetailTwinWorldDataset, generate_detail_twin_world)

CONFIG = (
    Path(__file__).resolve().parents[2] /
    'configs/_base_/datasets/detail_twin_world64.py')
ORANGE = TWIN_CLASSES.index('orange')
CHECKERED_RED = TWIN_CLASSES.index('checkered red')
PLAIN_RED = TWIN_CLASSES.index('plain red')
# object 1: large orange background; 2: small checkered red 3 x 3 square;
# 3: thin plain red bar, column 6
INSTANCES = np.array([[int(c) for c in row] for row in (
    '11111131',
    '12221131',
    '12221131',
    '12221131',
    '11111131',
    '11111131',
    '11111131',
    '11111131',
)], np.uint8)
OBJECTS = [
    dict(id=1, class_id=ORANGE, name='orange', kind='large', area=47),
    dict(
        id=2,
        class_id=CHECKERED_RED,
        name='checkered red',
        kind='small',
        area=9),
    dict(id=3, class_id=PLAIN_RED, name='plain red', kind='thin', area=8),
]
LETTERS = dict(O=ORANGE, C=CHECKERED_RED, P=PLAIN_RED)
# square: 5 C of 9 (named); C spills to (4, 1), (4, 2) (near) and (7, 0)
# (far). Bar: 4 P and 4 O, a tie that goes to P (the lower id); P spills to
# (0, 7), (1, 7) (near) and (0, 4) (far). Background: 41 O of 47, and the
# bar's 4 O near it.
PREDICTION = np.array([[LETTERS[c] for c in row] for row in (
    'OOOOPOPP',
    'OCCPOOPP',
    'OCCPOOPO',
    'OCPPOOPO',
    'OCCOOOOO',
    'OOOOOOOO',
    'OOOOOOOO',
    'COOOOOOO',
)])


def _write_scene(root, index, instances, objects):
    """instances/val/<index>.png and objects/val/<index>.json; the label
    map's path (never read)."""
    for folder in ('instances', 'objects', 'annotations'):
        (root / folder / 'val').mkdir(parents=True, exist_ok=True)
    Image.fromarray(instances).save(root / 'instances' / 'val' /
                                    f'{index:05d}.png')
    (root / 'objects' / 'val' / f'{index:05d}.json').write_text(
        json.dumps(objects))
    return str(root / 'annotations' / 'val' / f'{index:05d}.png')


def _sample(seg_map_path, prediction):
    return dict(
        seg_map_path=seg_map_path,
        pred_sem_seg=dict(data=torch.as_tensor(prediction)[None]))


def _evaluate(samples, meta=DetailTwinWorldDataset.METAINFO, **kwargs):
    metric = METRICS.build(dict(type='ObjectNamingMetric', **kwargs))
    metric.dataset_meta = meta
    for sample in samples:
        metric.process({}, [sample])
    return metric.evaluate(len(samples))


def test_naming_and_neighbourhood_iou_by_hand(tmp_path):
    path = _write_scene(tmp_path, 0, INSTANCES, OBJECTS)
    metrics = _evaluate([_sample(path, PREDICTION)], margin=1)
    # square: 5 / (9 + 2); bar: 4 / (8 + 2); background: 41 / (47 + 4)
    expected = dict(
        small=(100, 5 / 11, 1),
        thin=(100, 4 / 10, 1),
        fine=(100, (5 / 11 + 4 / 10) / 2, 2),
        large=(100, 41 / 51, 1))
    for kind, (named, iou, count) in expected.items():
        assert metrics[f'naming_all_{kind}'] == named
        assert metrics[f'iou_all_{kind}'] == pytest.approx(
            100 * iou, abs=0.005)
        assert metrics[f'count_all_{kind}'] == count
    assert metrics['iou_checkered_small'] == pytest.approx(45.45)
    assert metrics['iou_detail_small'] == pytest.approx(45.45)
    assert metrics['iou_plain_thin'] == pytest.approx(40.0)
    assert metrics['iou_control_large'] == pytest.approx(80.39)
    # groups and kinds without objects are left out
    for key in ('naming_control_fine', 'iou_plain_small', 'count_detail_large',
                'naming_checkered_thin'):
        assert key not in metrics
    # twin_* for the groups whose classes all have a twin
    assert len(metrics) == 3 * (4 + 3 + 2 + 2 + 1) + (3 + 2 + 2 + 1)
    assert metrics['twin_detail_fine'] == 0

    # margin 0: the neighbourhood is the object, spill counts nowhere
    metrics = _evaluate([_sample(path, PREDICTION)], margin=0)
    assert metrics['iou_all_small'] == pytest.approx(100 * 5 / 9, abs=0.005)
    assert metrics['iou_all_thin'] == pytest.approx(50.0)


def test_names_resolve_through_the_dataset_classes(tmp_path):
    # a dataset listing the world's classes in reverse order predicts
    # reversed ids; objects are found by name, not by the world's class_id
    path = _write_scene(tmp_path, 0, INSTANCES, OBJECTS)
    reverse = dict(classes=TWIN_CLASSES[::-1])
    last = len(TWIN_CLASSES) - 1
    metrics = _evaluate([_sample(path, last - PREDICTION)], reverse, margin=1)
    assert metrics['naming_all_small'] == 100
    # the bar's tie now goes to orange, the lower id in this order
    assert metrics['naming_all_thin'] == 0
    assert metrics['iou_all_small'] == pytest.approx(45.45)
    assert metrics['iou_control_large'] == pytest.approx(80.39)


def test_objects_add_up_over_scenes(tmp_path):
    first = _write_scene(tmp_path, 0, INSTANCES, OBJECTS)
    second = _write_scene(tmp_path, 1, INSTANCES, OBJECTS)
    # all plain red: the bar is named, with IoU 8 / 24 in its 3 columns
    everywhere = np.full((8, 8), PLAIN_RED)
    metrics = _evaluate(
        [_sample(first, PREDICTION),
         _sample(second, everywhere)], margin=1)
    assert metrics['naming_all_small'] == 50
    assert metrics['iou_all_small'] == pytest.approx(100 * 5 / 22, abs=0.005)
    assert metrics['naming_all_thin'] == 100
    assert metrics['iou_all_thin'] == pytest.approx(
        100 * (0.4 + 1 / 3) / 2, abs=0.005)
    assert metrics['naming_all_fine'] == 75
    assert metrics['count_all_fine'] == 4
    assert metrics['naming_all_large'] == 50
    assert metrics['iou_all_large'] == pytest.approx(100 * 41 / 102, abs=0.005)


def _world_samples(root, relabel=None):
    """The generated held-out scenes with the ground truth (optionally
    relabelled) as prediction, and their objects."""
    samples, objects = [], []
    for label_path in sorted((root / 'annotations' / 'val').glob('*.png')):
        label = np.asarray(Image.open(label_path)).astype(np.int64)
        if relabel is not None:
            label = relabel[label]
        samples.append(_sample(str(label_path), label))
        objects += json.loads(
            (root / 'objects' / 'val' /
             label_path.name.replace('.png', '.json')).read_text())
    return samples, objects


@pytest.fixture(scope='module')
def world(tmp_path_factory):
    root = tmp_path_factory.mktemp('twins') / 'world'
    generate_detail_twin_world(str(root), num_train=0, num_val=5, seed=1)
    return root


def test_world_without_training_scenes(world):
    assert not list((world / 'images' / 'train').iterdir())
    assert len(list((world / 'instances' / 'val').iterdir())) == 5


def test_ground_truth_names_every_object(world):
    samples, objects = _world_samples(world)
    metrics = _evaluate(samples)
    kinds = [obj['kind'] for obj in objects]
    for kind in ('large', 'small', 'thin'):
        assert metrics[f'count_all_{kind}'] == kinds.count(kind)
    assert metrics['count_all_fine'] == len(objects) - kinds.count('large')
    for group, parts in (('all', ('detail', 'control')),
                         ('detail', ('checkered', 'plain'))):
        assert metrics[f'count_{group}_fine'] == sum(
            metrics.get(f'count_{part}_fine', 0) for part in parts)
    scores = [key for key in metrics if key.startswith(('naming_', 'iou_'))]
    assert len(scores) >= 2 * 4 * 3
    assert all(metrics[key] == 100 for key in scores)


def test_checkered_as_plain_twin_names_no_checkered_object(world):
    relabel = np.arange(len(TWIN_CLASSES))
    for name in CHECKERED_CLASSES:
        relabel[TWIN_CLASSES.index(name)] = TWIN_CLASSES.index(TWIN_OF[name])
    samples, objects = _world_samples(world, relabel)
    metrics = _evaluate(samples)
    fine = [obj for obj in objects if obj['kind'] != 'large']
    fine_detail = [obj for obj in fine if obj['name'] not in CONTROL_CLASSES]
    fine_checkered = [obj for obj in fine if obj['name'] in CHECKERED_CLASSES]
    assert fine_checkered and len(fine_checkered) < len(fine_detail)
    assert metrics['count_checkered_fine'] == len(fine_checkered)
    for kind in ('small', 'thin', 'fine', 'large'):
        if f'count_checkered_{kind}' in metrics:
            assert metrics[f'naming_checkered_{kind}'] == 0
            assert metrics[f'iou_checkered_{kind}'] == 0
            assert metrics[f'twin_checkered_{kind}'] == 100
        if f'count_plain_{kind}' in metrics:
            assert metrics[f'naming_plain_{kind}'] == 100
            assert metrics[f'twin_plain_{kind}'] == 0
        if f'count_control_{kind}' in metrics:
            assert metrics[f'naming_control_{kind}'] == 100
            assert metrics[f'iou_control_{kind}'] == 100
            assert metrics[f'twin_control_{kind}'] == 0
    assert metrics['naming_detail_fine'] == pytest.approx(
        100 * (1 - len(fine_checkered) / len(fine_detail)), abs=0.005)
    assert metrics['twin_detail_fine'] == pytest.approx(
        100 * len(fine_checkered) / len(fine_detail), abs=0.005)
    assert 'twin_all_fine' not in metrics
    assert metrics['naming_all_fine'] == pytest.approx(
        100 * (1 - len(fine_checkered) / len(fine)), abs=0.005)


def test_missing_instance_map_names_the_file(tmp_path):
    (tmp_path / 'annotations' / 'val').mkdir(parents=True)
    path = str(tmp_path / 'annotations' / 'val' / '00000.png')
    with pytest.raises(FileNotFoundError) as error:
        _evaluate([_sample(path, PREDICTION)])
    message = str(error.value)
    assert str(tmp_path / 'instances' / 'val' / '00000.png') in message
    assert 'generated world with instance maps' in message


def test_object_class_outside_the_dataset_names_the_file(tmp_path):
    objects = [dict(obj) for obj in OBJECTS]
    objects[1]['name'] = 'striped red'
    path = _write_scene(tmp_path, 0, INSTANCES, objects)
    with pytest.raises(ValueError, match=r"'striped red' of .*00000\.json"):
        _evaluate([_sample(path, PREDICTION)])


def test_groups_can_be_given(tmp_path):
    path = _write_scene(tmp_path, 0, INSTANCES, OBJECTS)
    metrics = _evaluate([_sample(path, PREDICTION)],
                        margin=1,
                        groups=dict(reds=('plain red', 'checkered red')))
    assert metrics['count_reds_fine'] == 2
    assert not any('detail' in key for key in metrics)
    with pytest.raises(ValueError, match="group 'blues'"):
        _evaluate([_sample(path, PREDICTION)],
                  groups=dict(blues=('striped blue', )))


def test_config_evaluators_on_the_dataset_pipeline(world):
    """The config's IoUMetric and ObjectNamingMetric side by side, fed
    the data samples its test pipeline packs (ground truth as prediction)."""
    cfg = Config.fromfile(CONFIG)
    dataset = DATASETS.build(
        dict(cfg.test_dataloader.dataset, data_root=str(world)))
    evaluator = Evaluator(cfg.test_evaluator)
    evaluator.dataset_meta = dataset.metainfo
    for index in range(len(dataset)):
        sample = dataset[index]['data_samples']
        sample.pred_sem_seg = sample.gt_sem_seg
        evaluator.process([sample.to_dict()])
    metrics = evaluator.evaluate(len(dataset))
    assert metrics['mIoU'] == 100
    assert metrics['naming_detail_fine'] == 100
    assert metrics['iou_control_large'] == 100
