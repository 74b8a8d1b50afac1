"""Checkpoints that load with ``torch.load(weights_only=True)``.

mmengine stores its logging buffers (``HistoryBuffer`` objects holding numpy
arrays and bound methods) in every checkpoint, so a plain weights-only load,
torch's default since 2.6, refuses the file, and loading it without
``weights_only`` would let a downloaded checkpoint run arbitrary code. This
hook writes those buffers as tensors and plain containers when a checkpoint is
saved and rebuilds them after it is loaded, so resuming and testing work with
safe loading.
"""
from typing import Any

import numpy as np
import torch
from mmengine.hooks import Hook
from mmengine.logging import HistoryBuffer
from mmseg.registry import HOOKS

BUFFER_TAG = '__history_buffer__'


def to_safe(value: Any) -> Any:
    """Replace HistoryBuffers and numpy objects by weights-only types."""
    if isinstance(value, HistoryBuffer):
        log, count = value.data
        return {
            BUFFER_TAG: True,
            'log_history': torch.from_numpy(np.asarray(log).copy()),
            'count_history': torch.from_numpy(np.asarray(count).copy()),
            'max_length': value.max_length,
        }
    if isinstance(value, np.ndarray):
        return torch.from_numpy(value.copy())
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, dict):
        return type(value)((k, to_safe(v)) for k, v in value.items())
    if isinstance(value, (list, tuple)):
        return type(value)(to_safe(v) for v in value)
    return value


def from_safe(value: Any) -> Any:
    """Rebuild the HistoryBuffers written by :func:`to_safe`."""
    if isinstance(value, dict):
        if value.get(BUFFER_TAG):
            return HistoryBuffer(value['log_history'].numpy(),
                                 value['count_history'].numpy(),
                                 value['max_length'])
        return type(value)((k, from_safe(v)) for k, v in value.items())
    return value


@HOOKS.register_module()
class SafeCheckpointHook(Hook):
    """Keep checkpoints loadable with ``weights_only=True`` (see module doc)."""

    priority = 'VERY_LOW'

    def before_save_checkpoint(self, runner, checkpoint: dict) -> None:
        for key in ('message_hub', 'meta'):
            if key in checkpoint:
                checkpoint[key] = to_safe(checkpoint[key])

    def after_load_checkpoint(self, runner, checkpoint: dict) -> None:
        if 'message_hub' in checkpoint:
            checkpoint['message_hub'] = from_safe(checkpoint['message_hub'])
