"""Datasets generated on first use, written in the standard mmseg layout."""
import json
import os
import os.path as osp
import shutil
import tempfile
from typing import Callable, Dict, List, Sequence, Tuple, Union

import numpy as np
from mmseg.datasets import BaseSegDataset
from PIL import Image

COMPLETE_MARKER = '.complete'
# split name, number of samples, rng -> ((H, W, 3) uint8 RGB, (H, W) uint8)
# or (image, label, extras)
Split = Tuple[str, int, Callable[[np.random.Generator], tuple]]


def write_generated_dataset(
        root: str, splits: Sequence[Split],
        seed: Union[int, Sequence[np.random.SeedSequence]],
        text_files: Dict[str, Sequence[str]]) -> str:
    """Write ``<root>/{images,annotations}/<split>/00000.png`` ... and the
    ``text_files`` (one line per entry) unless ``root`` is already complete.

    ``seed`` is one seed for all splits in turn, or one ``SeedSequence`` per
    split. A sample may come with extras, ``{folder: value}``: arrays are
    written to ``<folder>/<split>/00000.png``, anything else to
    ``<folder>/<split>/00000.json``.

    Writing goes to a temporary folder that is renamed into place, so
    concurrent processes (distributed ranks) never see a partial dataset.
    """
    if osp.exists(osp.join(root, COMPLETE_MARKER)):
        return root
    parent = osp.dirname(osp.abspath(root))
    os.makedirs(parent, exist_ok=True)
    staging = tempfile.mkdtemp(
        prefix=f'.{osp.basename(osp.abspath(root))}_', dir=parent)
    if isinstance(seed, int):
        shared = np.random.default_rng(seed)
        rngs = [shared] * len(splits)
    else:
        rngs = [np.random.default_rng(stream) for stream in seed]
    for (split, count, render), rng in zip(splits, rngs):
        for folder in ('images', 'annotations'):
            os.makedirs(osp.join(staging, folder, split))
        for index in range(count):
            image, label, *extras = render(rng)
            folders = dict(images=image, annotations=label,
                           **(extras[0] if extras else {}))
            for folder, value in folders.items():
                os.makedirs(osp.join(staging, folder, split), exist_ok=True)
                path = osp.join(staging, folder, split, f'{index:05d}')
                if isinstance(value, np.ndarray):
                    Image.fromarray(value).save(path + '.png')
                else:
                    with open(path + '.json', 'w') as handle:
                        json.dump(value, handle)
    for file_name, lines in text_files.items():
        with open(osp.join(staging, file_name), 'w') as handle:
            handle.write('\n'.join(lines) + '\n')
    open(osp.join(staging, COMPLETE_MARKER), 'w').close()
    try:
        os.rename(staging, root)
    except OSError:
        shutil.rmtree(staging, ignore_errors=True)
        if not osp.exists(osp.join(root, COMPLETE_MARKER)):
            raise
    return root


class GeneratedSegDataset(BaseSegDataset):
    """A PNG dataset that :meth:`generate` writes under ``data_root`` when
    ``generate=True`` and it is missing; the other keyword arguments of
    :meth:`generate` (``num_train``, ``seed`` ...) are taken from the config.
    """

    GENERATOR_SETTINGS = ('num_train', 'num_val', 'image_size', 'seed')

    def __init__(self, *, generate: bool = True, **kwargs):
        settings = {
            key: kwargs.pop(key)
            for key in self.GENERATOR_SETTINGS if key in kwargs
        }
        data_root = kwargs.get('data_root')
        if generate and data_root:
            self.generate(data_root, **settings)
        kwargs.setdefault('img_suffix', '.png')
        kwargs.setdefault('seg_map_suffix', '.png')
        kwargs.setdefault('reduce_zero_label', False)
        super().__init__(**kwargs)

    @staticmethod
    def generate(root: str, **settings) -> str:
        raise NotImplementedError

    def load_data_list(self) -> List[dict]:
        """mmseg's file list with the class count for ``CheckLabels``; an
        empty image folder is an error naming it."""
        data_list = super().load_data_list()
        if not data_list:
            raise FileNotFoundError(
                f'{type(self).__name__}: no image ending in '
                f'{self.img_suffix!r} under {self.data_prefix.get("img_path")}'
                f'; delete {self.data_root} to have it generated again')
        num_classes = len(self._metainfo['classes'])
        for info in data_list:
            info['num_classes'] = num_classes
        return data_list
