"""A training run killed with SIGKILL and resumed with ``tools/train.py
--resume`` ends bit-identical to an uninterrupted run with the same seed."""
import os.path as osp
import re
import signal
import subprocess
import time

import pytest
import torch

from mrovseg_mmseg.datasets.synthetic_shapes import generate_synthetic_shapes
from .tiny_run import REPO, train_command, train_env
from .toy_runner import DEFAULT_HOOKS, build_toy_runner

MAX_ITERS = 40
INTERVAL = 10
KILL_AFTER = 20
TIMING_SCALARS = ('train/time', 'train/data_time')


def differences(a, b, path: str = '') -> list:
    """Paths at which two checkpoint trees differ (tensors bit for bit)."""
    if isinstance(a, torch.Tensor):
        same = (
            isinstance(b, torch.Tensor) and a.dtype == b.dtype
            and a.shape == b.shape and torch.equal(a, b))
        return [] if same else [path]
    if isinstance(a, dict):
        if not isinstance(b, dict) or set(a) != set(b):
            return [path]
        return [
            d for key in a
            for d in differences(a[key], b[key], f'{path}.{key}')
        ]
    if isinstance(a, (list, tuple)):
        if not isinstance(b, (list, tuple)) or len(a) != len(b):
            return [path]
        return [
            d for i, (x, y) in enumerate(zip(a, b, strict=True))
            for d in differences(x, y, f'{path}[{i}]')
        ]
    return [] if a == b else [path]


def training_state(checkpoint: dict) -> dict:
    """What a resumed run must reproduce: everything but wall-clock data."""
    scalars = checkpoint['message_hub']['log_scalars']
    return dict(
        state_dict=checkpoint['state_dict'],
        optimizer=checkpoint['optimizer'],
        param_schedulers=checkpoint['param_schedulers'],
        iteration=(checkpoint['meta']['epoch'], checkpoint['meta']['iter']),
        rng_state=checkpoint['rng_state'],
        logged=({
            key: value
            for key, value in scalars.items() if key not in TIMING_SCALARS
        }))


def read(path) -> str:
    with open(path) as handle:
        return handle.read()


def run(command, log_path: str) -> None:
    with open(log_path, 'w') as log:
        result = subprocess.run(
            command,
            cwd=REPO,
            env=train_env(),
            stdout=log,
            stderr=subprocess.STDOUT,
            timeout=1800)
    assert result.returncode == 0, read(log_path)[-4000:]


def run_and_kill(command, work_dir: str, log_path: str) -> None:
    """Start training; SIGKILL it once last_checkpoint names iteration 20+."""
    marker = osp.join(work_dir, 'last_checkpoint')
    with open(log_path, 'w') as log:
        process = subprocess.Popen(
            command,
            cwd=REPO,
            env=train_env(),
            stdout=log,
            stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 1800
        try:
            while time.monotonic() < deadline and process.poll() is None:
                if osp.exists(marker):
                    found = re.search(r'iter_(\d+)\.pth', read(marker))
                    if found and int(found.group(1)) >= KILL_AFTER:
                        break
                time.sleep(0.02)
        finally:
            process.send_signal(signal.SIGKILL)
            process.wait()
    assert process.returncode == -signal.SIGKILL, read(log_path)[-4000:]
    assert not osp.exists(osp.join(work_dir, f'iter_{MAX_ITERS}.pth'))


@pytest.mark.slow
def test_sigkilled_run_resumes_bit_identical(tmp_path):
    data_root = generate_synthetic_shapes(
        str(tmp_path / 'shapes'), num_train=32, num_val=4)
    reference_dir = str(tmp_path / 'reference')
    killed_dir = str(tmp_path / 'killed')

    def command(work_dir, *extra):
        return train_command(
            work_dir,
            data_root,
            max_iters=MAX_ITERS,
            interval=INTERVAL,
            extra=list(extra))

    run(command(reference_dir), str(tmp_path / 'reference.log'))
    run_and_kill(command(killed_dir), killed_dir, str(tmp_path / 'killed.log'))
    run(command(killed_dir, '--resume'), str(tmp_path / 'resumed.log'))

    resumed_at = re.search(r'resumed epoch: \d+, iter: (\d+)',
                           read(tmp_path / 'resumed.log'))
    assert resumed_at and KILL_AFTER <= int(resumed_at.group(1)) < MAX_ITERS
    final = f'iter_{MAX_ITERS}.pth'
    reference = torch.load(osp.join(reference_dir, final), weights_only=True)
    resumed = torch.load(osp.join(killed_dir, final), weights_only=True)
    assert reference['meta']['iter'] == resumed['meta']['iter'] == MAX_ITERS
    assert len(reference['optimizer']['state']) > 0
    assert differences(training_state(reference),
                       training_state(resumed)) == []


@pytest.mark.parametrize('hooks,identical', [
    (DEFAULT_HOOKS, True),
    ((dict(type='SafeCheckpointHook'), ), False),
])
def test_rng_state_hook_is_what_makes_resume_exact(tmp_path, hooks, identical):
    """Toy model whose loss draws from torch's generator (fast check)."""
    reference = build_toy_runner(str(tmp_path / 'a'), custom_hooks=hooks)
    reference.train()
    resumed = build_toy_runner(
        str(tmp_path / 'b'),
        custom_hooks=hooks,
        resume=True,
        load_from=str(tmp_path / 'a' / 'iter_2.pth'))
    resumed.train()
    a = torch.load(tmp_path / 'a' / 'iter_6.pth', weights_only=True)
    b = torch.load(tmp_path / 'b' / 'iter_6.pth', weights_only=True)
    same = differences(a['state_dict'],
                       b['state_dict']) == [] and (differences(
                           a['optimizer'], b['optimizer']) == [])
    assert same == identical
