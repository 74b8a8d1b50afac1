"""Inference precision: which ones a device runs fast, and their autocast.

One check for every entry point (the inferencer, ``tools/infer.py``, the web
page, ``tools/test.py``'s :class:`PrecisionTestLoop`):

- ``fp32``: everywhere;
- ``fp16``: CUDA only. torch's CPU autocast to float16 has no fast path on
  the CPUs measured (as slow as fp32 with ``avx512_fp16``, several times
  slower without), so it is refused on CPU;
- ``bf16``: CUDA GPUs that support it, and CPUs. A CPU without
  ``avx512_bf16`` or ``amx_bf16`` computes bfloat16 without hardware
  support, several times slower than fp32 (4x to 10x on linear layers,
  measured with oneDNN's AVX-512 and AVX2 paths); it gets a
  :class:`PrecisionWarning`, not an error: the results are still bf16's,
  e.g. to check a bf16 deployment on a development machine.

The CPU flags are read from ``/proc/cpuinfo`` (x86 Linux); where they cannot
be read, bf16 on CPU is not checked.
"""
import contextlib
import warnings
from typing import FrozenSet, Optional

import torch

PRECISIONS = {'fp32': None, 'bf16': torch.bfloat16, 'fp16': torch.float16}
BF16_CPU_FLAGS = ('avx512_bf16', 'amx_bf16')
CPUINFO = '/proc/cpuinfo'


class PrecisionWarning(UserWarning):
    """The device has no fast path for the precision asked for."""


def cpu_flags(path: str = CPUINFO) -> Optional[FrozenSet[str]]:
    """The x86 CPU flags of the first processor in ``path``; None if the
    file cannot be read or has no ``flags`` line (not x86 Linux)."""
    try:
        with open(path, encoding='utf-8', errors='replace') as handle:
            for line in handle:
                key, _, value = line.partition(':')
                if key.strip() == 'flags':
                    return frozenset(value.split())
    except OSError:
        return None
    return None


def check_precision(precision: str, device: torch.device) -> str:
    """``precision`` if ``device`` can run it; warns where it would be slow.

    Raises:
        ValueError: an unknown precision, fp16 off CUDA, bf16 on a CUDA GPU
            without bfloat16, or reduced precision on a device other than
            CPU and CUDA; the message says what to use instead.
    """
    if precision not in PRECISIONS:
        raise ValueError(f'precision={precision!r}: use one of '
                         f'{tuple(PRECISIONS)}')
    if precision == 'fp32':
        return precision
    if device.type == 'cuda':
        if precision == 'bf16' and not torch.cuda.is_bf16_supported():
            raise ValueError(f"precision='bf16': {device} does not support "
                             "bfloat16; use 'fp16' or 'fp32'")
        return precision
    if device.type != 'cpu':
        raise ValueError(f'precision={precision!r} is not supported on '
                         f"{device}; use 'fp32'")
    if precision == 'fp16':
        raise ValueError(
            f"precision='fp16' needs a GPU (device={device}): float16 has no "
            "fast path on CPU; use 'bf16' (fast on CPUs with "
            f"{' or '.join(BF16_CPU_FLAGS)}) or 'fp32'")
    flags = cpu_flags()
    if flags is not None and not flags & set(BF16_CPU_FLAGS):
        warnings.warn(
            "precision='bf16': this CPU has none of the flags "
            f"{', '.join(BF16_CPU_FLAGS)} ({CPUINFO}), so bfloat16 runs "
            "without hardware support, several times slower than fp32. Use "
            "'fp32' for speed; bf16 is fast on a CPU with one of those flags "
            'or a CUDA GPU.', PrecisionWarning, stacklevel=2)
    return precision


def precision_autocast(precision: str, device: torch.device):
    """Autocast to ``precision`` on ``device``; nothing for fp32."""
    dtype = PRECISIONS[precision]
    if dtype is None:
        return contextlib.nullcontext()
    return torch.autocast(device.type, dtype=dtype)
