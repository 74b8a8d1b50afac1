"""An evaluation report that says what was measured as well as the scores.

Two results on "PC-459" can differ by points because their class lists or
label preparations differ. The report keeps, next to the metrics and the
per-class table, what identifies the measurement: the ordered class list's
SHA-256, the preparation stamp of the labels, the dataset and number of
images, the checkpoint's SHA-256, the precision, the config and the code
versions.
``tools/analysis_tools/compare_reports.py`` compares two reports.
"""
import datetime
import hashlib
import json
import math
import numbers
import os.path as osp
import subprocess
from importlib import metadata
from typing import Dict, List, Optional, Sequence

import numpy as np

from ..datasets.preparation import read_stamp
from ..version import __version__

REPORT_VERSION = 1
CLASS_LIST_HASH = ('SHA-256 of the UTF-8 class names in train-id order, '
                   'joined by "\\n" (no trailing newline)')
PACKAGES = ('mmsegmentation', 'mmengine', 'mmcv', 'torch', 'open_clip_torch')
CHUNK = 1 << 20


def file_sha256(path: str) -> str:
    """Hex SHA-256 of a file's bytes."""
    digest = hashlib.sha256()
    with open(path, 'rb') as handle:
        for chunk in iter(lambda: handle.read(CHUNK), b''):
            digest.update(chunk)
    return digest.hexdigest()


def class_list_sha256(names: Sequence[str]) -> str:
    """Hex SHA-256 of the class list as :data:`CLASS_LIST_HASH` says."""
    return hashlib.sha256('\n'.join(names).encode('utf-8')).hexdigest()


def _number(value) -> Optional[float]:
    """A JSON number: NaN becomes None; a numpy float is written with the
    fewest digits that give it back (a float32 22.22 as 22.22, not
    22.219999313354492)."""
    if isinstance(value, numbers.Integral):
        return int(value)
    if isinstance(value, np.floating):
        value = np.format_float_positional(value, unique=True)
    value = float(value)
    return None if math.isnan(value) else value


def git_state(folder: str) -> Dict[str, Optional[object]]:
    """Commit of the git work tree holding ``folder`` and whether tracked
    files differ from it; None for both outside a work tree."""

    def git(*args) -> Optional[str]:
        try:
            done = subprocess.run(['git', '-C', folder, *args],
                                  capture_output=True,
                                  text=True,
                                  timeout=30)
        except (OSError, subprocess.SubprocessError):
            return None
        return done.stdout.strip() if done.returncode == 0 else None

    commit = git('rev-parse', 'HEAD')
    if commit is None:
        return dict(git_commit=None, git_uncommitted_changes=None)
    status = git('status', '--porcelain', '--untracked-files=no')
    return dict(
        git_commit=commit,
        git_uncommitted_changes=None if status is None else bool(status))


def code_versions() -> Dict[str, Optional[object]]:
    """This package's version and git state and the installed stack's."""
    versions = dict(mrovseg_mmseg=__version__)
    versions.update(git_state(osp.dirname(osp.abspath(__file__))))
    for package in PACKAGES:
        try:
            versions[package] = metadata.version(package)
        except metadata.PackageNotFoundError:
            versions[package] = None
    return versions


def dataset_identity(dataset) -> dict:
    """Type, location, size, class lists' hashes and preparation stamp.

    The stamp is read from the dataset's label folder
    (``data_prefix['seg_map_path']``).
    """
    metainfo = dataset.metainfo
    classes = list(metainfo['classes'])
    identity = dict(
        type=type(dataset).__name__,
        data_root=getattr(dataset, 'data_root', None),
        images=len(dataset),
        num_classes=len(classes),
        classes_sha256=class_list_sha256(classes),
        raw_classes_sha256=class_list_sha256(
            metainfo.get('raw_classes', classes)),
        class_list_hash=CLASS_LIST_HASH)
    labels = (getattr(dataset, 'data_prefix', None) or {}).get('seg_map_path')
    identity['label_folder'] = labels
    try:
        identity['preparation'] = read_stamp(labels) if labels else None
    except ValueError as err:
        identity['preparation'] = dict(error=str(err))
    return identity


def class_rows(
    classes: Sequence[str],
    table: Dict[str, np.ndarray],
    unseen: Sequence[str] = ()) -> List[dict]:
    """One row per class: id, name, each per-class value (None for NaN),
    and ``unseen`` when the metric defines a zero-shot split."""
    rows = []
    for index, name in enumerate(classes):
        row = dict(id=index, name=name)
        row.update({
            key: _number(values[index])
            for key, values in table.items()
        })
        if unseen:
            row['unseen'] = name in unseen
        rows.append(row)
    return rows


def build_report(
    *,
    metrics: Dict[str, float],
    dataset,
    cfg,
    checkpoint: Optional[str],
    table: Optional[Dict[str, np.ndarray]],
    unseen: Sequence[str] = (),
    precision: str = 'fp32') -> dict:
    """The report as a JSON-ready dict.

    Args:
        metrics: the test metrics (``aAcc``, ``mIoU``, ... and, with
            :class:`OpenVocabIoUMetric`, ``mIoU_seen``/``mIoU_unseen``/
            ``hIoU``).
        dataset: the test dataset.
        cfg: the run's mmengine ``Config``.
        checkpoint: path of the evaluated checkpoint (hashed when it is a
            local file).
        table: per-class values, from :class:`ClassTableRecorder`.
        unseen: class names held out of training, when defined.
        precision: what the network ran in: ``'fp32'``, ``'bf16'`` or
            ``'fp16'`` (autocast), or mmengine's ``'fp16=True'`` (its
            device default, scoring included).
    """
    has_file = bool(checkpoint) and osp.isfile(checkpoint)
    classes = list(dataset.metainfo['classes'])
    return dict(
        report_version=REPORT_VERSION,
        created=datetime.datetime.now().isoformat(timespec='seconds'),
        metrics={
            key: _number(value)
            for key, value in metrics.items()
        },
        dataset=dataset_identity(dataset),
        checkpoint=dict(
            path=osp.abspath(checkpoint) if has_file else checkpoint,
            sha256=file_sha256(checkpoint) if has_file else None),
        precision=precision,
        code=code_versions(),
        config_file=getattr(cfg, 'filename', None),
        per_class=class_rows(classes, table, unseen) if table else [],
        config=cfg.pretty_text)


def _cell(value) -> str:
    if value is None:
        return '-'
    if isinstance(value, bool):
        return 'unseen' if value else 'seen'
    if isinstance(value, float):
        return f'{value:.2f}'
    return str(value).replace('|', '\\|')


def format_markdown(report: dict) -> str:
    """A readable page: identity lines, metrics, per-class table, config."""
    dataset, code = report['dataset'], report['code']
    stamp = dataset['preparation']
    if stamp is None:
        preparation = f'no preparation stamp in {dataset["label_folder"]}'
    else:
        preparation = ', '.join(f'{key} {value}'
                                for key, value in stamp.items())
    commit = code['git_commit'] or 'unknown'
    if code['git_uncommitted_changes']:
        commit += ' (with uncommitted changes)'
    identity = [
        ('config', report['config_file']),
        ('checkpoint', report['checkpoint']['path']),
        ('checkpoint sha256', report['checkpoint']['sha256']),
        ('precision', report['precision']),
        ('dataset', f'{dataset["type"]}, {dataset["images"]} images, '
         f'data_root {dataset["data_root"]}'),
        ('classes', f'{dataset["num_classes"]}, sha256 '
         f'{dataset["classes_sha256"]}'),
        ('raw classes', f'sha256 {dataset["raw_classes_sha256"]}'),
        ('class list hash', dataset['class_list_hash']),
        ('preparation', preparation),
        ('code', f'mrovseg_mmseg {code["mrovseg_mmseg"]} at {commit}; ' +
         ', '.join(f'{name} {code[name]}' for name in PACKAGES)),
        ('created', report['created']),
    ]
    lines = ['# Evaluation report', '', '| | |', '|---|---|']
    lines += [f'| {key} | {_cell(value)} |' for key, value in identity]
    metrics = report['metrics']
    lines += [
        '', '## Metrics', '', '| ' + ' | '.join(metrics) + ' |',
        '|' + '---|' * len(metrics),
        '| ' + ' | '.join(_cell(v) for v in metrics.values()) + ' |'
    ]
    rows = report['per_class']
    if rows:
        keys = [key for key in rows[0] if key not in ('id', 'name')]
        lines += [
            '', '## Per class', '',
            '| id | class | ' + ' | '.join(keys) + ' |',
            '|---|---|' + '---|' * len(keys)
        ]
        lines += [
            f'| {row["id"]} | {_cell(row["name"])} | ' +
            ' | '.join(_cell(row[key]) for key in keys) + ' |' for row in rows
        ]
    lines += [
        '', '## Config', '', '```python', report['config'].rstrip(), '```', ''
    ]
    return '\n'.join(lines)


def write_report(report: dict, folder: str) -> List[str]:
    """Write ``report.json`` and ``report.md`` into ``folder``."""
    paths = [osp.join(folder, 'report.json'), osp.join(folder, 'report.md')]
    with open(paths[0], 'w') as handle:
        json.dump(report, handle, indent=2)
        handle.write('\n')
    with open(paths[1], 'w') as handle:
        handle.write(format_markdown(report))
    return paths
