"""Load a checkpoint only if it is safe and matches the model exactly.

mmengine loads ``load_from`` with ``strict=False``: a checkpoint of another
architecture, or one with renamed keys, loads partially and only a warning
in the log says so; the model then runs with random weights where the keys
did not match. It also leaves the unpickling mode to torch's default.

:class:`StrictLoadHook` checks ``load_from`` before it is read (the file
exists, is a complete ``torch.save`` archive, and holds nothing that
``torch.load(weights_only=True)`` refuses, whatever torch's default is), and
after it is read compares its state dict with the model's: missing keys,
unexpected keys and shape mismatches raise :class:`CheckpointMismatchError`
listing them (or, with ``strict=False``, are logged as a warning).
"""
import logging
import os.path as osp
import re
from typing import Dict, List, Optional

import torch
from mmengine.hooks import Hook
from mmengine.logging import print_log
from mmengine.model import is_model_wrapper
from mmseg.registry import HOOKS

MAX_LISTED = 10
NON_STRICT_HINT = ('to load the matching part anyway, pass --non-strict to '
                   'tools/test.py or set StrictLoadHook(strict=False) in '
                   'custom_hooks')


class CheckpointMismatchError(RuntimeError):
    """The checkpoint's state dict does not fit the model."""


def check_checkpoint_file(path: str) -> None:
    """Refuse a local checkpoint that is missing, truncated or unsafe.

    Raises:
        FileNotFoundError: no such file.
        ValueError: a truncated archive, or pickled objects that
            ``torch.load(weights_only=True)`` refuses (names them).
    """
    if not osp.isfile(path):
        raise FileNotFoundError(f'load_from={path!r}: no such checkpoint file')
    try:
        unsafe = torch.serialization.get_unsafe_globals_in_checkpoint(path)
    except ValueError:
        return  # not a zip archive (pre-1.6 format): torch.load decides
    except (RuntimeError, OSError) as err:
        raise ValueError(f'checkpoint {path} is truncated or corrupt: the '
                         f'archive cannot be read ({err})') from err
    if unsafe:
        raise ValueError(
            f'checkpoint {path} stores Python objects that '
            f'torch.load(weights_only=True) refuses: {sorted(unsafe)}. '
            'Loading it could run arbitrary code. If you trust the file, load '
            'it with weights_only=False in Python and save only its tensors, '
            "e.g. torch.save({'state_dict': ckpt['state_dict']}, path).")


def state_dict_mismatch(model_state: Dict[str, torch.Tensor],
                        loaded_state: Dict[str, torch.Tensor]) -> List[str]:
    """Lines describing missing, unexpected and wrongly shaped keys."""
    missing = sorted(set(model_state) - set(loaded_state))
    unexpected = sorted(set(loaded_state) - set(model_state))
    shapes = [
        f'{key}: checkpoint {tuple(loaded_state[key].shape)}, model '
        f'{tuple(model_state[key].shape)}' for key in sorted(model_state)
        if key in loaded_state and hasattr(loaded_state[key], 'shape')
        and tuple(loaded_state[key].shape) != tuple(model_state[key].shape)
    ]
    groups = (('missing keys', missing), ('unexpected keys', unexpected),
              ('shape mismatches', shapes))
    lines = []
    for title, items in groups:
        if items:
            more = len(items) - MAX_LISTED
            listed = ', '.join(items[:MAX_LISTED])
            lines.append(f'{len(items)} {title}: {listed}'
                         f'{f" ... and {more} more" if more > 0 else ""}')
    return lines


@HOOKS.register_module()
class StrictLoadHook(Hook):
    """Check ``load_from`` before loading and the loaded keys after.

    Args:
        strict: raise on missing/unexpected keys or shape mismatches; False
            logs them as a warning and lets mmengine load what matches.
        revise_keys: (pattern, replacement) pairs applied to the
            checkpoint's keys before comparing, as mmengine applies them when
            loading (default: strip a DDP ``module.`` prefix).
    """

    priority = 'VERY_LOW'

    def __init__(self,
                 *,
                 strict: bool = True,
                 revise_keys: Optional[List[tuple]] = None) -> None:
        self.strict = strict
        self.revise_keys = list(revise_keys or [(r'^module\.', '')])
        self._source = 'the checkpoint'

    def before_run(self, runner) -> None:
        # what Runner.load_or_resume reads; mmengine has no public accessor
        path = getattr(runner, '_load_from', None)
        if path:
            self._source = f'checkpoint {path}'
            if '://' not in str(path):
                check_checkpoint_file(str(path))

    def after_load_checkpoint(self, runner, checkpoint: dict) -> None:
        loaded = checkpoint.get('state_dict', checkpoint)
        for pattern, replacement in self.revise_keys:
            loaded = {
                re.sub(pattern, replacement, key): value
                for key, value in loaded.items()
            }
        model = runner.model.module if is_model_wrapper(
            runner.model) else runner.model
        lines = state_dict_mismatch(model.state_dict(), loaded)
        if not lines:
            return
        report = (f'{self._source} does not match {type(model).__name__}:'
                  '\n  ' + '\n  '.join(lines))
        if self.strict:
            raise CheckpointMismatchError(f'{report}\n{NON_STRICT_HINT}')
        print_log(
            f'{report}\nloading the matching part only (strict=False)',
            logger='current',
            level=logging.WARNING)
