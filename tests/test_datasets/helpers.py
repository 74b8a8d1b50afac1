"""Build a benchmark dataset with the loading transforms and read it back."""
from pathlib import Path
from typing import List

import numpy as np

LOADING = [dict(type='LoadImageChecked'), dict(type='LoadAnnotations16')]


def build(dataset_cls, root: Path, img_path: str, seg_map_path: str, **kwargs):
    """``dataset_cls`` over ``root`` with image and label loading only."""
    return dataset_cls(
        data_root=str(root),
        data_prefix=dict(img_path=img_path, seg_map_path=seg_map_path),
        pipeline=LOADING,
        test_mode=True,
        **kwargs)


def gt_maps(dataset) -> List[np.ndarray]:
    """The loaded ``gt_seg_map`` of every sample, in dataset order."""
    return [dataset[i]['gt_seg_map'] for i in range(len(dataset))]
