"""FLOP formulas for attention kernels ``torch.utils.flop_counter`` misses.

The counter has formulas for the CUDA attention kernels only: on CPU every
``F.scaled_dot_product_attention`` (and ``nn.MultiheadAttention``'s fused
fast path) would count 0 FLOPs. Pass :data:`ATTENTION_FORMULAS` as
``FlopCounterMode(custom_mapping=...)``. 1 FLOP = 1 multiply or 1 add.
"""
import math

import torch

aten = torch.ops.aten


def attention_flops(query_shape, key_shape, value_shape) -> int:
    """QK^T and PV of (..., L, E) queries against (..., S, E) keys."""
    batch = math.prod(query_shape[:-2])
    length, dims = query_shape[-2:]
    return 2 * batch * length * key_shape[-2] * (dims + value_shape[-1])


def _sdpa_flops(query_shape, key_shape, value_shape, *args, out_shape=None,
                **kwargs) -> int:
    return attention_flops(query_shape, key_shape, value_shape)


def _sdpa_backward_flops(grad_shape, query_shape, key_shape, value_shape,
                         *args, out_shape=None, **kwargs) -> int:
    # dV = P^T dO, dP = dO V^T, dQ = dS K, dK = dS^T Q: twice the forward
    return 2 * attention_flops(query_shape, key_shape, value_shape)


def _native_mha_flops(query_shape, key_shape, value_shape, embed_dim, *args,
                      out_shape=None, **kwargs) -> int:
    """Projections + attention of ``aten._native_multi_head_attention``."""
    batch, length = math.prod(query_shape[:-2]), query_shape[-2]
    source = key_shape[-2]
    projections = 2 * batch * embed_dim * embed_dim * (2 * length + 2 * source)
    return projections + attention_flops(query_shape, key_shape, value_shape)


ATTENTION_FORMULAS = {
    aten.scaled_dot_product_attention: _sdpa_flops,
    aten._scaled_dot_product_flash_attention_for_cpu: _sdpa_flops,
    aten._scaled_dot_product_flash_attention_for_cpu_backward:
    _sdpa_backward_flops,
    aten._native_multi_head_attention: _native_mha_flops,
}
