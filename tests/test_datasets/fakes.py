"""Tiny fakes of the official dataset archives, in their real file formats.

Each ``fake_*`` writes a handful of images and annotations under ``root``
the way the official archive unpacks, and returns what the tests need to
know about them (paths, the stored label maps).
"""
import json
import pickle
from pathlib import Path
from typing import Dict, List, Sequence

import numpy as np
import scipy.io
from PIL import Image

from mrovseg_mmseg.datasets.names.ade847 import ADE847_CLASSES
from mrovseg_mmseg.datasets.pascal_context import PC459_RAW_CLASSES

# Raw class value (ADE20K index) of the train ids used in the fakes.
ADE_WALL = ADE847_CLASSES[0][0]  # train id 0
ADE_ID_300 = ADE847_CLASSES[300][0]  # train id 300: needs 16 bits
ADE_LAST = ADE847_CLASSES[846][0]  # train id 846
NUM_ADE_OBJECTNAMES = 3200
ADE_OTHER = next(
    i for i in range(1, NUM_ADE_OBJECTNAMES)
    if i not in {index
                 for index, _ in ADE847_CLASSES})


def write_image(path: Path, height: int, width: int, seed: int = 0) -> None:
    """A random RGB image (JPEG or PNG after the suffix)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    pixels = rng.integers(0, 256, (height, width, 3), dtype=np.uint8)
    Image.fromarray(pixels).save(path)


def write_label(path: Path, labels: np.ndarray, palette: bool = False) -> None:
    """A one-channel PNG (uint8 'L' or palette 'P') or uint16 PNG/TIFF."""
    path.parent.mkdir(parents=True, exist_ok=True)
    if palette:
        height, width = labels.shape
        image = Image.frombytes('P', (width, height),
                                labels.astype(np.uint8).tobytes())
        image.putpalette([v for i in range(256) for v in (i, 255 - i, i)])
    else:
        image = Image.fromarray(labels)
    image.save(path)


def fake_coco_stuff(root: Path,
                    splits: Sequence[str] = ('val2017', ),
                    raw: np.ndarray = None) -> Dict[str, np.ndarray]:
    """images/<split>/*.jpg + annotations/<split>/*.png stuffthingmaps."""
    if raw is None:
        raw = np.array([[0, 11, 91, 181], [255, 0, 91, 181], [1, 1, 90, 255]],
                       dtype=np.uint8)
    stored = {}
    for number, split in enumerate(splits):
        name = f'00000000000{number + 1}'
        write_image(root / 'images' / split / f'{name}.jpg', *raw.shape)
        write_label(root / 'annotations' / split / f'{name}.png', raw)
        stored[split] = raw
    return stored


def fake_ade150(root: Path,
                splits: Sequence[str] = ('validation', ),
                labels: np.ndarray = None) -> None:
    """ADEChallengeData2016 images/<split>/*.jpg, annotations/<split>/*.png."""
    if labels is None:
        labels = np.array([[0, 1, 2, 150], [150, 8, 0, 1]], dtype=np.uint8)
    for split in splits:
        tag = 'val' if split == 'validation' else 'train'
        name = f'ADE_{tag}_00000001'
        write_image(root / 'images' / split / f'{name}.jpg', *labels.shape)
        write_label(root / 'annotations' / split / f'{name}.png', labels)


def ade_seg_png(classes: np.ndarray) -> np.ndarray:
    """ADE20K ``*_seg.png`` colours of class values: R/10*256 + G."""
    seg = np.zeros(classes.shape + (3, ), dtype=np.uint8)
    seg[..., 0] = classes // 256 * 10
    seg[..., 1] = classes % 256
    seg[..., 2] = 7  # instance channel, unused
    return seg


def ade_objectnames() -> List[str]:
    names = [f'thing {i}' for i in range(1, NUM_ADE_OBJECTNAMES + 1)]
    for index, name in ADE847_CLASSES:
        names[index - 1] = name
    return names


def fake_ade847(root: Path,
                classes: Dict[str, np.ndarray],
                objectnames: List[str] = None) -> None:
    """ADE20K_2021_17_01: index_ade20k.pkl + images/ADE/<split>/<scene>/.

    Args:
        classes: image file name -> (H, W) class values of its seg png.
    """
    index = dict(
        filename=[], folder=[], objectnames=objectnames or ade_objectnames())
    for number, (filename, values) in enumerate(classes.items()):
        split = 'validation' if '_val_' in filename else 'training'
        folder = f'{root.name}/images/ADE/{split}/urban/street'
        image_path = root.parent / folder / filename
        write_image(image_path, *values.shape, seed=number)
        seg_path = image_path.with_name(image_path.stem + '_seg.png')
        Image.fromarray(ade_seg_png(values)).save(seg_path)
        index['filename'].append(filename)
        index['folder'].append(folder)
    with open(root / 'index_ade20k.pkl', 'wb') as handle:
        pickle.dump(index, handle)


def fake_pascal_context(root: Path,
                        label_maps: Dict[str, np.ndarray],
                        split: str = 'val',
                        labels_txt: bool = True) -> None:
    """VOC2010 JPEGImages + ImageSets/Main + trainval/*.mat (+ labels.txt)."""
    (root / 'ImageSets' / 'Main').mkdir(parents=True, exist_ok=True)
    (root / 'trainval').mkdir(parents=True, exist_ok=True)
    for number, (image_id, labels) in enumerate(label_maps.items()):
        write_image(
            root / 'JPEGImages' / f'{image_id}.jpg',
            *labels.shape,
            seed=number)
        scipy.io.savemat(root / 'trainval' / f'{image_id}.mat',
                         dict(LabelMap=labels.astype(np.uint16)))
    (root / 'ImageSets' / 'Main' /
     f'{split}.txt').write_text('\n'.join(label_maps) + '\n')
    if labels_txt:
        (root / 'labels.txt').write_text(''.join(
            f'{i}: {name}\n' for i, name in enumerate(PC459_RAW_CLASSES, 1)))


def fake_voc2012(root: Path,
                 label_maps: Dict[str, np.ndarray],
                 split: str = 'val') -> None:
    """VOC2012 JPEGImages + SegmentationClass palette PNGs + split file."""
    (root / 'ImageSets' / 'Segmentation').mkdir(parents=True, exist_ok=True)
    for number, (image_id, labels) in enumerate(label_maps.items()):
        write_image(
            root / 'JPEGImages' / f'{image_id}.jpg',
            *labels.shape,
            seed=number)
        write_label(
            root / 'SegmentationClass' / f'{image_id}.png',
            labels,
            palette=True)
    (root / 'ImageSets' / 'Segmentation' /
     f'{split}.txt').write_text('\n'.join(label_maps) + '\n')


def cityscapes_paths(root: Path, split: str, city: str, stem: str) -> dict:
    gt = root / 'gtFine' / split / city
    return dict(
        image=root / 'leftImg8bit' / split / city / f'{stem}_leftImg8bit.png',
        label_ids=gt / f'{stem}_gtFine_labelIds.png',
        polygons=gt / f'{stem}_gtFine_polygons.json',
        train_ids=gt / f'{stem}_gtFine_labelTrainIds.png')


def fake_cityscapes_label_ids(root: Path, split: str, stem: str,
                              label_ids: np.ndarray) -> dict:
    """One image with its official ``*_gtFine_labelIds.png``."""
    paths = cityscapes_paths(root, split, 'aachen', stem)
    write_image(paths['image'], *label_ids.shape)
    write_label(paths['label_ids'], label_ids)
    return paths


def fake_cityscapes_polygons(root: Path, split: str, stem: str, height: int,
                             width: int, objects: List[dict]) -> dict:
    """One image with only its official ``*_gtFine_polygons.json``."""
    paths = cityscapes_paths(root, split, 'bremen', stem)
    write_image(paths['image'], height, width)
    paths['polygons'].parent.mkdir(parents=True, exist_ok=True)
    paths['polygons'].write_text(
        json.dumps(dict(imgHeight=height, imgWidth=width, objects=objects)))
    return paths
