"""Loading transforms that keep 16-bit labels and name the file that fails.

mmseg's ``LoadAnnotations`` casts every label map to uint8, so on benchmarks
with more than 255 classes (ADE-847, PASCAL-Context-459) class 256 becomes
class 0 and the ignore value 65535 becomes 255, silently. Its
``reduce_zero_label`` is hard-wired to the ignore value 255, and a decoding
error names neither the file nor the value. :class:`LoadAnnotations16` keeps
the stored values, works with any ignore index up to 65535 and checks every
value against the dataset's classes; :class:`LoadImageChecked` re-raises
mmcv's decoding errors with the image path.
"""
from typing import Optional

import mmcv
import mmengine.fileio as fileio
import numpy as np
from mmcv.transforms import BaseTransform, LoadImageFromFile
from mmseg.registry import TRANSFORMS

from .check_labels import class_file_fix

MAX_LABEL = 65535
MAX_REPORTED_VALUES = 5


@TRANSFORMS.register_module()
class LoadAnnotations16(BaseTransform):
    """Load a semantic label map keeping its values (uint8 or uint16 files).

    Steps, in mmseg's order: decode the file unchanged; with
    ``reduce_zero_label`` map 0 to the ignore index and every other class id
    ``v`` to ``v - 1`` (the ignore index itself stays); apply the dataset's
    ``label_map`` (old id -> new id); check that every value is a class id
    below ``num_classes`` or the ignore index.

    Required keys: ``seg_map_path``; optional ``reduce_zero_label``,
    ``label_map``, ``ignore_index``, ``num_classes`` (the datasets of this
    package add the last two to every sample). A sample without
    ``seg_map_path`` passes through unchanged, so a test pipeline also serves
    images without labels.

    Added keys: ``gt_seg_map`` (H, W), uint16 when the ignore index or a
    class id exceeds 255, else uint8; ``seg_fields``.

    Args:
        reduce_zero_label: None = take the sample's ``reduce_zero_label``;
            a bool must agree with it when the sample has one.
        ignore_index: None = the sample's ``ignore_index``, else 255.
        num_classes: None = the sample's ``num_classes``; when neither is
            set the values are not checked.
        imdecode_backend: mmcv backend; 'pillow' (default) reads palette PNGs
            as indices and 16-bit PNG/TIFF as uint16.
        backend_args: mmengine file backend arguments.

    Raises:
        FileNotFoundError: the label file does not exist (names it).
        ValueError: the file cannot be decoded, has more than one channel,
            or holds a value outside the classes (names file and values).
    """

    def __init__(self,
                 *,
                 reduce_zero_label: Optional[bool] = None,
                 ignore_index: Optional[int] = None,
                 num_classes: Optional[int] = None,
                 imdecode_backend: str = 'pillow',
                 backend_args: Optional[dict] = None) -> None:
        super().__init__()
        if ignore_index is not None and not 0 <= ignore_index <= MAX_LABEL:
            raise ValueError(f'ignore_index={ignore_index} must lie in '
                             f'0..{MAX_LABEL}')
        self.reduce_zero_label = reduce_zero_label
        self.ignore_index = ignore_index
        self.num_classes = num_classes
        self.imdecode_backend = imdecode_backend
        self.backend_args = backend_args.copy() if backend_args else None

    def transform(self, results: dict) -> dict:
        path = results.get('seg_map_path')
        if path is None:
            return results
        stored = self._read(path)
        ignore = self._setting(results, 'ignore_index', 255)
        labels = stored.astype(np.int64)
        if self._reduce_zero_label(results):
            is_ignore = labels == ignore
            labels -= 1
            labels[is_ignore | (labels < 0)] = ignore
        label_map = results.get('label_map')
        if label_map:
            labels = _apply_label_map(labels, label_map)
        num_classes = self._setting(results, 'num_classes', None)
        if num_classes is not None:
            _check_range(path, stored, labels, num_classes, ignore,
                         class_file_fix(results, ignore))
        wide = ignore > 255 or (labels.size and labels.max() > 255)
        results['gt_seg_map'] = labels.astype(np.uint16 if wide else np.uint8)
        results.setdefault('seg_fields', []).append('gt_seg_map')
        return results

    def _read(self, path: str) -> np.ndarray:
        """The label file decoded unchanged, as a (H, W) integer array."""
        try:
            data = fileio.get(path, backend_args=self.backend_args)
        except FileNotFoundError as err:
            raise FileNotFoundError(
                f'label map {path} does not exist') from err
        try:
            seg = mmcv.imfrombytes(
                data, flag='unchanged', backend=self.imdecode_backend)
        except Exception as err:
            raise ValueError(f'cannot decode label map {path}: {err}') from err
        if seg is None:
            raise ValueError(f'cannot decode label map {path}: the '
                             f'{self.imdecode_backend} decoder returned '
                             'nothing (not an image file?)')
        if seg.ndim == 3 and seg.shape[2] == 1:
            seg = seg[..., 0]
        if seg.ndim != 2:
            raise ValueError(
                f'label map {path} has shape {seg.shape}: expected one '
                'channel of class ids (an RGB colour map is not a label map;'
                ' prepare the dataset with tools/dataset_converters)')
        if not np.issubdtype(seg.dtype, np.integer):
            raise ValueError(f'label map {path} holds {seg.dtype} values: '
                             'expected integer class ids')
        if seg.size and (seg.min() < 0 or seg.max() > MAX_LABEL):
            value = seg.min() if seg.min() < 0 else seg.max()
            raise ValueError(f'label map {path} holds value {value}, outside '
                             f'0..{MAX_LABEL}')
        return seg

    def _setting(self, results: dict, key: str, default):
        own = getattr(self, key)
        return own if own is not None else results.get(key, default)

    def _reduce_zero_label(self, results: dict) -> bool:
        sample = results.get('reduce_zero_label')
        if self.reduce_zero_label is None:
            return bool(sample)
        if sample is not None and bool(sample) != self.reduce_zero_label:
            raise ValueError(
                f'LoadAnnotations16(reduce_zero_label='
                f'{self.reduce_zero_label}) disagrees with the dataset '
                f'(reduce_zero_label={sample}); set it in the dataset only')
        return self.reduce_zero_label

    def __repr__(self) -> str:
        return (f'{self.__class__.__name__}(reduce_zero_label='
                f'{self.reduce_zero_label}, ignore_index={self.ignore_index}, '
                f'num_classes={self.num_classes}, '
                f"imdecode_backend='{self.imdecode_backend}')")


def _apply_label_map(labels: np.ndarray, label_map: dict) -> np.ndarray:
    """Replace every old id by its new id in one table lookup."""
    size = max(int(labels.max(initial=0)), max(label_map)) + 1
    table = np.arange(size, dtype=np.int64)
    for old, new in label_map.items():
        table[old] = new
    return table[labels]


def _check_range(path: str, stored: np.ndarray, labels: np.ndarray,
                 num_classes: int, ignore: int, fix: str) -> None:
    """Raise naming the stored values that map outside the classes."""
    bad = (labels != ignore) & ((labels < 0) | (labels >= num_classes))
    if not bad.any():
        return
    pairs = np.unique(
        np.stack([stored[bad].astype(np.int64), labels[bad]]), axis=1)
    shown = [
        f'{raw}' if raw == new else f'{raw} (class id {new} after '
        'reduce_zero_label/label_map)'
        for raw, new in pairs.T[:MAX_REPORTED_VALUES].tolist()
    ]
    more = pairs.shape[1] - len(shown)
    raise ValueError(
        f'label map {path} holds value {", ".join(shown)}'
        f'{f" and {more} more" if more > 0 else ""}: valid class ids are '
        f'0..{num_classes - 1} ({num_classes} classes) and the ignore index '
        f'{ignore}{fix}')


@TRANSFORMS.register_module()
class LoadImageChecked(LoadImageFromFile):
    """mmcv's ``LoadImageFromFile`` whose errors always name the image.

    mmcv reports an undecodable file as "cannot identify image file
    <_io.BytesIO ...>" or an OpenCV assertion, without the path. Arguments
    are those of ``LoadImageFromFile``; with ``ignore_empty=True`` a bad file
    still yields None.

    Raises:
        FileNotFoundError: the image does not exist.
        OSError: the image cannot be decoded.
    """

    def transform(self, results: dict) -> Optional[dict]:
        path = results['img_path']
        try:
            loaded = super().transform(results)
        except FileNotFoundError as err:
            if self.ignore_empty:
                return None
            raise FileNotFoundError(f'image {path} does not exist') from err
        except Exception as err:
            if self.ignore_empty:
                return None
            raise OSError(f'cannot decode image {path}: {err}') from err
        return loaded
