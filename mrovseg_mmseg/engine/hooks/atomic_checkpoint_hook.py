"""Checkpoint saving that a killed job cannot leave half-done.

mmengine's ``CheckpointHook`` deletes the oldest kept checkpoint, then writes
the new one in place (``open(path, 'wb')``), then rewrites ``last_checkpoint``
in place. A job killed in between leaves a truncated ``iter_N.pth``, an empty
``last_checkpoint``, or (with ``max_keep_ckpts=1``) a ``last_checkpoint``
naming a file it already deleted; ``--resume`` then fails and the run is lost.

:class:`AtomicCheckpointHook` writes the checkpoint and ``last_checkpoint``
to temporary files in the same folder, flushes them to disk and renames them
into place (``os.replace`` is atomic on POSIX and Windows), and deletes old
checkpoints only after ``last_checkpoint`` names the new one. At every
instant ``last_checkpoint`` names a complete checkpoint.
"""
import glob
import os
import os.path as osp
from collections import deque

from mmengine.dist import is_main_process
from mmengine.fileio import LocalBackend
from mmengine.hooks import CheckpointHook
from mmseg.registry import HOOKS

STAGING_PREFIX = '.saving.'


def fsync_file(path: str) -> None:
    """Flush a written file's data to the disk."""
    with open(path, 'rb') as handle:
        os.fsync(handle.fileno())


def fsync_dir(path: str) -> None:
    """Flush a folder's entries (a rename) to the disk where supported."""
    try:
        handle = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(handle)
    except OSError:
        pass
    finally:
        os.close(handle)


def publish(staged: str, path: str) -> None:
    """Move a fully written ``staged`` file to ``path`` atomically."""
    fsync_file(staged)
    os.replace(staged, path)
    fsync_dir(osp.dirname(osp.abspath(path)))


def write_text_atomic(path: str, text: str) -> None:
    """Replace the file ``path`` by ``text`` with no partial state."""
    staged = osp.join(
        osp.dirname(osp.abspath(path)), STAGING_PREFIX + osp.basename(path))
    with open(staged, 'w') as handle:
        handle.write(text)
    publish(staged, path)


@HOOKS.register_module()
class AtomicCheckpointHook(CheckpointHook):
    """mmengine's ``CheckpointHook`` with crash-safe local saving.

    Arguments are those of ``CheckpointHook``. Periodic and last checkpoints
    in a local folder are written as described in the module docstring;
    other storage backends (and ``save_best`` checkpoints) are saved by
    mmengine unchanged. Staging files left by a killed job are removed when
    training starts again.
    """

    def before_train(self, runner) -> None:
        super().before_train(runner)
        if self._is_local() and is_main_process():
            for stale in glob.glob(
                    osp.join(self.out_dir, STAGING_PREFIX + '*')):
                os.remove(stale)

    def _is_local(self) -> bool:
        return self.file_client_args is None and isinstance(
            self.file_backend, LocalBackend)

    def _save_checkpoint_with_step(self, runner, step, meta) -> None:
        if not self._is_local():
            super()._save_checkpoint_with_step(runner, step, meta)
            return
        obsolete = self._rotate(runner, step)
        filename = self.filename_tmpl.format(step)
        path = osp.join(self.out_dir, filename)
        self.last_ckpt = path
        runner.message_hub.update_info('last_ckpt', path)
        runner.save_checkpoint(
            self.out_dir,
            STAGING_PREFIX + filename,
            save_optimizer=self.save_optimizer,
            save_param_scheduler=self.save_param_scheduler,
            meta=meta,
            by_epoch=self.by_epoch,
            backend_args=self.backend_args,
            **self.args)
        if not is_main_process():
            return
        publish(osp.join(self.out_dir, STAGING_PREFIX + filename), path)
        write_text_atomic(osp.join(runner.work_dir, 'last_checkpoint'), path)
        for old_step in obsolete:
            old = osp.join(self.out_dir, self.filename_tmpl.format(old_step))
            if osp.isfile(old):
                os.remove(old)

    def _rotate(self, runner, step) -> list:
        """Record ``step`` among the kept checkpoints; return steps to drop."""
        if self.max_keep_ckpts <= 0:
            return []
        if self.keep_ckpt_ids and self.keep_ckpt_ids[-1] == step:
            return []
        kept = deque(self.keep_ckpt_ids)
        obsolete = []
        while len(kept) >= self.max_keep_ckpts:
            obsolete.append(kept.popleft())
        kept.append(step)
        self.keep_ckpt_ids = kept
        runner.message_hub.update_info('keep_ckpt_ids', list(kept))
        return obsolete
