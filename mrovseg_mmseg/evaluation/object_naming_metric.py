"""Per-object naming and instance IoU on a generated world with instance maps.

Pixel mIoU lets a few large regions outweigh many small objects. This metric
counts objects: each object of a scene's instance map is *named* when the
majority of its predicted pixels carry its class, and its *instance IoU* is
the IoU of the predicted class with the object in the object's neighbourhood
(the object dilated by ``margin`` pixels), so that a prediction spilling
elsewhere in the scene does not count against it. Results are given per
group of classes and per object kind.
"""
import json
import os.path as osp
from collections import OrderedDict
from typing import Dict, List, NamedTuple, Optional, Sequence, Tuple

import cv2
import numpy as np
from mmengine.evaluator import BaseMetric
from mmengine.logging import MMLogger, print_log
from mmseg.registry import METRICS
from PIL import Image

from mrovseg_mmseg.datasets.detail_twin_world import (CHECKERED_CLASSES,
                                                      CONTROL_CLASSES,
                                                      DETAIL_TWIN_CLASSES,
                                                      KINDS, TWIN_OF)

DEFAULT_GROUPS: Dict[str, Tuple[str, ...]] = OrderedDict(
    detail=DETAIL_TWIN_CLASSES,
    checkered=CHECKERED_CLASSES,
    plain=tuple(name for name in DETAIL_TWIN_CLASSES
                if name not in CHECKERED_CLASSES),
    control=CONTROL_CLASSES)
# reported kind -> object kinds (the ``kind`` of the objects JSON) it counts
KIND_GROUPS: Dict[str, Tuple[str, ...]] = OrderedDict(
    small=('small', ),
    thin=('thin', ),
    fine=('small', 'thin'),
    large=('large', ))
SUMMARY_KEYS = ('naming_detail_fine', 'naming_detail_large',
                'naming_control_fine', 'iou_detail_fine', 'iou_all_small')


class ObjectScore(NamedTuple):
    """One object's result."""
    name: str
    kind: str
    named: bool  # the majority predicted label is its class
    iou: float  # instance IoU in its neighbourhood, 0-1
    as_twin: bool  # the majority predicted label is its twin's class


def replace_folder(path: str, folder: str, replacement: str) -> str:
    """``path`` with its last component equal to ``folder`` replaced."""
    parts = path.split(osp.sep)
    if folder not in parts:
        raise ValueError(
            f'ObjectNamingMetric: {path} has no folder {folder!r} to find '
            f'the instance map from; set annotation_folder to the folder of '
            f'the label maps.')
    index = len(parts) - 1 - parts[::-1].index(folder)
    parts[index] = replacement
    return osp.sep.join(parts)


def score_objects(prediction: np.ndarray, instances: np.ndarray,
                  targets: Sequence[int], margin: int) -> List[tuple]:
    """Naming and instance IoU of each object of an instance map.

    Args:
        prediction: (H, W) predicted class ids.
        instances: (H, W) object ids; object ``i`` is ``instances == i + 1``.
        targets: class id of each object, in the ids of ``prediction``.
        margin: the neighbourhood of an object is the object dilated by a
            (2 * margin + 1) square.

    Returns:
        ``(majority, iou)`` per object: the majority predicted class id
        (ties go to the lowest) and the instance IoU.
    """
    kernel = np.ones((2 * margin + 1, 2 * margin + 1), np.uint8)
    scores = []
    for index, target in enumerate(targets, start=1):
        mask = instances == index
        majority = int(np.bincount(prediction[mask]).argmax())
        near = cv2.dilate(mask.astype(np.uint8), kernel).astype(bool)
        predicted = (prediction == target) & near
        iou = (predicted & mask).sum() / (predicted | mask).sum()
        scores.append((majority, float(iou)))
    return scores


@METRICS.register_module()
class ObjectNamingMetric(BaseMetric):
    """Percent of objects named and mean instance IoU, by group and kind.

    For every test sample the instance map and objects list are read next to
    the label map: ``.../annotations/<split>/00000.png`` gives
    ``.../instances/<split>/00000.png`` (object ids 1..n) and
    ``.../objects/<split>/00000.json`` (``[{id, class_id, name, kind}]``).

    Returns, for every group (``all`` and each of ``groups``) and kind
    (``small``, ``thin``, ``fine`` = small and thin, ``large``) with at least
    one object: ``naming_{group}_{kind}`` (percent named),
    ``iou_{group}_{kind}`` (mean instance IoU in percent) and
    ``count_{group}_{kind}`` (number of objects); for groups of classes
    that have a twin, also ``twin_{group}_{kind}`` (percent named as the
    twin: the confusion that losing the fine detail causes).

    Args:
        groups: class names of each group; by default the detail-twin
            world's ``detail``, ``checkered``, ``plain`` and ``control``.
        margin: pixels around an object that count to its neighbourhood.
        twins: class name -> the class it is mistaken for without its
            detail; by default the detail-twin world's twins and colour
            pairs.
        annotation_folder: folder of the label maps in ``seg_map_path``.
        instance_folder: folder of the instance maps that replaces it.
        objects_folder: folder of the objects lists that replaces it.
        **kwargs: ``BaseMetric`` arguments.
    """

    def __init__(self,
                 *,
                 groups: Optional[Dict[str, Sequence[str]]] = None,
                 margin: int = 4,
                 twins: Optional[Dict[str, str]] = None,
                 annotation_folder: str = 'annotations',
                 instance_folder: str = 'instances',
                 objects_folder: str = 'objects',
                 **kwargs) -> None:
        super().__init__(**kwargs)
        groups = DEFAULT_GROUPS if groups is None else groups
        if 'all' in groups:
            raise ValueError(
                "ObjectNamingMetric: 'all' is the group of every object; "
                'give the other groups only.')
        if margin < 0:
            raise ValueError(f'ObjectNamingMetric: margin must be >= 0, got '
                             f'{margin}.')
        self.groups = OrderedDict(
            (group, tuple(names)) for group, names in groups.items())
        self.margin = margin
        self.twins = dict(TWIN_OF if twins is None else twins)
        self.annotation_folder = annotation_folder
        self.instance_folder = instance_folder
        self.objects_folder = objects_folder

    def _files(self, seg_map_path: str) -> Tuple[str, str]:
        """Paths of the instance map and objects list of a label map."""
        instance_path = replace_folder(seg_map_path, self.annotation_folder,
                                       self.instance_folder)
        objects_path = osp.splitext(
            replace_folder(seg_map_path, self.annotation_folder,
                           self.objects_folder))[0] + '.json'
        for path in (instance_path, objects_path):
            if not osp.isfile(path):
                raise FileNotFoundError(
                    f'ObjectNamingMetric: {path} does not exist; the dataset '
                    f'must be a generated world with instance maps (e.g. '
                    f'DetailTwinWorldDataset) written next to its '
                    f'{self.annotation_folder!r} folder.')
        return instance_path, objects_path

    def _target(self, name: str, class_id: int, path: str) -> int:
        """The predicted class id that names object ``name``."""
        classes = (self.dataset_meta or {}).get('classes')
        if classes is not None:
            if name not in classes:
                raise ValueError(
                    f'ObjectNamingMetric: object class {name!r} of {path} is '
                    f'not a class of the evaluated dataset ({list(classes)}); '
                    f'the metric scores the world it was generated with.')
            return list(classes).index(name)
        if not any(name in names for names in self.groups.values()):
            raise ValueError(
                f'ObjectNamingMetric: object class {name!r} of {path} is in '
                f'no group ({dict(self.groups)}) and the dataset gives no '
                f'classes to check it against.')
        return class_id

    def _twin_target(self, name: str) -> Optional[int]:
        """The predicted class id of ``name``'s twin (None: no twin, or
        not a class of the evaluated dataset)."""
        classes = list((self.dataset_meta or {}).get('classes') or ())
        twin = self.twins.get(name)
        return classes.index(twin) if twin in classes else None

    def _load(self, seg_map_path: str,
              shape: Tuple[int, int]) -> Tuple[np.ndarray, List[dict]]:
        """The (H, W) instance map and objects list (in id order) of a label
        map, checked against each other."""
        instance_path, objects_path = self._files(seg_map_path)
        instances = np.asarray(Image.open(instance_path))
        if instances.shape != shape:
            raise ValueError(
                f'ObjectNamingMetric: instance map {instance_path} is '
                f'{instances.shape}, the prediction {shape}.')
        with open(objects_path) as handle:
            objects = sorted(json.load(handle), key=lambda obj: obj['id'])
        if [obj['id'] for obj in objects] != list(range(1, len(objects) + 1)):
            raise ValueError(f'ObjectNamingMetric: object ids of '
                             f'{objects_path} are not 1..{len(objects)}.')
        areas = np.bincount(instances.ravel(), minlength=len(objects) + 1)
        for obj in objects:
            if obj['kind'] not in KINDS:
                raise ValueError(
                    f'ObjectNamingMetric: object {obj["id"]} of '
                    f'{objects_path} has kind {obj["kind"]!r}, not one of '
                    f'{KINDS}.')
            if areas[obj['id']] == 0:
                raise ValueError(
                    f'ObjectNamingMetric: object {obj["id"]} of '
                    f'{objects_path} has no pixel in {instance_path}.')
            obj['target'] = self._target(obj['name'], obj['class_id'],
                                         objects_path)
        return instances, objects

    def _check_groups(self) -> None:
        """Every group's names are classes of the evaluated dataset."""
        classes = (self.dataset_meta or {}).get('classes')
        if classes is None:
            return
        for group, names in self.groups.items():
            unknown = [name for name in names if name not in classes]
            if unknown:
                raise ValueError(
                    f'ObjectNamingMetric: group {group!r} names {unknown}, '
                    f'which are not classes of the evaluated dataset '
                    f'({list(classes)}).')

    def process(self, data_batch: dict, data_samples: Sequence[dict]) -> None:
        """Score every object of each sample's instance map."""
        self._check_groups()
        for data_sample in data_samples:
            # (1, H, W) -> (H, W)
            prediction = data_sample['pred_sem_seg']['data'].squeeze(0)
            prediction = prediction.cpu().numpy().astype(np.int64)
            instances, objects = self._load(data_sample['seg_map_path'],
                                            prediction.shape)
            scores = score_objects(prediction, instances,
                                   [obj['target'] for obj in objects],
                                   self.margin)
            # one result per sample: mmengine cuts the collected results
            # to the dataset's length
            self.results.append([
                ObjectScore(obj['name'], obj['kind'],
                            majority == obj['target'], iou,
                            majority == self._twin_target(obj['name']))
                for obj, (majority, iou) in zip(objects, scores)
            ])

    def compute_metrics(self,
                        results: List[List[ObjectScore]]) -> Dict[str, float]:
        """Naming percent, mean instance IoU and count per group and kind."""
        # mmengine hands results back with named tuples made plain tuples
        scores = [
            ObjectScore(*score) for sample in results for score in sample
        ]
        groups = [('all', None)] + list(self.groups.items())
        metrics = OrderedDict()
        rows = []
        for group, names in groups:
            cells = []
            for kind, members in KIND_GROUPS.items():
                chosen = [
                    score for score in scores if score.kind in members and (
                        names is None or score.name in names)
                ]
                if not chosen:
                    cells.append('-')
                    continue
                naming = 100 * np.mean([score.named for score in chosen])
                iou = 100 * np.mean([score.iou for score in chosen])
                metrics[f'naming_{group}_{kind}'] = round(float(naming), 2)
                metrics[f'iou_{group}_{kind}'] = round(float(iou), 2)
                metrics[f'count_{group}_{kind}'] = len(chosen)
                if names is not None and all(name in self.twins
                                             for name in names):
                    metrics[f'twin_{group}_{kind}'] = round(
                        float(100 * np.mean([s.as_twin for s in chosen])), 2)
                cells.append(f'{naming:5.1f} {iou:5.1f} {len(chosen):5d}')
            rows.append(f'{group:<10}' + ''.join(f' | {c:>17}' for c in cells))
        header = f'{"group":<10}' + ''.join(f' | {kind:>17}'
                                            for kind in KIND_GROUPS)
        logger = MMLogger.get_current_instance()
        print_log(
            'objects (percent named, mean instance IoU, count):\n' +
            '\n'.join([header, '-' * len(header)] + rows),
            logger=logger)
        print_log(
            'object naming summary: ' +
            '  '.join(f'{key} {metrics[key]:.2f}'
                      for key in SUMMARY_KEYS if key in metrics),
            logger=logger)
        return dict(metrics)
