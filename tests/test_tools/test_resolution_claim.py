"""tools/analysis_tools/resolution_claim.py: per-seed endpoints of paired
runs, their 95% t-intervals and the pre-registered decision, checked by
hand on fake run directories."""
import json
import math
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / 'tools' / 'analysis_tools'))
import resolution_claim  # noqa: E402

# values [1, 2, 3, 4]: sd sqrt(5 / 3), t(0.975, 3) = 3.1824
SD_1234 = math.sqrt(5 / 3)
HALF_1234 = 3.1824 * SD_1234 / 2


def _write_run(work_dir, variant, seed, metrics, stamp='20260101_000000'):
    """A run dir as tools/test.py leaves it: a training record, then the
    test metrics, in ``<stamp>/<stamp>.json``."""
    log_dir = work_dir / variant / f'seed{seed}' / stamp
    log_dir.mkdir(parents=True, exist_ok=True)
    with open(log_dir / f'{stamp}.json', 'w') as handle:
        handle.write(json.dumps(dict(lr=0.001, loss=1.5, step=10)) + '\n')
        handle.write(json.dumps(dict(metrics, naming_all_large=90.0)) + '\n')


def _write_runs(work_dir, fine, large, seeds, variant):
    for seed, fine_value, large_value in zip(seeds, fine, large):
        _write_run(
            work_dir, variant, seed,
            dict(
                naming_detail_fine=fine_value,
                naming_detail_large=large_value,
                mIoU=50.0 + seed))


def _student_t_cdf_mass(q, df, steps=20000):
    """P(|T| <= q) for Student's t by Simpson's rule on its density."""
    norm = math.exp(math.lgamma((df + 1) / 2) -
                    math.lgamma(df / 2)) / math.sqrt(df * math.pi)

    def density(t):
        return norm * (1 + t * t / df)**(-(df + 1) / 2)

    width = q / steps
    total = density(0) + density(q) + sum(
        (4 if i % 2 else 2) * density(i * width) for i in range(1, steps))
    return 2 * total * width / 3


def test_t_table_holds_the_975_quantiles():
    for df in range(1, 31):
        mass = _student_t_cdf_mass(resolution_claim.t_quantile(df), df)
        assert mass == pytest.approx(0.95, abs=2e-5), df
    with pytest.raises(ValueError, match='1 to 30'):
        resolution_claim.t_quantile(31)


def test_summary_by_hand():
    summary = resolution_claim.summarize([1.0, 2.0, 3.0, 4.0])
    assert summary['n'] == 4
    assert summary['mean'] == pytest.approx(2.5)
    assert summary['sd'] == pytest.approx(1.290994, abs=1e-6)
    assert summary['half_width'] == pytest.approx(HALF_1234, abs=1e-9)
    assert summary['half_width'] == pytest.approx(2.0542, abs=1e-4)
    assert summary['low'] == pytest.approx(2.5 - HALF_1234)
    assert summary['high'] == pytest.approx(2.5 + HALF_1234)
    # one seed: a mean and no interval
    single = resolution_claim.summarize([7.0])
    assert single['mean'] == 7.0 and single['low'] is None


def test_claim_shown_with_values_by_hand(tmp_path, capsys):
    # PRIMARY per seed: 11, 12, 13, 14; large differences 0 -> INTERACTION
    # the same
    _write_runs(tmp_path, [51, 52, 53, 54], [80] * 4, range(4), 'paper')
    _write_runs(tmp_path, [40] * 4, [80] * 4, range(4), 'global-attn')
    report = resolution_claim.analyse(resolution_claim.collect(str(tmp_path)))
    primary = report['endpoints']['PRIMARY']
    assert primary['per_seed'] == {0: 11.0, 1: 12.0, 2: 13.0, 3: 14.0}
    assert primary['mean'] == pytest.approx(12.5)
    assert primary['half_width'] == pytest.approx(HALF_1234)
    assert primary['low'] == pytest.approx(12.5 - 2.0542, abs=1e-4)
    assert report['endpoints']['INTERACTION']['per_seed'] == \
        primary['per_seed']
    assert report['decision'] == 'claim shown' and report['shown']
    assert primary['definition'] == ('naming_detail_fine(paper) - '
                                     'naming_detail_fine(global-attn)')
    # no p0 run: its endpoints have no seed, and the decision is unchanged
    assert report['endpoints']['SECONDARY iou_all_small']['n'] == 0
    assert report['notes'][:2] == [
        'no p0 run found',
        'SECONDARY iou_all_small: not computed, no tested p0 run'
    ]

    out = tmp_path / 'out' / 'claim.json'
    assert resolution_claim.main([str(tmp_path), '--json', str(out)]) == 0
    markdown = capsys.readouterr().out
    assert '## Resolution claim: claim shown' in markdown
    assert '| PRIMARY | naming_detail_fine(paper) - ' in markdown
    assert '0: 11.00, 1: 12.00, 2: 13.00, 3: 14.00 | 12.50 | [10.45, 14.55]' \
        in markdown
    assert '| global-attn | 3 | 53.00 | 40.00 | 80.00 |' in markdown
    saved = json.loads(out.read_text())
    assert saved['decision'] == 'claim shown'
    assert saved['endpoints']['PRIMARY']['per_seed'] == {
        '0': 11.0,
        '1': 12.0,
        '2': 13.0,
        '3': 14.0
    }
    assert saved['runs']['paper']['2']['naming_detail_fine'] == 53


def test_interaction_decides_when_large_objects_gain_as_much(tmp_path):
    # PRIMARY 11..14 as above, but the large objects gain 10, 14, 11, 12:
    # INTERACTION 1, -2, 2, 2, mean 0.75, interval across 0
    _write_runs(tmp_path, [51, 52, 53, 54], [90, 94, 91, 92], range(4),
                'paper')
    _write_runs(tmp_path, [40] * 4, [80] * 4, range(4), 'global-attn')
    report = resolution_claim.analyse(resolution_claim.collect(str(tmp_path)))
    interaction = report['endpoints']['INTERACTION']
    assert interaction['per_seed'] == {0: 1.0, 1: -2.0, 2: 2.0, 3: 2.0}
    assert interaction['mean'] == pytest.approx(0.75)
    sd = math.sqrt((0.25**2 + 2.75**2 + 1.25**2 + 1.25**2) / 3)
    assert interaction['half_width'] == pytest.approx(3.1824 * sd / 2)
    assert report['endpoints']['PRIMARY']['low'] > 0
    assert report['decision'] == 'claim not shown'
    assert 'INTERACTION interval' in report['reason']
    assert 'PRIMARY' not in report['reason']


def test_claim_not_shown_when_the_paper_model_names_fewer(tmp_path):
    _write_runs(tmp_path, [40, 41, 42, 43], [80] * 4, range(4), 'paper')
    _write_runs(tmp_path, [50] * 4, [80] * 4, range(4), 'global-attn')
    report = resolution_claim.analyse(resolution_claim.collect(str(tmp_path)))
    primary = report['endpoints']['PRIMARY']
    assert primary['per_seed'] == {0: -10.0, 1: -9.0, 2: -8.0, 3: -7.0}
    assert primary['high'] == pytest.approx(-8.5 + HALF_1234)
    assert not report['shown']
    assert 'PRIMARY interval' in report['reason']


def test_unpaired_seeds_are_left_out_and_reported(tmp_path):
    # paper has seeds 0-4, global-attn 0-3 and 7; p0 only seed 0
    _write_runs(tmp_path, [51, 52, 53, 54, 99], [80] * 5, range(5), 'paper')
    _write_runs(tmp_path, [40] * 5, [80] * 5, [0, 1, 2, 3, 7], 'global-attn')
    _write_run(tmp_path, 'p0', 0, dict(iou_all_small=30.0))
    _write_run(
        tmp_path,
        'paper',
        0,
        dict(iou_all_small=45.0),
        stamp='20250101_000000')  # older: not read
    (tmp_path / 'paper' / 'seed9').mkdir()  # not tested yet
    report = resolution_claim.analyse(resolution_claim.collect(str(tmp_path)))
    primary = report['endpoints']['PRIMARY']
    assert sorted(primary['per_seed']) == [0, 1, 2, 3]
    assert primary['mean'] == pytest.approx(12.5)
    notes = '\n'.join(report['notes'])
    assert ('PRIMARY: seed 4 left out, unpaired: no tested global-attn run'
            in notes)
    assert 'PRIMARY: seed 7 left out, unpaired: no tested paper run' in notes
    assert 'paper seed 9: no test metrics' in notes
    # p0's seed 0 pairs with paper's newest run, which has no iou_all_small
    secondary = report['endpoints']['SECONDARY iou_all_small']
    assert secondary['n'] == 0
    assert ('SECONDARY iou_all_small: seed 0 left out: its metrics have no '
            'iou_all_small(paper)') in notes


def test_no_results_is_an_error(tmp_path):
    (tmp_path / 'paper' / 'seed0').mkdir(parents=True)
    with pytest.raises(SystemExit, match='no test results under'):
        resolution_claim.main([str(tmp_path)])
