"""A job killed (SIGKILL) while saving a checkpoint can always be resumed."""
import glob
import os
import os.path as osp
import re
import signal
import subprocess
import sys

import pytest
import torch

from mrovseg_mmseg.engine.hooks.strict_load_hook import \
    check_checkpoint_file
from .toy_runner import build_toy_runner

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))


def killed_run(work_dir: str, hook: str, point: str) -> None:
    """Run kill_during_save; check that it really died by SIGKILL."""
    result = subprocess.run([
        sys.executable, '-m', 'tests.test_reliability.kill_during_save',
        work_dir, hook, point
    ],
                            cwd=REPO,
                            capture_output=True,
                            text=True,
                            timeout=300)
    assert result.returncode == -signal.SIGKILL, result.stderr[-3000:]


def last_checkpoint(work_dir: str) -> str:
    with open(osp.join(work_dir, 'last_checkpoint')) as handle:
        return handle.read().strip()


# the default run kills the save while writing (each case is a training
# subprocess of about 8 s); the other two points run with the slow tests
@pytest.mark.parametrize('point,resumed_iter', [
    ('write', 2),
    pytest.param('publish', 2, marks=pytest.mark.slow),
    pytest.param('rotate', 4, marks=pytest.mark.slow)
])
def test_kill_during_save_leaves_a_resumable_checkpoint(
        tmp_path, point, resumed_iter):
    work_dir = str(tmp_path / 'work')
    killed_run(work_dir, 'AtomicCheckpointHook', point)

    path = last_checkpoint(work_dir)
    assert path == osp.join(work_dir, f'iter_{resumed_iter}.pth')
    for name in glob.glob(osp.join(work_dir, 'iter_*.pth')):
        checkpoint = torch.load(name, weights_only=True)
        assert name.endswith(f'iter_{checkpoint["meta"]["iter"]}.pth')

    runner = build_toy_runner(
        work_dir, interval=2, max_keep_ckpts=1, resume=True)
    runner.train()
    assert runner.iter == 6
    assert last_checkpoint(work_dir) == osp.join(work_dir, 'iter_6.pth')
    assert not glob.glob(osp.join(work_dir, '.saving.*'))


def test_mmengine_hook_loses_the_run_when_killed_while_writing(tmp_path):
    """Why AtomicCheckpointHook exists, and what our loader says about it.

    mmengine deletes the kept checkpoint first, then writes the new one in
    place: ``last_checkpoint`` names a deleted file, the new file is cut.
    ``check_checkpoint_file`` (StrictLoadHook runs it before loading) names
    both instead of letting torch fail inside the archive.
    """
    work_dir = str(tmp_path / 'work')
    killed_run(work_dir, 'CheckpointHook', 'write')
    deleted = last_checkpoint(work_dir)
    assert deleted == osp.join(work_dir, 'iter_2.pth')
    with pytest.raises(FileNotFoundError,
                       match=re.escape(f"load_from='{deleted}': no such")):
        check_checkpoint_file(deleted)
    cut = osp.join(work_dir, 'iter_4.pth')
    with pytest.raises(
            ValueError,
            match=re.escape(f'checkpoint {cut} is truncated or corrupt')):
        check_checkpoint_file(cut)


def test_last_checkpoint_is_replaced_not_rewritten(tmp_path):
    """A reader never sees an empty last_checkpoint: it is a new inode."""
    work_dir = str(tmp_path / 'work')
    runner = build_toy_runner(work_dir, max_iters=2, interval=1)
    runner.train()
    before = os.stat(osp.join(work_dir, 'last_checkpoint')).st_ino
    runner = build_toy_runner(work_dir, max_iters=3, interval=1, resume=True)
    runner.train()
    assert os.stat(osp.join(work_dir, 'last_checkpoint')).st_ino != before
    assert last_checkpoint(work_dir) == osp.join(work_dir, 'iter_3.pth')
