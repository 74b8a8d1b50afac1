"""Checkpoints load with weights_only, run no code, and load completely."""
import os.path as osp
import re
import subprocess
import sys

import numpy as np
import pytest
import torch
from mmengine.logging import HistoryBuffer
from mmengine.runner import Runner

from mrovseg_mmseg.datasets.synthetic_shapes import generate_synthetic_shapes
from mrovseg_mmseg.engine.hooks import CheckpointMismatchError
from mrovseg_mmseg.engine.hooks.safe_checkpoint_hook import from_safe, to_safe
from .tiny_run import CONFIG, REPO, tiny_config, train_env
from .toy_runner import build_toy_runner

STRICT = (dict(type='SafeCheckpointHook'), dict(type='StrictLoadHook'))


class CodeOnLoad:
    """Unpickling this opens (creates) a file: stands for arbitrary code."""

    def __init__(self, marker: str) -> None:
        self.marker = marker

    def __reduce__(self):
        return (open, (self.marker, 'w'))


@pytest.fixture(scope='module')
def shapes(tmp_path_factory):
    root = tmp_path_factory.mktemp('data') / 'shapes'
    return generate_synthetic_shapes(str(root), num_train=16, num_val=2)


@pytest.fixture(scope='module')
def tiny_checkpoint(tmp_path_factory, shapes):
    """iter_2.pth of the tiny config trained by mmengine's Runner."""
    work_dir = str(tmp_path_factory.mktemp('tiny'))
    Runner.from_cfg(tiny_config(work_dir, shapes, max_iters=2)).train()
    return osp.join(work_dir, 'iter_2.pth')


def run_test_tool(checkpoint: str, shapes: str, work_dir, *extra):
    options = [
        f'test_dataloader.dataset.data_root={shapes}',
        'test_dataloader.num_workers=0',
        'test_dataloader.persistent_workers=False'
    ]
    return subprocess.run([
        sys.executable,
        osp.join(REPO, 'tools', 'test.py'), CONFIG, checkpoint, '--work-dir',
        str(work_dir), *extra, '--cfg-options', *options
    ],
                          cwd=REPO,
                          env=train_env(),
                          capture_output=True,
                          text=True,
                          timeout=600)


def test_history_buffers_round_trip_as_safe_types():
    buffer = HistoryBuffer(np.array([1.5, 2.5]), np.array([1, 3]), 7)
    tree = dict(
        log_scalars={'train/loss': buffer},
        step=np.int64(3),
        table=np.arange(3))
    safe = to_safe(tree)
    assert safe['step'] == 3 and type(safe['step']) is int
    assert isinstance(safe['table'], torch.Tensor)
    rebuilt = from_safe(safe)['log_scalars']['train/loss']
    assert rebuilt.max_length == 7
    np.testing.assert_array_equal(rebuilt.data[0], [1.5, 2.5])
    np.testing.assert_array_equal(rebuilt.data[1], [1, 3])


@pytest.mark.parametrize('hooks,safe',
                         [((dict(type='SafeCheckpointHook'), ), True),
                          ((), False)])
def test_safe_checkpoint_hook_is_what_makes_weights_only_work(
        tmp_path, hooks, safe):
    build_toy_runner(str(tmp_path), max_iters=2, custom_hooks=hooks).train()
    path = str(tmp_path / 'iter_2.pth')
    unsafe = torch.serialization.get_unsafe_globals_in_checkpoint(path)
    assert (unsafe == []) == safe
    if safe:
        torch.load(path, weights_only=True)
    else:
        with pytest.raises(Exception, match=r'[Ww]eights only load failed'):
            torch.load(path, weights_only=True)


def test_resumed_message_hub_keeps_the_logged_history(tmp_path):
    first = build_toy_runner(str(tmp_path), max_iters=4)
    first.train()
    losses = first.message_hub.get_scalar('train/loss').data[0].copy()
    resumed = build_toy_runner(
        str(tmp_path),
        max_iters=4,
        resume=True,
        load_from=str(tmp_path / 'iter_4.pth'))
    resumed.train()
    assert resumed.iter == 4
    np.testing.assert_array_equal(
        resumed.message_hub.get_scalar('train/loss').data[0], losses)


def test_tiny_checkpoint_is_weights_only_loadable(tiny_checkpoint):
    assert torch.serialization.get_unsafe_globals_in_checkpoint(
        tiny_checkpoint) == []
    checkpoint = torch.load(tiny_checkpoint, weights_only=True)
    assert {
        'meta', 'state_dict', 'optimizer', 'param_schedulers', 'message_hub',
        'rng_state'
    } <= set(checkpoint)
    assert checkpoint['meta']['iter'] == 2


def test_load_from_with_other_keys_is_an_error(tmp_path):
    path = str(tmp_path / 'other.pth')
    torch.save(
        {
            'state_dict': {
                'linear.weight': torch.zeros(1, 3),
                'head.bias': torch.zeros(1)
            }
        }, path)
    runner = build_toy_runner(
        str(tmp_path / 'work'), custom_hooks=STRICT, load_from=path)
    with pytest.raises(CheckpointMismatchError) as error:
        runner.train()
    message = str(error.value)
    assert path in message
    assert '1 missing keys: linear.bias' in message
    assert '1 unexpected keys: head.bias' in message
    assert ('1 shape mismatches: linear.weight: checkpoint (1, 3), model '
            '(1, 2)') in message
    assert runner.iter == 0


def test_load_from_that_runs_code_is_refused_before_loading(tmp_path):
    marker = tmp_path / 'code_ran'
    path = str(tmp_path / 'unsafe.pth')
    torch.save({'state_dict': {}, 'extra': CodeOnLoad(str(marker))}, path)
    assert torch.serialization.get_unsafe_globals_in_checkpoint(path)
    runner = build_toy_runner(
        str(tmp_path / 'work'), custom_hooks=STRICT, load_from=path)
    with pytest.raises(ValueError, match=re.escape('io.open')) as error:
        runner.train()
    assert path in str(error.value) and 'weights_only=True' in str(error.value)
    assert not marker.exists()


def test_load_from_truncated_checkpoint_is_named(tmp_path):
    build_toy_runner(str(tmp_path / 'first'), max_iters=2).train()
    with open(tmp_path / 'first' / 'iter_2.pth', 'rb') as handle:
        data = handle.read()
    path = str(tmp_path / 'cut.pth')
    with open(path, 'wb') as handle:
        handle.write(data[:len(data) // 2])
    runner = build_toy_runner(
        str(tmp_path / 'work'), custom_hooks=STRICT, load_from=path)
    with pytest.raises(
            ValueError,
            match=re.escape(f'checkpoint {path} is truncated or corrupt')):
        runner.train()


@pytest.mark.slow
def test_test_tool_refuses_a_mismatched_checkpoint(tiny_checkpoint, shapes,
                                                   tmp_path):
    checkpoint = torch.load(tiny_checkpoint, weights_only=True)
    state = checkpoint['state_dict']
    state.pop('neck.queries')
    state['neck.renamed_queries'] = torch.zeros(1)
    state['neck.input_proj.weight'] = state['neck.input_proj.weight'][:, :-1]
    path = str(tmp_path / 'mismatched.pth')
    torch.save(checkpoint, path)

    strict = run_test_tool(path, shapes, tmp_path / 'strict')
    assert strict.returncode != 0
    assert 'CheckpointMismatchError' in strict.stderr
    assert '1 missing keys: neck.queries' in strict.stderr
    assert '1 unexpected keys: neck.renamed_queries' in strict.stderr
    assert 'neck.input_proj.weight: checkpoint (64, 95), model (64, 96)' in (
        strict.stderr)
    assert '--non-strict' in strict.stderr
    assert 'Iter(test)' not in strict.stdout + strict.stderr

    lenient = run_test_tool(path, shapes, tmp_path / 'lenient', '--non-strict')
    assert lenient.returncode == 0, lenient.stderr[-3000:]
    output = lenient.stdout + lenient.stderr
    assert '1 missing keys: neck.queries' in output
    assert re.search(r'Iter\(test\).*mIoU: ', output)


@pytest.mark.slow
def test_test_tool_refuses_an_unsafe_checkpoint(tiny_checkpoint, shapes,
                                                tmp_path):
    marker = tmp_path / 'code_ran'
    checkpoint = torch.load(tiny_checkpoint, weights_only=True)
    checkpoint['extra'] = CodeOnLoad(str(marker))
    path = str(tmp_path / 'unsafe.pth')
    torch.save(checkpoint, path)
    result = run_test_tool(path, shapes, tmp_path / 'work')
    assert result.returncode != 0
    assert f'checkpoint {path} stores Python objects' in result.stderr
    assert not marker.exists()
