"""The mixed-precision path (--amp) runs on CPU with bfloat16 autocast."""
import os.path as osp

import torch
from mmengine.config import Config
from mmengine.runner import Runner

from mrovseg_mmseg.engine import MixedPrecisionOptimWrapper

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))


def test_amp_training_autocasts_to_bfloat16(tmp_path):
    cfg = Config.fromfile(osp.join(REPO, 'configs',
                                   'mrovseg_tiny_shapes64.py'))
    cfg.work_dir = str(tmp_path / 'work')
    cfg.optim_wrapper.type = 'MixedPrecisionOptimWrapper'  # what --amp sets
    for loader in (cfg.train_dataloader, ):
        loader.dataset.data_root = str(tmp_path / 'shapes')
        loader.dataset.num_train = 8
        loader.num_workers = 0
        loader.persistent_workers = False
    cfg.train_dataloader.batch_size = 2
    cfg.train_cfg.max_iters = 2
    cfg.default_hooks.checkpoint.interval = 100
    cfg.val_cfg = cfg.val_dataloader = cfg.val_evaluator = None
    runner = Runner.from_cfg(cfg)
    seen = []
    runner.model.neck.blocks[0].register_forward_hook(
        lambda module, args, out: seen.append(out.dtype))
    before = runner.model.neck.queries.detach().clone()
    runner.train()
    assert isinstance(runner.optim_wrapper, MixedPrecisionOptimWrapper)
    assert seen == [torch.bfloat16, torch.bfloat16]
    assert runner.model.neck.queries.dtype == torch.float32
    assert not torch.equal(before, runner.model.neck.queries)
    losses = runner.message_hub.get_scalar('train/loss').data[0]
    assert torch.isfinite(torch.as_tensor(losses)).all()


def test_wrapper_state_round_trip():
    model = torch.nn.Linear(4, 2)
    wrapper = MixedPrecisionOptimWrapper(
        optimizer=torch.optim.AdamW(model.parameters(), lr=0.1))
    with wrapper.optim_context(model):
        loss = model(torch.randn(3, 4)).float().sum()
    wrapper.update_params(loss)
    state = wrapper.state_dict()
    other = MixedPrecisionOptimWrapper(
        optimizer=torch.optim.AdamW(model.parameters(), lr=0.1))
    other.load_state_dict(state)
    assert other.state_dict()['state'].keys() == state['state'].keys()
    assert other.cast_dtype == torch.bfloat16
