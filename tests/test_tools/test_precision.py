"""Inference precision as a user option: tools/test.py --precision reaches
the test loop's autocast and the report, MROVSeg's scoring stays float32,
fp32 is unchanged, and one check (mrovseg_mmseg.utils.precision) says where
a device has no fast path, for every entry point."""
import importlib.util
import json
import sys
import uuid
import warnings
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
import torch
import torch.nn as nn
from mmengine.config import Config
from mmengine.model import BaseModel
from mmengine.runner import Runner
from mmengine.runner import TestLoop as MMEngineTestLoop
from mmengine.structures import PixelData
from mmseg.registry import MODELS
from mmseg.structures import SegDataSample
from PIL import Image

import mrovseg_mmseg.models.segmentors.mrovseg as segmentor_module
from mrovseg_mmseg.engine import PrecisionTestLoop
from mrovseg_mmseg.utils import precision as precision_module
from mrovseg_mmseg.utils.precision import (PRECISIONS, PrecisionWarning,
                                           check_precision, cpu_flags,
                                           precision_autocast)
from ..test_models.tiny_model import tiny_model_cfg

REPO = Path(__file__).resolve().parents[2]
CPU = torch.device('cpu')
NO_BF16 = frozenset({'fpu', 'sse2', 'avx2', 'avx512f'})
WITH_AMX = frozenset({'avx512f', 'amx_tile', 'amx_bf16'})


@MODELS.register_module(force=True)
class AutocastRecorder(BaseModel):
    """Predicts class 0; records (autocast on, its dtype) at each forward."""

    def __init__(self) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.zeros(1))
        self.seen = []

    def forward(self, inputs, data_samples=None, mode: str = 'tensor'):
        self.seen.append((torch.is_autocast_enabled('cpu'),
                          torch.get_autocast_dtype('cpu')))
        for sample in data_samples:
            sample.pred_sem_seg = PixelData(
                data=torch.zeros_like(sample.gt_sem_seg.data))
        return data_samples


def load_tool(path: Path):
    spec = importlib.util.spec_from_file_location(
        f'mrovseg_{path.stem}_{uuid.uuid4().hex}', path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture
def recorder_run(tmp_path, monkeypatch):
    """``run(*args)``: tools/test.py on two 8x8 images with
    AutocastRecorder, in this process; returns (runner, report)."""
    root = tmp_path / 'data'
    (root / 'img').mkdir(parents=True)
    (root / 'ann').mkdir()
    for name in ('a', 'b'):
        Image.fromarray(np.zeros((8, 8, 3), np.uint8)).save(
            root / 'img' / f'{name}.png')
        Image.fromarray(np.ones((8, 8), np.uint8)).save(root / 'ann' /
                                                        f'{name}.png')
    cfg = Config(
        dict(
            default_scope='mmseg',
            experiment_name=f'precision_{uuid.uuid4().hex}',
            log_level='WARNING',
            model=dict(type='AutocastRecorder'),
            test_dataloader=dict(
                batch_size=1,
                num_workers=0,
                sampler=dict(type='DefaultSampler', shuffle=False),
                dataset=dict(
                    type='BaseSegDataset',
                    metainfo=dict(classes=('zero', 'one')),
                    data_root=str(root),
                    img_suffix='.png',
                    seg_map_suffix='.png',
                    data_prefix=dict(img_path='img', seg_map_path='ann'),
                    pipeline=[
                        dict(type='LoadImageFromFile'),
                        dict(type='LoadAnnotations'),
                        dict(type='PackSegInputs')
                    ])),
            test_evaluator=dict(type='IoUMetric', iou_metrics=['mIoU']),
            test_cfg=dict(type='TestLoop')))
    config = tmp_path / 'recorder.py'
    cfg.dump(str(config))
    checkpoint = tmp_path / 'recorder.pth'
    torch.save(dict(state_dict=AutocastRecorder().state_dict(), meta={}),
               checkpoint)

    def run(*args):
        tool = load_tool(REPO / 'tools' / 'test.py')
        runners = []

        def from_cfg(built):
            runners.append(Runner.from_cfg(built))
            return runners[-1]

        work_dir = tmp_path / f'work_{uuid.uuid4().hex}'
        monkeypatch.setattr(tool, 'Runner', SimpleNamespace(from_cfg=from_cfg))
        monkeypatch.setenv('LOCAL_RANK', '0')
        monkeypatch.setattr(sys, 'argv', [
            'test.py',
            str(config),
            str(checkpoint), '--work-dir',
            str(work_dir), *args
        ])
        tool.main()
        report, = work_dir.glob('*/report.json')
        return runners[0], json.loads(report.read_text())

    return run


def test_bf16_flag_runs_the_test_step_under_bf16_autocast(recorder_run):
    runner, report = recorder_run('--precision', 'bf16')
    assert isinstance(runner.test_loop, PrecisionTestLoop)
    assert runner.model.seen == [(True, torch.bfloat16)] * 2
    assert report['precision'] == 'bf16'


@pytest.mark.parametrize('args', [(), ('--precision', 'fp32')])
def test_fp32_runs_without_autocast(recorder_run, args):
    """Without --precision the config's TestLoop is left as it is."""
    runner, report = recorder_run(*args)
    loop = PrecisionTestLoop if args else MMEngineTestLoop
    assert type(runner.test_loop) is loop
    assert [enabled for enabled, _ in runner.model.seen] == [False, False]
    assert report['precision'] == 'fp32'


def test_test_tool_warns_where_bf16_has_no_fast_path(recorder_run,
                                                     monkeypatch):
    monkeypatch.setattr(precision_module, 'cpu_flags', lambda: NO_BF16)
    with pytest.warns(PrecisionWarning, match='avx512_bf16, amx_bf16'):
        recorder_run('--precision', 'bf16')


@pytest.mark.parametrize('test_cfg,message', [
    (dict(type='ValLoop'), 'needs test_cfg.type TestLoop'),
    (dict(type='TestLoop', fp16=True), 'replaces test_cfg.fp16=True'),
])
def test_precision_refuses_a_test_loop_it_would_replace(test_cfg, message):
    tool = load_tool(REPO / 'tools' / 'test.py')
    with pytest.raises(ValueError, match=message):
        tool.set_precision(Config(dict(test_cfg=test_cfg)), 'bf16')


# ------------------------------------------------------------ MROVSeg path
@pytest.fixture(scope='module')
def tiny_mrovseg(tiny_clip_cfg, tiny_clip_checkpoint):
    torch.manual_seed(0)
    model = MODELS.build(
        tiny_model_cfg(tiny_clip_cfg, tiny_clip_checkpoint,
                       test_cfg=dict(output_logits=True)))
    return model.eval()


def padded_batch():
    """Two 64x64 inputs padded differently (two passes through the model)."""
    inputs = torch.randn(2, 3, 64, 64,
                         generator=torch.Generator().manual_seed(3))
    samples = []
    for height, width in [(48, 64), (64, 40)]:
        sample = SegDataSample()
        sample.set_metainfo(
            dict(ori_shape=(height, width), img_shape=(height, width),
                 padding_size=(0, 64 - width, 0, 64 - height)))
        samples.append(sample)
    return inputs, samples


def test_mrovseg_network_in_bf16_scores_in_fp32(tiny_mrovseg, monkeypatch):
    scored = []
    score_rows = segmentor_module.score_rows

    def recording_score_rows(cls_logits, masks, *args, **kwargs):
        scored.append((cls_logits.dtype, masks.dtype,
                       torch.is_autocast_enabled('cpu')))
        return score_rows(cls_logits, masks, *args, **kwargs)

    monkeypatch.setattr(segmentor_module, 'score_rows', recording_score_rows)
    network = []
    handle = tiny_mrovseg.neck.register_forward_hook(
        lambda module, args, out: network.append(out.final.queries.dtype))
    inputs, samples = padded_batch()
    try:
        with precision_autocast('bf16', CPU):
            results = tiny_mrovseg.predict(inputs, samples)
    finally:
        handle.remove()
    assert network == [torch.bfloat16] * 2
    assert scored == [(torch.float32, torch.float32, False)] * 2
    for result, (height, width) in zip(results, [(48, 64), (64, 40)]):
        assert result.seg_logits.data.dtype == torch.float32
        assert result.pred_sem_seg.data.shape == (1, height, width)


def test_loop_takes_the_fp32_scored_path_for_mrovseg(tiny_mrovseg):
    loop = SimpleNamespace(
        runner=SimpleNamespace(model=tiny_mrovseg), precision='bf16',
        device=CPU)
    inputs, samples = padded_batch()
    batch = dict(inputs=list((inputs * 40 + 120).clamp(0, 255).byte()),
                 data_samples=samples)
    outputs = PrecisionTestLoop.test_step(loop, batch)
    assert [out.seg_logits.data.dtype for out in outputs] == [torch.float32
                                                              ] * 2


# ------------------------------------------------------- the shared check
def test_bf16_on_a_cpu_without_its_flags_warns(monkeypatch):
    monkeypatch.setattr(precision_module, 'cpu_flags', lambda: NO_BF16)
    with pytest.warns(PrecisionWarning) as caught:
        assert check_precision('bf16', CPU) == 'bf16'
    message = str(caught[0].message)
    assert 'avx512_bf16, amx_bf16' in message
    assert "Use 'fp32' for speed" in message


@pytest.mark.parametrize('flags', [WITH_AMX, frozenset({'avx512_bf16'}),
                                   None])
def test_bf16_on_a_capable_or_unknown_cpu_is_silent(monkeypatch, flags):
    monkeypatch.setattr(precision_module, 'cpu_flags', lambda: flags)
    with warnings.catch_warnings():
        warnings.simplefilter('error')
        assert check_precision('bf16', CPU) == 'bf16'
        assert check_precision('fp32', CPU) == 'fp32'


@pytest.mark.parametrize('precision,device,message', [
    ('fp16', 'cpu', r"needs a GPU \(device=cpu\).*use 'bf16'.*or 'fp32'"),
    ('fp8', 'cpu', r"precision='fp8': use one of \('fp32', 'bf16', 'fp16'\)"),
    ('bf16', 'meta', "not supported on meta; use 'fp32'"),
])
def test_refused_precisions_say_what_to_use(precision, device, message):
    with pytest.raises(ValueError, match=message):
        check_precision(precision, torch.device(device))


def test_bf16_on_a_cuda_gpu_without_bfloat16_is_refused(monkeypatch):
    monkeypatch.setattr(torch.cuda, 'is_bf16_supported', lambda: False)
    with pytest.raises(ValueError, match="does not support bfloat16; use "
                       "'fp16'"):
        check_precision('bf16', torch.device('cuda'))
    assert check_precision('fp16', torch.device('cuda')) == 'fp16'


@pytest.mark.parametrize('text,flags', [
    ('processor\t: 0\nflags\t\t: fpu avx512f amx_bf16\n\nprocessor\t: 1\n'
     'flags\t\t: fpu\n', {'fpu', 'avx512f', 'amx_bf16'}),
    ('processor\t: 0\nFeatures\t: fp asimd bf16\n', None),
])
def test_cpu_flags_are_read_from_cpuinfo(tmp_path, text, flags):
    path = tmp_path / 'cpuinfo'
    path.write_text(text)
    assert cpu_flags(str(path)) == flags
    assert cpu_flags(str(tmp_path / 'missing')) is None


def test_inferencer_checks_with_the_shared_check(monkeypatch):
    from mrovseg_mmseg.apis import OVSegInferencer
    monkeypatch.setattr(precision_module, 'cpu_flags', lambda: NO_BF16)
    with pytest.warns(PrecisionWarning, match='avx512_bf16'):
        OVSegInferencer(
            str(REPO / 'configs' / 'mrovseg_tiny_shapes64.py'),
            device='cpu',
            precision='bf16',
            vocabulary=['a', 'b'])


@pytest.mark.parametrize('tool', ['infer', 'webui'])
def test_command_lines_offer_the_shared_precisions(tool):
    if tool == 'infer':
        parse = load_tool(REPO / 'tools' / 'infer.py').parse_args
        base = ['x.png', '--config', 'c.py', '--classes', 'a']
    else:
        from mrovseg_mmseg.webui.cli import parse_args as parse
        base = []
    for name in PRECISIONS:
        assert parse(base + ['--precision', name]).precision == name
    with pytest.raises(SystemExit):
        parse(base + ['--precision', 'fp8'])
