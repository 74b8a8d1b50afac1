"""An mmengine Runner around a toy model that uses every random generator.

The data "pipeline" draws from numpy (like mmcv's random transforms) and the
loss from torch (like the point sampling of MROVSeg's loss), so a resumed run
only matches an uninterrupted one when both streams are handled correctly.
Starts in well under a second, for tests of the checkpoint hooks.
"""
import uuid
from typing import Optional, Sequence

import numpy as np
import torch
import torch.nn as nn
from mmengine.model import BaseModel
from mmengine.runner import Runner
from torch.utils.data import Dataset

DEFAULT_HOOKS = (dict(type='SafeCheckpointHook'), dict(type='RNGStateHook'))


class ToyDataset(Dataset):
    """Points on a line, jittered with numpy's global generator."""

    def __len__(self) -> int:
        return 10

    def __getitem__(self, index: int) -> dict:
        jitter = np.random.uniform(-0.1, 0.1, 2).astype(np.float32)
        point = torch.tensor([index, index + 1.0
                              ]) / 10 + torch.from_numpy(jitter)
        return dict(inputs=point, data_samples=torch.tensor(index / 10.0))


class ToyModel(BaseModel):
    """A linear layer whose loss adds noise from torch's generator."""

    def __init__(self) -> None:
        super().__init__()
        self.linear = nn.Linear(2, 1)

    def forward(self, inputs, data_samples=None, mode: str = 'tensor'):
        x = torch.stack(inputs)  # list of (2, ) -> (B, 2)
        out = self.linear(x + 0.01 * torch.randn_like(x)).squeeze(1)
        if mode == 'loss':
            target = torch.stack(data_samples)
            return dict(loss=((out - target)**2).mean())
        return out


def build_toy_runner(work_dir: str,
                     *,
                     max_iters: int = 6,
                     interval: int = 2,
                     max_keep_ckpts: int = -1,
                     checkpoint_hook: str = 'AtomicCheckpointHook',
                     custom_hooks: Sequence[dict] = DEFAULT_HOOKS,
                     resume: bool = False,
                     load_from: Optional[str] = None) -> Runner:
    """A fresh Runner (seed 0, no workers) training :class:`ToyModel`."""
    torch.manual_seed(0)
    return Runner(
        model=ToyModel(),
        work_dir=work_dir,
        experiment_name=f'toy_{uuid.uuid4().hex}',
        train_dataloader=dict(
            dataset=ToyDataset(),
            sampler=dict(type='InfiniteSampler', shuffle=True),
            collate_fn=dict(type='pseudo_collate'),
            batch_size=2,
            num_workers=0),
        optim_wrapper=dict(optimizer=dict(type='AdamW', lr=0.05)),
        param_scheduler=dict(
            type='LinearLR', by_epoch=False, begin=0, end=max_iters),
        train_cfg=dict(by_epoch=False, max_iters=max_iters),
        default_hooks=dict(
            checkpoint=dict(
                type=checkpoint_hook,
                by_epoch=False,
                interval=interval,
                max_keep_ckpts=max_keep_ckpts),
            logger=dict(type='LoggerHook', interval=1)),
        custom_hooks=[dict(hook) for hook in custom_hooks],
        randomness=dict(seed=0),
        default_scope='mmseg',
        resume=resume,
        load_from=load_from,
        log_level='WARNING')
