"""Mixed precision (--amp): float16 with loss scaling on CUDA, bfloat16 on
CPU; gradients unscaled before clipping; inference close to fp32."""
import importlib.util
import os.path as osp
import sys

import numpy as np
import pytest
import torch
from mmengine.config import Config
from mmengine.runner import Runner

from mrovseg_mmseg.engine import MixedPrecisionOptimWrapper

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
CONFIG = osp.join(REPO, 'configs', 'mrovseg_tiny_shapes64.py')
CUDA = torch.cuda.is_available()
# what the wrapper autocasts to on this machine
AMP_DTYPE = torch.float16 if CUDA else torch.bfloat16


def load_train_tool():
    spec = importlib.util.spec_from_file_location(
        'mrovseg_train_tool', osp.join(REPO, 'tools', 'train.py'))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def config_from_train_tool(monkeypatch, *args) -> Config:
    """The config tools/train.py hands to the Runner for ``args``."""
    tool = load_train_tool()
    seen = {}

    class FakeRunner:

        @staticmethod
        def from_cfg(cfg):
            seen['cfg'] = cfg
            return FakeRunner()

        def train(self):
            pass

    monkeypatch.setattr(tool, 'Runner', FakeRunner)
    monkeypatch.setattr(tool, 'init_cpu_distributed', lambda cfg: None)
    monkeypatch.setattr(tool, 'shutdown_distributed', lambda: None)
    monkeypatch.setattr(sys, 'argv', ['train.py', *args])
    tool.main()
    return seen['cfg']


def test_amp_flag_selects_the_mixed_precision_wrapper(monkeypatch, tmp_path):
    plain = config_from_train_tool(monkeypatch, CONFIG, '--work-dir',
                                   str(tmp_path))
    amp = config_from_train_tool(monkeypatch, CONFIG, '--work-dir',
                                 str(tmp_path), '--amp')
    assert plain.optim_wrapper.type == 'OptimWrapper'
    assert amp.optim_wrapper.type == 'MixedPrecisionOptimWrapper'
    # only the wrapper type changes: optimizer and clipping stay
    rest = {k: v for k, v in amp.optim_wrapper.items() if k != 'type'}
    assert rest == {k: v for k, v in plain.optim_wrapper.items()
                    if k != 'type'}
    again = config_from_train_tool(
        monkeypatch, CONFIG, '--work-dir', str(tmp_path), '--amp',
        '--cfg-options', 'optim_wrapper.type=MixedPrecisionOptimWrapper')
    assert again.optim_wrapper.type == 'MixedPrecisionOptimWrapper'
    with pytest.raises(ValueError, match='the config has OtherWrapper'):
        config_from_train_tool(monkeypatch, CONFIG, '--amp', '--cfg-options',
                               'optim_wrapper.type=OtherWrapper')


def test_amp_training_autocasts(tmp_path, monkeypatch):
    """Two iterations of the tiny config as tools/train.py --amp sets it up:
    the adapter runs in the device's reduced precision, the weights stay
    float32 and move."""
    cfg = config_from_train_tool(monkeypatch, CONFIG, '--work-dir',
                                 str(tmp_path / 'work'), '--amp')
    loader = cfg.train_dataloader
    loader.dataset.data_root = str(tmp_path / 'shapes')
    loader.dataset.num_train = 8
    loader.num_workers = 0
    loader.persistent_workers = False
    loader.batch_size = 2
    cfg.train_cfg.max_iters = 2
    cfg.default_hooks.checkpoint.interval = 100
    cfg.val_cfg = cfg.val_dataloader = cfg.val_evaluator = None
    runner = Runner.from_cfg(cfg)
    seen = []
    runner.model.neck.blocks[0].register_forward_hook(
        lambda module, args, out: seen.append(out.dtype))
    before = runner.model.neck.queries.detach().clone()
    runner.train()
    wrapper = runner.optim_wrapper
    assert isinstance(wrapper, MixedPrecisionOptimWrapper)
    assert wrapper.cast_dtype == AMP_DTYPE
    assert (wrapper.loss_scaler is not None) == CUDA
    assert seen == [AMP_DTYPE, AMP_DTYPE]
    assert runner.model.neck.queries.dtype == torch.float32
    assert not torch.equal(before.to(runner.model.neck.queries.device),
                           runner.model.neck.queries)
    losses = runner.message_hub.get_scalar('train/loss').data[0]
    assert torch.isfinite(torch.as_tensor(losses)).all()


@pytest.mark.skipif(not CUDA, reason='float16 loss scaling needs CUDA')
def test_cuda_wrapper_scales_float16_losses():
    model = torch.nn.Linear(4, 2).cuda()
    wrapper = MixedPrecisionOptimWrapper(
        optimizer=torch.optim.SGD(model.parameters(), lr=0.1))
    assert wrapper.cast_dtype == torch.float16
    assert isinstance(wrapper.loss_scaler, torch.amp.GradScaler)
    with wrapper.optim_context(model):
        out = model(torch.randn(3, 4, device='cuda'))
    assert out.dtype == torch.float16
    scale = wrapper.loss_scaler.get_scale()
    wrapper.update_params(out.float().sum())
    assert wrapper.loss_scaler.get_scale() == scale  # finite: kept


def scaled_wrapper(weight, max_norm, init_scale=1024.0):
    """The wrapper's loss-scaling path (CUDA's) with torch's CPU scaler."""
    param = torch.nn.Parameter(weight.clone())
    wrapper = MixedPrecisionOptimWrapper(
        optimizer=torch.optim.SGD([param], lr=1.0),
        clip_grad=dict(max_norm=max_norm))
    wrapper.loss_scaler = torch.amp.GradScaler('cpu', init_scale=init_scale)
    return param, wrapper


@pytest.mark.parametrize('grad_norm', [0.005, 0.5])
def test_gradients_are_unscaled_before_clipping(grad_norm):
    """max_norm 0.01 as in the main config: a gradient below it is applied
    as is, one above it is cut to norm 0.01; the x1024 loss scale changes
    neither."""
    direction = torch.tensor([3.0, -4.0]) / 5
    param, wrapper = scaled_wrapper(torch.zeros(2), max_norm=0.01)
    loss = (param * direction * grad_norm).sum()  # gradient: its factor
    wrapper.update_params(loss)
    expected = -direction * min(grad_norm, 0.01)
    torch.testing.assert_close(param.detach(), expected, rtol=1e-5, atol=0)
    assert wrapper.loss_scaler.get_scale() == 1024.0


def test_overflowing_step_is_skipped_and_scale_lowered():
    param, wrapper = scaled_wrapper(torch.ones(2), max_norm=0.01)
    loss = (param * torch.tensor([float('inf'), 1.0])).sum()
    wrapper.update_params(loss)
    torch.testing.assert_close(param.detach(), torch.ones(2))
    assert wrapper.loss_scaler.get_scale() == 512.0
    state = wrapper.state_dict()
    assert state['loss_scaler']['scale'] == 512.0


def test_cpu_wrapper_state_round_trip():
    model = torch.nn.Linear(4, 2)
    wrapper = MixedPrecisionOptimWrapper(
        optimizer=torch.optim.AdamW(model.parameters(), lr=0.1))
    with wrapper.optim_context(model):
        out = model(torch.randn(3, 4))
    assert out.dtype == AMP_DTYPE or CUDA
    wrapper.update_params(out.float().sum())
    state = wrapper.state_dict()
    other = MixedPrecisionOptimWrapper(
        optimizer=torch.optim.AdamW(model.parameters(), lr=0.1))
    # a GPU run's state (with its loss scaler) loads on CPU too
    other.load_state_dict(dict(state, loss_scaler={'scale': 512.0}))
    assert other.state_dict()['state'].keys() == state['state'].keys()
    assert other.cast_dtype == AMP_DTYPE


# probabilities of the reduced-precision pass may differ from fp32 by this
# much: bfloat16 keeps 8 mantissa bits (relative step 2^-8 = 0.004) and the
# error of a dozen layers adds up to a few steps
PROB_TOLERANCE = 0.03


def test_reduced_precision_inference_is_close_to_fp32():
    from mrovseg_mmseg.apis import OVSegInferencer
    precision = 'fp16' if CUDA else 'bf16'
    device = 'cuda' if CUDA else 'cpu'
    vocabulary = ['cat', 'dog', 'sky, heaven', 'tree', 'car']
    full = OVSegInferencer(CONFIG, device=device, vocabulary=vocabulary)
    reduced = OVSegInferencer(CONFIG, device=device, precision=precision,
                              vocabulary=vocabulary)
    reduced.model.load_state_dict(full.model.state_dict())
    seen = []
    reduced.model.neck.input_proj.register_forward_hook(
        lambda module, args, out: seen.append(out.dtype))
    image = np.random.default_rng(0).integers(0, 256, (48, 80, 3),
                                              dtype=np.uint8)
    a = full(image, return_probs=True)[0]
    b = reduced(image, return_probs=True)[0]
    assert seen == [AMP_DTYPE]
    assert a.prob_maps.dtype == b.prob_maps.dtype
    # uint8 maps of probability x 255
    difference = np.abs(a.prob_maps.astype(np.float64) - b.prob_maps) / 255
    assert difference.max() <= PROB_TOLERANCE, difference.max()
    assert (a.label_map == b.label_map).mean() > 0.9
