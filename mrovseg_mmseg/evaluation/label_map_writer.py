"""Write predicted label maps as PNG files during testing."""
import os
import os.path as osp
from typing import Optional, Sequence

import numpy as np
from mmengine.evaluator import BaseMetric
from mmseg.registry import METRICS
from PIL import Image


def save_label_map(label_map: np.ndarray, path: str, num_classes: int) -> None:
    """uint8 PNG for up to 256 classes, uint16 PNG beyond."""
    dtype = np.uint8 if num_classes <= 256 else np.uint16
    if label_map.max(initial=0) > np.iinfo(dtype).max:
        raise ValueError(f'label {int(label_map.max())} does not fit {dtype} '
                         f'for {path}')
    Image.fromarray(label_map.astype(dtype)).save(path)


@METRICS.register_module()
class LabelMapWriter(BaseMetric):
    """Save every prediction as ``<out_dir>/<image name>.png``.

    Unlike mmseg's ``IoUMetric(output_dir=...)``, label maps of benchmarks with
    more than 256 classes are written as 16-bit PNGs, so class ids above 255
    survive. Values are the model's class indices (0..K-1). It computes no
    metric.

    Args:
        out_dir: folder for the PNG files (created if missing).
    """

    def __init__(self, *, out_dir: str, collect_device: str = 'cpu',
                 prefix: Optional[str] = None):
        super().__init__(collect_device=collect_device, prefix=prefix)
        self.out_dir = out_dir
        os.makedirs(out_dir, exist_ok=True)

    def process(self, data_batch, data_samples: Sequence[dict]) -> None:
        num_classes = len(self.dataset_meta['classes'])
        for sample in data_samples:
            label_map = sample['pred_sem_seg']['data'][0].cpu().numpy()
            name = osp.splitext(osp.basename(sample['img_path']))[0]
            save_label_map(label_map, osp.join(self.out_dir, name + '.png'),
                           num_classes)

    def compute_metrics(self, results: list) -> dict:
        return {}
