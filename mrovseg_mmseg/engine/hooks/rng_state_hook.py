"""Resume with torch's random generators where the interrupted run left them.

mmengine re-seeds a resumed process with the config's seed and replays the
data loader up to the resumed iteration, so the data pipeline (numpy and
``random``, in the main process or in the seeded workers) draws exactly what
the uninterrupted run drew. torch's generator is not replayed: the model
consumed it during the skipped iterations (point sampling in the loss), so
without this hook a resumed run diverges from the first iteration on.

The hook stores the torch CPU and CUDA generator states in every checkpoint
(as uint8 tensors, loadable with ``weights_only=True``) and restores them
just before the first resumed iteration runs the model. numpy and ``random``
are deliberately left alone: with ``num_workers=0`` the replayed pipeline
also advances them, and restoring them after the replay would skip ahead.
"""
import logging
from typing import Optional

import torch
from mmengine.dist import get_world_size
from mmengine.hooks import Hook
from mmengine.logging import print_log
from mmseg.registry import HOOKS

RNG_KEY = 'rng_state'


@HOOKS.register_module()
class RNGStateHook(Hook):
    """Save torch's generator states in checkpoints; restore them on resume.

    Only a resumed run (its first iteration is the checkpoint's iteration)
    restores the states; ``load_from`` fine-tuning and testing keep their
    own seed. Checkpoints are written by rank 0, so in distributed runs every
    rank restores rank 0's state; with ``randomness.diff_rank_seed`` that
    would give all ranks one stream, so the states are not restored then.
    """

    priority = 'VERY_LOW'

    def __init__(self) -> None:
        self._pending: Optional[dict] = None
        self._pending_iter: Optional[int] = None

    def before_save_checkpoint(self, runner, checkpoint: dict) -> None:
        cuda = (
            list(torch.cuda.get_rng_state_all())
            if torch.cuda.is_available() else [])
        checkpoint[RNG_KEY] = dict(torch=torch.get_rng_state(), cuda=cuda)

    def after_load_checkpoint(self, runner, checkpoint: dict) -> None:
        state = checkpoint.get(RNG_KEY)
        meta = checkpoint.get('meta') or {}
        self._pending = state
        self._pending_iter = meta.get('iter') if state is not None else None

    def before_train_iter(self,
                          runner,
                          batch_idx: int,
                          data_batch=None) -> None:
        if self._pending is None:
            return
        state, resumed_iter = self._pending, self._pending_iter
        self._pending = self._pending_iter = None
        if runner.iter != resumed_iter:
            return
        randomness = runner.cfg.get('randomness') or {}
        if get_world_size() > 1 and randomness.get('diff_rank_seed'):
            print_log(
                'RNGStateHook: not restoring the random generators, the '
                'checkpoint holds rank 0 only and diff_rank_seed=True',
                logger='current',
                level=logging.WARNING)
            return
        torch.set_rng_state(state['torch'])
        cuda = state.get('cuda') or []
        if cuda and torch.cuda.is_available():
            if len(cuda) == torch.cuda.device_count():
                torch.cuda.set_rng_state_all(cuda)
            else:
                print_log(
                    f'RNGStateHook: the checkpoint holds {len(cuda)} CUDA '
                    f'generator states, this machine has '
                    f'{torch.cuda.device_count()} devices; CUDA generators '
                    'keep their seed',
                    logger='current',
                    level=logging.WARNING)
