"""Common base of the benchmark datasets: checked files, 16-bit ignore index.

Every benchmark dataset of this package has two name lists in its metainfo:
``classes``, the names the text encoder sees (words, synonyms separated by
commas), and ``raw_classes``, the benchmark's official strings where they
differ (e.g. PASCAL-Context's ``airconditioner``). ``class_names='raw'``
puts the official strings into ``classes`` instead. ``classes`` given as a
path is read as a class file (:mod:`.class_file`).
"""
import os.path as osp
from typing import Dict, List, Optional, Sequence

import mmengine.fileio as fileio
import numpy as np
from mmseg.datasets import BaseSegDataset

from .class_file import read_class_file

MAX_MISSING_SHOWN = 3
CLASS_NAME_CHOICES = ('prompt', 'raw')


def generated_palette(num_classes: int, seed: int) -> List[List[int]]:
    """A fixed pseudo-random RGB colour per class, (K, 3) in 0..255."""
    rng = np.random.default_rng(seed)
    return rng.integers(0, 256, size=(num_classes, 3)).tolist()


class OVSegDataset(BaseSegDataset):
    """mmseg's ``BaseSegDataset`` with what the benchmarks need on top.

    - The ignore index is the benchmark's (``IGNORE_INDEX``: 255, or 65535
      for the 16-bit benchmarks); a class subset given through
      ``metainfo=dict(classes=[...])`` sends the dropped classes to it (mmseg
      hard-codes 255, a valid class id of the 16-bit benchmarks).
    - Every sample carries ``ignore_index`` and ``num_classes`` so that
      :class:`LoadAnnotations16` checks each label value.
    - A missing image or label file is reported when the dataset is built,
      naming the file and the preparation command.
    - ``metainfo=dict(classes='path/classes.txt')`` reads the classes from
      a class file, checked line by line (mmengine reads such a path
      unchecked, and keeps the path itself as the classes when the file is
      missing).

    Args:
        class_names: 'prompt' = ``classes`` are the prompt-friendly names;
            'raw' = the benchmark's official strings (``raw_classes``).
        check_files: test that every image and label file exists.
        **kwargs: ``BaseSegDataset`` arguments (``data_root``,
            ``data_prefix``, ``ann_file``, ``pipeline``, ``metainfo``...).

    Raises:
        FileNotFoundError: no image found, or images/labels missing.
        ValueError: an unknown class name or a foreign ``ignore_index``.
    """
    METAINFO: dict = dict()
    IGNORE_INDEX = 255
    PREPARE_HINT = 'see docs/datasets.md'
    LAYOUT_DOC = 'docs/datasets.md'

    def __init__(self,
                 *,
                 class_names: str = 'prompt',
                 check_files: bool = True,
                 **kwargs) -> None:
        if class_names not in CLASS_NAME_CHOICES:
            raise ValueError(f'class_names={class_names!r}: use one of '
                             f'{CLASS_NAME_CHOICES}')
        ignore_index = kwargs.pop('ignore_index', self.IGNORE_INDEX)
        if ignore_index != self.IGNORE_INDEX:
            raise ValueError(
                f'{type(self).__name__} labels use the ignore index '
                f'{self.IGNORE_INDEX} (written by its converter); got '
                f'ignore_index={ignore_index}')
        if class_names == 'raw':
            metainfo = dict(kwargs.pop('metainfo', None) or {})
            metainfo.setdefault('classes', self._raw_classes())
            kwargs['metainfo'] = metainfo
        self.check_files = check_files
        super().__init__(ignore_index=ignore_index, **kwargs)

    @classmethod
    def get_label_map(
            cls,
            new_classes: Optional[Sequence] = None
    ) -> Optional[Dict[int, int]]:
        """Old class id -> new id for a subset of the classes, else None.

        The subset may be written with the prompt or the raw names; dropped
        classes map to ``IGNORE_INDEX``.
        """
        if new_classes is None:
            return None
        new_classes = list(new_classes)
        for names in (cls.METAINFO['classes'], cls._raw_classes()):
            names = list(names)
            if new_classes == names:
                return None
            if set(new_classes) <= set(names):
                return {
                    old: (new_classes.index(name)
                          if name in new_classes else cls.IGNORE_INDEX)
                    for old, name in enumerate(names)
                }
        known = set(cls.METAINFO['classes']) | set(cls._raw_classes())
        unknown = [name for name in new_classes if name not in known]
        raise ValueError(f'{cls.__name__}: classes {unknown[:5]} are not '
                         'among its classes (prompt or raw names)')

    @classmethod
    def _load_metainfo(cls, metainfo: Optional[dict] = None) -> dict:
        """mmengine's metainfo, with ``classes`` read from a class file when
        given as a path; the path is kept as ``classes_file``."""
        classes = (metainfo or {}).get('classes')
        if not isinstance(classes, str):
            return super()._load_metainfo(metainfo)
        metainfo = dict(metainfo, classes=read_class_file(classes))
        loaded = super()._load_metainfo(metainfo)
        loaded['classes_file'] = classes
        return loaded

    @classmethod
    def _raw_classes(cls) -> Sequence[str]:
        return cls.METAINFO.get('raw_classes', cls.METAINFO['classes'])

    def _update_palette(self) -> list:
        """The palette of the kept classes when a subset is used."""
        palette = self._metainfo.get('palette', [])
        classes = self._metainfo.get('classes', [])
        if self.label_map is not None and len(palette) != len(classes):
            kept = sorted((new, old) for old, new in self.label_map.items()
                          if new != self.IGNORE_INDEX)
            return [palette[old] for _, old in kept]
        return super()._update_palette()

    def load_data_list(self) -> List[dict]:
        """mmseg's file list, checked, with ignore index and class count."""
        self._check_folders()
        data_list = super().load_data_list()
        if not data_list:
            raise FileNotFoundError(
                f'{type(self).__name__}: no image ending in '
                f'{self.img_suffix!r} under {self.data_prefix.get("img_path")}'
                f' (ann_file={self.ann_file!r}); {self.PREPARE_HINT}')
        if self.check_files:
            self._check_files(data_list)
        num_classes = len(self._metainfo['classes'])
        classes_file = self._metainfo.get('classes_file')
        for info in data_list:
            info['ignore_index'] = self.ignore_index
            info['num_classes'] = num_classes
            if classes_file:
                info['classes_file'] = classes_file
        return data_list

    def _check_folders(self) -> None:
        """Name the data folder and how to fill it when it is not there
        (mmseg would raise a bare ``No such file or directory``)."""
        if self.backend_args is not None:
            return
        wanted = [('image folder', self.data_prefix.get('img_path', ''),
                   osp.isdir)]
        if self.ann_file:
            wanted.append(('split file', self.ann_file, osp.isfile))
        for what, path, exists in wanted:
            if path and not exists(path):
                root = self.data_root or '.'
                raise FileNotFoundError(
                    f'{type(self).__name__}: the {what} {path} does not '
                    f'exist. This config reads the dataset from data_root='
                    f'{root!r}, i.e. {osp.abspath(root)} (relative paths '
                    f'start in the current folder, {osp.abspath(".")}); '
                    f'{self.PREPARE_HINT} ({self.LAYOUT_DOC} shows the '
                    'layout), or point data_root at your copy, e.g. '
                    '--cfg-options test_dataloader.dataset.data_root=/path')

    def _check_files(self, data_list: List[dict]) -> None:
        missing = []
        for info in data_list:
            for key in ('img_path', 'seg_map_path'):
                path = info.get(key)
                if path is not None and not self._exists(path):
                    missing.append((key, path, info['img_path']))
        if not missing:
            return
        shown = '; '.join(f'label map {path} (for image {image})' if key ==
                          'seg_map_path' else f'image {path}'
                          for key, path, image in missing[:MAX_MISSING_SHOWN])
        raise FileNotFoundError(
            f'{type(self).__name__}: {len(missing)} of the listed files do '
            f'not exist: {shown}; {self._missing_files_hint()}')

    def _missing_files_hint(self) -> str:
        """How to fix the files reported missing by :meth:`_check_files`."""
        return self.PREPARE_HINT

    def _exists(self, path: str) -> bool:
        if self.backend_args is None:
            return osp.isfile(path)
        return fileio.exists(path, backend_args=self.backend_args)
