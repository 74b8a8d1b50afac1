"""Train the toy runner and SIGKILL this process inside a checkpoint save.

    python -m tests.test_reliability.kill_during_save WORK_DIR HOOK POINT

HOOK is the checkpoint hook type; the toy runner saves every 2 iterations
and keeps 1 checkpoint. The process kills itself during the second save
(iteration 4) at POINT:

- ``write``: half of the checkpoint's bytes are on disk,
- ``publish``: the checkpoint is complete, ``last_checkpoint`` not yet
  replaced,
- ``rotate``: ``last_checkpoint`` names the new checkpoint, the old one is
  not yet deleted.
"""
import os
import signal
import sys

from mmengine.fileio.backends import local_backend

import mrovseg_mmseg  # noqa: F401
from .toy_runner import build_toy_runner

KILL_AT_SAVE = 2


def die() -> None:
    os.kill(os.getpid(), signal.SIGKILL)


def install(point: str) -> None:
    """Patch the file operation of ``point`` to kill at the second save."""
    calls = dict(put=0)
    original_put = local_backend.LocalBackend.put
    original_replace = os.replace
    original_remove = os.remove

    def put(self, obj: bytes, filepath) -> None:
        calls['put'] += 1
        if point == 'write' and calls['put'] == KILL_AT_SAVE:
            with open(filepath, 'wb') as handle:
                handle.write(obj[:len(obj) // 2])
            die()
        original_put(self, obj, filepath)

    def replace(src, dst, *args, **kwargs) -> None:
        if (point == 'publish' and calls['put'] == KILL_AT_SAVE
                and os.path.basename(dst) == 'last_checkpoint'):
            die()
        original_replace(src, dst, *args, **kwargs)

    def remove(path, *args, **kwargs) -> None:
        if point == 'rotate' and calls['put'] == KILL_AT_SAVE:
            die()
        original_remove(path, *args, **kwargs)

    local_backend.LocalBackend.put = put
    os.replace = replace
    os.remove = remove


def main(argv) -> None:
    work_dir, hook, point = argv
    install(point)
    runner = build_toy_runner(
        work_dir, checkpoint_hook=hook, interval=2, max_keep_ckpts=1)
    runner.train()


if __name__ == '__main__':
    main(sys.argv[1:])
