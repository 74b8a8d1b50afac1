"""tools/analysis_tools/zero_shot_table.py: the mean over seeds and each
seed's value, in seed order, from the newest test record of each run."""
import json
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / 'tools' / 'analysis_tools'))
import zero_shot_table  # noqa: E402


def _record(run_dir, stamp, value):
    folder = run_dir / stamp
    folder.mkdir(parents=True, exist_ok=True)
    metrics = {column: value for column in zero_shot_table.COLUMNS}
    with open(folder / f'{stamp}.json', 'a') as handle:
        handle.write(json.dumps(dict(lr=0.1, step=5)) + '\n')
        handle.write(json.dumps(metrics) + '\n')
    # tools/test.py's report, one JSON document over many lines
    (folder / 'report.json').write_text(json.dumps(dict(metrics=metrics),
                                                   indent=2))


def test_mean_and_seeds_in_seed_order(tmp_path):
    _record(tmp_path / 'paper' / 'seed10', '20260101_000000', 70.0)
    _record(tmp_path / 'paper' / 'seed2', '20260101_000000', 10.0)
    # an older test of seed 2 is ignored, the newest counts
    _record(tmp_path / 'paper' / 'seed2', '20250101_000000', 99.0)
    _record(tmp_path / 'paper' / 'seed3', '20260101_000000', 40.0)
    (tmp_path / 'paper' / 'seed4').mkdir()  # a run that never tested
    _record(tmp_path / 'p0' / 'seed0', '20260101_000000', 5.25)
    table = zero_shot_table.format_table(zero_shot_table.collect(tmp_path))
    rows = {line.split(' | ')[0]: line for line in table.splitlines()}
    paper = rows['| MROVSeg (pretrained tiny CLIP)']
    assert paper.split(' | ')[1] == '3'
    assert paper.split(' | ')[2] == '40.0 (10.0 / 40.0 / 70.0)'
    p0 = rows['| slice ratio p = 0 (global view only)']
    assert p0.split(' | ')[2] == '5.2 (5.2)'
    assert '| random CLIP' not in rows
