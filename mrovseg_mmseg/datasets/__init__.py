"""Datasets and loading transforms, registered into mmseg's registries.

One module per benchmark family; ``classes`` are the names the text encoder
sees, ``raw_classes`` the benchmark's official strings.
"""
from .ade import ADE150Dataset, ADE847Dataset
from .cityscapes import CityscapesOVDataset
from .detail_twin_world import DetailTwinWorldDataset
from .coco_stuff import COCOStuff171Dataset
from .custom import CustomOVSegDataset
from .material_world import MaterialWorldDataset
from .ov_seg_dataset import OVSegDataset
from .pascal_context import PascalContext59Dataset, PascalContext459Dataset
from .synthetic_shapes import SyntheticShapesDataset
from .transforms import LoadAnnotations16, LoadImageChecked
from .voc import PascalVOC20Dataset

__all__ = [
    'OVSegDataset', 'COCOStuff171Dataset', 'ADE150Dataset', 'ADE847Dataset',
    'PascalContext59Dataset', 'PascalContext459Dataset', 'PascalVOC20Dataset',
    'CityscapesOVDataset', 'SyntheticShapesDataset', 'MaterialWorldDataset',
    'DetailTwinWorldDataset', 'CustomOVSegDataset', 'LoadAnnotations16',
    'LoadImageChecked'
]
