"""Tests keep out of the repository's ``work_dirs/`` and ``data/``.

Whatever was there when the run started (e.g. written by ``bash
tools/run_demo.sh`` before the tests) is left alone; a test that creates,
changes or deletes anything there fails the run. Each test is checked
cheaply (the folders' modification times: an entry added, removed or renamed
in a folder known at the start); the whole trees are compared once at the
end, which also sees files rewritten in place.
"""
import os
from pathlib import Path
from typing import Dict, Iterable, List, Tuple

REPO = Path(__file__).resolve().parents[1]
WATCHED = ('work_dirs', 'data')

Stamp = Tuple[bool, int, int]  # (is a folder, size, mtime in ns)


def _stamp(path: str) -> Stamp:
    info = os.stat(path)
    return os.path.isdir(path), info.st_size, info.st_mtime_ns


def snapshot(repo: Path = REPO) -> Dict[str, Stamp]:
    """Every file and folder under the watched folders, by repo path."""
    entries = {}
    for name in WATCHED:
        root = repo / name
        if not root.exists():
            continue
        entries[name] = _stamp(str(root))
        for folder, dirs, files in os.walk(root):
            for entry in dirs + files:
                path = os.path.join(folder, entry)
                try:
                    entries[os.path.relpath(path, repo)] = _stamp(path)
                except FileNotFoundError:  # a dangling link
                    continue
    return entries


def folder_stamps(folders: Iterable[str],
                  repo: Path = REPO) -> Dict[str, Stamp]:
    """Stamps of the watched roots and of ``folders`` (repo paths); a
    missing one is absent."""
    stamps = {}
    for name in set(WATCHED) | set(folders):
        try:
            stamps[name] = _stamp(str(repo / name))
        except FileNotFoundError:
            continue
    return stamps


def changes(before: Dict[str, Stamp], after: Dict[str, Stamp]) -> List[str]:
    """'created', 'changed' or 'deleted' lines, one per repo path (a folder
    is changed when an entry in it was added, removed or renamed)."""
    lines = [f'created {path}' for path in sorted(set(after) - set(before))]
    lines += [f'deleted {path}' for path in sorted(set(before) - set(after))]
    lines += [f'changed {path}' for path in sorted(set(before) & set(after))
              if before[path] != after[path]]
    return lines


def report(lines: List[str], limit: int = 20) -> str:
    shown = lines[:limit] + ([f'... and {len(lines) - limit} more']
                             if len(lines) > limit else [])
    return ('the repository\'s work_dirs/ or data/ changed (write to '
            'tmp_path instead, e.g. --work-dir and --cfg-options '
            '...data_root=):\n  ' + '\n  '.join(shown))
