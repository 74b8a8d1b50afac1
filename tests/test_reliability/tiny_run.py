"""The tiny config for training runs: tools/train.py commands, in-process."""
import os
import os.path as osp
import sys
from typing import Dict, List

from mmengine.config import Config

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
CONFIG = osp.join(REPO, 'configs', 'mrovseg_tiny_shapes64.py')


def train_command(work_dir: str,
                  data_root: str,
                  *,
                  max_iters: int,
                  interval: int,
                  extra: List[str] = ()) -> List[str]:
    """Deterministic single-process training on a small synthetic set."""
    options = [
        f'train_cfg.max_iters={max_iters}',
        f'train_cfg.val_interval={max_iters}',
        f'param_scheduler.0.end={max_iters}',
        f'default_hooks.checkpoint.interval={interval}',
        'default_hooks.checkpoint.max_keep_ckpts=-1',
        'default_hooks.logger.interval=10',
        'randomness.seed=0',
        'randomness.deterministic=True',
        'train_dataloader.num_workers=0',
        'train_dataloader.persistent_workers=False',
        'train_dataloader.dataset.num_train=32',
        'train_dataloader.dataset.num_val=4',
        'val_dataloader.num_workers=0',
        'val_dataloader.persistent_workers=False',
    ] + [
        f'{loader}.dataset.data_root={data_root}'
        for loader in ('train_dataloader', 'val_dataloader', 'test_dataloader')
    ]
    return [
        sys.executable,
        osp.join(REPO, 'tools', 'train.py'), CONFIG, '--work-dir', work_dir,
        *extra, '--cfg-options', *options
    ]


def train_env() -> Dict[str, str]:
    """One intra-op thread: the same arithmetic in every run, and no
    spin-waiting OpenMP threads on a machine shared with other jobs."""
    env = dict(os.environ)
    env.update(OMP_NUM_THREADS='1', MKL_NUM_THREADS='1')
    return env


def tiny_config(work_dir: str,
                data_root: str,
                *,
                max_iters: int = 2) -> Config:
    """The tiny config for an in-process Runner: no workers, no validation."""
    cfg = Config.fromfile(CONFIG)
    cfg.work_dir = work_dir
    for loader in (cfg.train_dataloader, cfg.val_dataloader,
                   cfg.test_dataloader):
        loader.dataset.data_root = data_root
        loader.num_workers = 0
        loader.persistent_workers = False
    cfg.train_cfg.max_iters = max_iters
    cfg.param_scheduler[0].end = max_iters
    cfg.default_hooks.checkpoint.interval = max_iters
    cfg.val_cfg = cfg.val_dataloader = cfg.val_evaluator = None
    return cfg
