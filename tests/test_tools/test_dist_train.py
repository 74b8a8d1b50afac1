"""tools/dist_train.sh trains with 2 processes on CPU (gloo)."""
import glob
import os
import os.path as osp
import subprocess
import sys

import pytest

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))


def tiny_options(tmp_path, max_iters):
    data_root = str(tmp_path / 'shapes')
    options = [
        f'train_cfg.max_iters={max_iters}', f'train_cfg.val_interval={max_iters}',
        f'default_hooks.checkpoint.interval={max_iters}',
        'default_hooks.logger.interval=1', 'train_dataloader.batch_size=2',
        'env_cfg.dist_cfg.backend=gloo'
    ]
    for loader in ('train_dataloader', 'val_dataloader', 'test_dataloader'):
        options += [
            f'{loader}.dataset.data_root={data_root}',
            f'{loader}.dataset.num_train=16', f'{loader}.dataset.num_val=4',
            f'{loader}.num_workers=0', f'{loader}.persistent_workers=False'
        ]
    return options


@pytest.mark.slow
def test_two_process_cpu_training(tmp_path):
    work_dir = tmp_path / 'work'
    env = dict(os.environ, PYTHON=sys.executable, OMP_NUM_THREADS='1',
               PORT=str(29500 + os.getpid() % 1000))
    result = subprocess.run(
        ['bash', 'tools/dist_train.sh', 'configs/mrovseg_tiny_shapes64.py',
         '2', '--work-dir', str(work_dir), '--cfg-options'] +
        tiny_options(tmp_path, 4),
        cwd=REPO, env=env, capture_output=True, text=True, timeout=900)
    log = ''.join(open(p).read() for p in glob.glob(
        str(work_dir / '*' / '*.log')))
    assert result.returncode == 0, (
        f'log:\n{log[-2000:]}\nstdout:\n{result.stdout[-2000:]}\n'
        f'stderr:\n{result.stderr[-3000:]}')
    assert 'Distributed training: True' in log
    assert 'GPU number: 2' in log or 'world_size: 2' in log
    assert 'Iter(train) [4/4]' in log
    assert sorted(osp.basename(p) for p in glob.glob(
        str(work_dir / '*.pth'))) == ['iter_4.pth']
