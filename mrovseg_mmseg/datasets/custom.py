"""Your own dataset: a folder of images, their label maps and a class file.

mmseg's folder layout and ``metainfo``, with the checks of
:class:`OVSegDataset`; docs/custom_dataset.md is the guide::

    dataset = dict(
        type='CustomOVSegDataset',
        data_root='data/my_dataset',
        metainfo=dict(classes='data/my_dataset/classes.txt'),
        data_prefix=dict(img_path='images/train', seg_map_path='labels/train'))
"""
from typing import Optional

from mmseg.registry import DATASETS

from .ov_seg_dataset import OVSegDataset


@DATASETS.register_module()
class CustomOVSegDataset(OVSegDataset):
    """Images ``<name><img_suffix>``, label maps ``<name><seg_map_suffix>``.

    Label maps hold one class id per pixel: the value k is the class on line
    k + 1 of the class file, 255 an unlabelled pixel (with
    ``reduce_zero_label=True``, 0 is unlabelled and k is line k). The classes
    come from ``metainfo=dict(classes=...)``: a class file (see
    :mod:`.class_file`) or a list of names. A test config may name another
    class file with the same ids: the model is open-vocabulary.

    Args:
        metainfo: must give ``classes``.
        **kwargs: :class:`OVSegDataset` and ``BaseSegDataset`` arguments.

    Raises:
        ValueError: no classes, or a bad class file.
        FileNotFoundError: a missing folder, class file or label map, named
            with the image it belongs to.
    """
    PREPARE_HINT = 'put your images and label maps there'
    LAYOUT_DOC = 'docs/custom_dataset.md'

    def __init__(self, *, metainfo: Optional[dict] = None, **kwargs) -> None:
        if not (metainfo or {}).get('classes'):
            raise ValueError(
                "CustomOVSegDataset needs the class names: set metainfo="
                "dict(classes='path/to/classes.txt'), a text file with the "
                'name of class id N-1 on line N (docs/custom_dataset.md)')
        super().__init__(metainfo=metainfo, **kwargs)

    @classmethod
    def get_label_map(cls, new_classes=None) -> None:
        """None: the label ids index the given classes, whatever they are."""
        return None

    def _missing_files_hint(self) -> str:
        return (f'each image needs a label map of the same name ending in '
                f'{self.seg_map_suffix!r} under '
                f'{self.data_prefix.get("seg_map_path")}: add the missing '
                'label maps, or move their images out of '
                f'{self.data_prefix.get("img_path")} ({self.LAYOUT_DOC})')
