"""Check each loaded label map against its image and its benchmark.

Without this check a label map of the wrong size is stretched or padded
during training and crashes mmseg's ``IoUMetric`` with an ``IndexError`` that
names no file; label values outside the classes are dropped from the mIoU
without a word; and 8-bit labels on a 16-bit benchmark (ADE-847, PASCAL-
Context-459) turn class 255 into a valid-looking class and wrap ids above
255.
"""
import os.path as osp
from typing import Optional

import numpy as np
from mmcv.transforms import BaseTransform
from mmseg.registry import TRANSFORMS
from PIL import Image

EIGHT_BIT_MODES = ('1', 'L', 'P')
MAX_REPORTED_VALUES = 5


@TRANSFORMS.register_module()
class CheckLabels(BaseTransform):
    """Refuse a label map that does not fit its image or its dataset.

    Place it right after the label loader (``LoadAnnotations16`` or mmseg's
    ``LoadAnnotations``). It checks that

    - the map's (H, W) equals the image's original size (``ori_shape``),
    - on a 16-bit benchmark (ignore index above 255) the map was not loaded
      as uint8 (mmseg's ``LoadAnnotations`` wraps ids above 255) and its file
      stores 16-bit values,
    - every value is a class id below ``num_classes`` or the ignore index.

    A sample without ``gt_seg_map`` passes unchanged.

    Args:
        num_classes: None = the sample's ``num_classes`` (the benchmark
            datasets of this package add it); when neither is set the values
            are not checked.
        ignore_index: None = the sample's ``ignore_index``, else 255.

    Raises:
        ValueError: naming the label file, its image and what is wrong.
    """

    def __init__(self,
                 *,
                 num_classes: Optional[int] = None,
                 ignore_index: Optional[int] = None) -> None:
        super().__init__()
        if num_classes is not None and num_classes < 1:
            raise ValueError(f'num_classes={num_classes} must be >= 1')
        self.num_classes = num_classes
        self.ignore_index = ignore_index

    def transform(self, results: dict) -> dict:
        seg = results.get('gt_seg_map')
        if seg is None:
            return results
        path = results.get('seg_map_path')
        where = f'label map {path} (image {results.get("img_path")})'
        image_size = tuple(results.get('ori_shape', seg.shape))[:2]
        if tuple(seg.shape[:2]) != image_size:
            raise ValueError(
                f'{where} is {seg.shape[0]}x{seg.shape[1]} pixels, its image '
                f'{image_size[0]}x{image_size[1]}: a label map must have the '
                'size of its image; check that it belongs to this image, or '
                'draw it again at the image\'s size (resizing needs '
                'nearest-neighbour interpolation, which invents no class id)')
        ignore = self._setting(results, 'ignore_index', 255)
        if ignore > 255:
            self._check_16_bit(seg, path, where, ignore)
        num_classes = self._setting(results, 'num_classes', None)
        if num_classes is not None:
            bad = (seg != ignore) & (seg >= num_classes)
            if bad.any():
                values = np.unique(seg[bad])
                fix = class_file_fix(results, ignore)
                shown = ', '.join(str(v) for v in values[:MAX_REPORTED_VALUES])
                raise ValueError(
                    f'{where} holds value {shown}'
                    f'{" ..." if len(values) > MAX_REPORTED_VALUES else ""}: '
                    f'valid values are the class ids 0..{num_classes - 1} and '
                    f'the ignore index {ignore}{fix}')
        return results

    def _setting(self, results: dict, key: str, default):
        own = getattr(self, key)
        if own is not None:
            return own
        value = results.get(key)
        return default if value is None else value

    @staticmethod
    def _check_16_bit(seg: np.ndarray, path: Optional[str], where: str,
                      ignore: int) -> None:
        hint = ('this benchmark needs 16-bit label maps (ignore index '
                f'{ignore}): load them with LoadAnnotations16 from the files '
                'written by its converter in tools/dataset_converters')
        if seg.dtype == np.uint8:
            raise ValueError(f'{where} was loaded as 8-bit values; {hint}')
        if not path or not osp.isfile(path):
            return
        try:
            with Image.open(path) as image:
                mode = image.mode
        except OSError:
            return
        if mode in EIGHT_BIT_MODES:
            raise ValueError(f'{where} stores 8-bit values (image mode '
                             f'{mode!r}); {hint}')

    def __repr__(self) -> str:
        return (f'{self.__class__.__name__}(num_classes={self.num_classes}, '
                f'ignore_index={self.ignore_index})')


def class_file_fix(results: dict, ignore: int) -> str:
    """The fix for a label value beyond the classes of a class file, or ''."""
    classes_file = results.get('classes_file')
    if not classes_file:
        return ''
    return (f'; the classes are the lines of {classes_file} (line N names '
            'class id N-1): add a line for each missing class id, or set '
            f'those pixels to {ignore} to leave them unlabelled')
