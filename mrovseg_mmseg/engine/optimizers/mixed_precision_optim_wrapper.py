"""Mixed-precision optimizer wrapper that also runs on CPU."""
from contextlib import contextmanager
from typing import Optional, Union

import torch
import torch.nn as nn
from mmengine.optim import AmpOptimWrapper, OptimWrapper
from mmseg.registry import OPTIM_WRAPPERS


@OPTIM_WRAPPERS.register_module()
class MixedPrecisionOptimWrapper(AmpOptimWrapper):
    """mmengine's ``AmpOptimWrapper`` on GPU; bfloat16 autocast on CPU.

    On CUDA this is ``AmpOptimWrapper`` (float16 by default, dynamic loss
    scaling). mmengine's wrapper refuses to run without an accelerator, so on
    CPU this wrapper autocasts to bfloat16 instead, which needs no loss
    scaling; the CPU path therefore runs the same autocast regions as GPU
    training does.

    Args:
        dtype: autocast dtype; default float16 on CUDA, bfloat16 on CPU.
        loss_scale: loss scaling on CUDA (see ``AmpOptimWrapper``).
    """

    def __init__(self,
                 *,
                 dtype: Optional[Union[str, torch.dtype]] = None,
                 loss_scale: Union[str, float, dict] = 'dynamic',
                 **kwargs):
        if isinstance(dtype, str):
            dtype = getattr(torch, dtype)
        self.device_type = 'cuda' if torch.cuda.is_available() else 'cpu'
        if self.device_type == 'cuda':
            super().__init__(loss_scale=loss_scale, dtype=dtype, **kwargs)
            self.cast_dtype = dtype or torch.float16
        else:
            OptimWrapper.__init__(self, **kwargs)
            self.loss_scaler = None
            self._scale_update_param = None
            self.cast_dtype = dtype or torch.bfloat16

    def backward(self, loss: torch.Tensor, **kwargs) -> None:
        if self.loss_scaler is None:
            OptimWrapper.backward(self, loss, **kwargs)
        else:
            super().backward(loss, **kwargs)

    def step(self, **kwargs) -> None:
        if self.loss_scaler is None:
            OptimWrapper.step(self, **kwargs)
        else:
            super().step(**kwargs)

    def state_dict(self) -> dict:
        if self.loss_scaler is None:
            return OptimWrapper.state_dict(self)
        return super().state_dict()

    def load_state_dict(self, state_dict: dict) -> None:
        if self.loss_scaler is None:
            state_dict = dict(state_dict)
            state_dict.pop('loss_scaler', None)
            OptimWrapper.load_state_dict(self, state_dict)
        else:
            super().load_state_dict(state_dict)

    @contextmanager
    def optim_context(self, model: nn.Module):
        with OptimWrapper.optim_context(self, model), torch.autocast(
                device_type=self.device_type, dtype=self.cast_dtype):
            yield
