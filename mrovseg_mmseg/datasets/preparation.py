"""The stamp a preparation script leaves in each label folder it writes.

``tools/dataset_converters/<script>.py`` writes ``preparation.json`` beside
the label maps: the script's name, its ``PREPARATION_VERSION`` (raised each
time the files it writes change) and the options that change them, e.g.
``{"script": "ade20k_847.py", "version": 1, "options": {"max_short_side":
512, "jpeg_quality": 75}}``. Evaluation reports copy it, so two results
show whether their labels came from the same preparation.
"""
import json
from pathlib import Path
from typing import Optional, Union

STAMP_FILE = 'preparation.json'


def write_stamp(folder: Union[str, Path],
                script: str,
                version: int,
                options: Optional[dict] = None) -> Path:
    """Write ``folder/preparation.json``; returns its path."""
    path = Path(folder) / STAMP_FILE
    path.parent.mkdir(parents=True, exist_ok=True)
    stamp = dict(script=script, version=version, options=dict(options or {}))
    path.write_text(json.dumps(stamp, indent=2, sort_keys=True) + '\n')
    return path


def read_stamp(folder: Union[str, Path]) -> Optional[dict]:
    """The stamp in ``folder``; None when there is none.

    Raises:
        ValueError: the stamp is not a JSON object (names the file).
    """
    path = Path(folder) / STAMP_FILE
    if not path.is_file():
        return None
    try:
        stamp = json.loads(path.read_text())
    except ValueError as err:
        raise ValueError(f'preparation stamp {path} is not JSON: {err}') \
            from err
    if not isinstance(stamp, dict):
        raise ValueError(f'preparation stamp {path} holds a '
                         f'{type(stamp).__name__}, expected an object')
    return stamp
