"""Record the training process's resident memory at chosen iterations."""
import json
import os.path as osp
import resource
import sys
from typing import Optional, Sequence

from mmengine.dist import get_rank, get_world_size
from mmengine.hooks import Hook
from mmengine.logging import print_log
from mmseg.registry import HOOKS

KIB_PER_MIB = 1024


def peak_rss_mib() -> float:
    """Peak resident set size of this process so far (``ru_maxrss``)."""
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    if sys.platform == 'darwin':  # bytes there, KiB on Linux
        peak /= 1024
    return peak / KIB_PER_MIB


def current_rss_mib() -> Optional[float]:
    """Current resident set size (``VmRSS`` in /proc/self/status), if any."""
    try:
        with open('/proc/self/status') as status:
            for line in status:
                if line.startswith('VmRSS:'):
                    return int(line.split()[1]) / KIB_PER_MIB
    except OSError:
        pass
    return None


@HOOKS.register_module()
class MemoryUsageHook(Hook):
    """Log peak and current resident memory after the given iterations.

    Each record (iteration, peak and current RSS in MiB) is logged and
    written to ``memory_usage.json`` in the work dir (``memory_usage_rank{r}
    .json`` per rank in distributed runs), so a long run can be checked for
    leaks: peak memory should stop growing once every code path has run.

    Args:
        iterations: 1-based training iterations after which to record.
    """

    # before CheckpointHook (VERY_LOW): a checkpoint's serialization buffer
    # would otherwise count at the iterations where one is saved
    priority = 'LOW'

    def __init__(self, *, iterations: Sequence[int]) -> None:
        bad = [it for it in iterations if int(it) < 1]
        if not iterations or bad:
            raise ValueError(f'iterations={tuple(iterations)} must be '
                             'positive training iterations')
        self.iterations = frozenset(int(it) for it in iterations)
        self.records = []

    def after_train_iter(self,
                         runner,
                         batch_idx: int,
                         data_batch=None,
                         outputs=None) -> None:
        iteration = runner.iter + 1
        if iteration not in self.iterations:
            return
        rss = current_rss_mib()
        record = dict(
            iter=iteration,
            peak_rss_mib=round(peak_rss_mib(), 1),
            rss_mib=None if rss is None else round(rss, 1))
        self.records.append(record)
        print_log(
            f'memory at iteration {iteration}: peak RSS '
            f'{record["peak_rss_mib"]} MiB, current RSS '
            f'{record["rss_mib"]} MiB',
            logger='current')
        name = ('memory_usage.json' if get_world_size() == 1 else
                f'memory_usage_rank{get_rank()}.json')
        with open(osp.join(runner.work_dir, name), 'w') as handle:
            json.dump(self.records, handle, indent=1)
