"""Evaluation: mmseg's ``IoUMetric`` is used unchanged.

It scores the 16-bit benchmarks (ADE-847, PASCAL-Context-459) correctly when
the dataset config passes ``ignore_index=65535``: labels reach it as int64
tensors (``PackSegInputs``), ignored pixels are dropped from prediction and
label alike, and its ``torch.histc`` binning counts every class id
0..K-1 exactly (tests/test_datasets/test_iou_metric.py). One limitation
stays: with ``output_dir`` it writes predictions as uint8 PNGs, so class ids
above 255 are not stored correctly there.
"""
from .class_table import ClassTableRecorder  # noqa: E402
from .label_map_writer import LabelMapWriter, save_label_map  # noqa: E402
from .object_naming_metric import ObjectNamingMetric  # noqa: E402
from .open_vocab_metric import OpenVocabIoUMetric  # noqa: E402

__all__ = [
    'ClassTableRecorder', 'LabelMapWriter', 'ObjectNamingMetric',
    'OpenVocabIoUMetric', 'save_label_map'
]
