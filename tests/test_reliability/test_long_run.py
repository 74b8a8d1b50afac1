"""2,000 training iterations of the tiny config on CPU: no memory growth."""
import json
import os.path as osp
import subprocess
import sys

import pytest
from mmengine.config import Config

from mrovseg_mmseg.datasets.synthetic_shapes import generate_synthetic_shapes
from .tiny_run import CONFIG, REPO, train_env
from .toy_runner import DEFAULT_HOOKS, build_toy_runner

EARLY, LATE = 500, 2000
MAX_GROWTH = 0.05


def write_config(path: str) -> None:
    """The tiny config plus a MemoryUsageHook at iterations 500 and 2000."""
    hooks = [dict(hook) for hook in Config.fromfile(CONFIG).custom_hooks]
    hooks.append(dict(type='MemoryUsageHook', iterations=(EARLY, LATE)))
    with open(path, 'w') as handle:
        handle.write(f'_base_ = [{CONFIG!r}]\ncustom_hooks = {hooks!r}\n')


def test_memory_hook_records_the_chosen_iterations(tmp_path):
    hooks = DEFAULT_HOOKS + (dict(type='MemoryUsageHook', iterations=(2, 5)), )
    build_toy_runner(str(tmp_path), custom_hooks=hooks).train()
    with open(tmp_path / 'memory_usage.json') as handle:
        records = json.load(handle)
    assert [record['iter'] for record in records] == [2, 5]
    assert all(record['peak_rss_mib'] > 0 for record in records)


@pytest.mark.slow
def test_2000_iterations_without_memory_growth(tmp_path):
    data_root = generate_synthetic_shapes(str(tmp_path / 'shapes'))
    config = str(tmp_path / 'long_run.py')
    write_config(config)
    work_dir = str(tmp_path / 'work')
    options = [
        f'train_cfg.max_iters={LATE}', f'train_cfg.val_interval={LATE}',
        f'param_scheduler.0.end={LATE}',
        f'default_hooks.checkpoint.interval={LATE}',
        'default_hooks.logger.interval=100'
    ] + [
        f'{loader}.dataset.data_root={data_root}'
        for loader in ('train_dataloader', 'val_dataloader', 'test_dataloader')
    ]
    result = subprocess.run([
        sys.executable,
        osp.join(REPO, 'tools', 'train.py'), config, '--work-dir', work_dir,
        '--cfg-options', *options
    ],
                            cwd=REPO,
                            env=train_env(),
                            capture_output=True,
                            text=True,
                            timeout=3 * 3600)
    assert result.returncode == 0, result.stderr[-4000:]
    with open(osp.join(work_dir, 'memory_usage.json')) as handle:
        early, late = json.load(handle)
    print(f'peak RSS {early["peak_rss_mib"]} MiB at {EARLY}, '
          f'{late["peak_rss_mib"]} MiB at {LATE}; current RSS '
          f'{early["rss_mib"]} -> {late["rss_mib"]} MiB')
    assert (early['iter'], late['iter']) == (EARLY, LATE)
    assert late['peak_rss_mib'] <= early['peak_rss_mib'] * (1 + MAX_GROWTH)
