"""Distributed start-up on machines without a GPU."""
import os

import torch
import torch.distributed as dist


def init_cpu_distributed(cfg) -> bool:
    """Start a gloo process group for ``--launcher pytorch`` without CUDA.

    mmengine's launcher calls ``torch.cuda.set_device`` and gives
    DistributedDataParallel a GPU id unconditionally, so it cannot start on
    CPU-only machines. When no GPU is visible, this starts the process group
    itself (gloo) from the variables set by ``torch.distributed.run`` (the
    Runner then finds it initialized) and wraps the model without device ids.
    Returns True when it did so.
    """
    if cfg.get('launcher') != 'pytorch' or torch.cuda.is_available() or \
            dist.is_initialized():
        return False
    dist.init_process_group(
        backend='gloo',
        rank=int(os.environ['RANK']),
        world_size=int(os.environ['WORLD_SIZE']))
    wrapper = dict(cfg.get('model_wrapper_cfg') or {})
    wrapper.setdefault('type', 'MMDistributedDataParallel')
    wrapper.setdefault('broadcast_buffers', False)
    wrapper.setdefault('find_unused_parameters',
                       cfg.get('find_unused_parameters', False))
    wrapper['device_ids'] = None
    cfg.model_wrapper_cfg = wrapper
    return True


def shutdown_distributed() -> None:
    """Wait for every rank, then close the process group.

    Without this, a rank that finishes first exits while the others still
    use the group (rank 0 saving the last checkpoint, for example), and
    gloo's worker threads are torn down at interpreter exit, which aborts the
    process ("terminate called without an active exception").
    """
    if dist.is_available() and dist.is_initialized():
        dist.barrier()
        dist.destroy_process_group()
