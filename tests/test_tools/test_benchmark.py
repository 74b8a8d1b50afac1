"""The benchmark tool on the tiny config: every field is filled and sane.

Speed is never asserted: only that latencies, FLOPs and memory are measured
(positive), that the FLOP counter sees CPU attention and that the report's
ratios are computed from the right numbers.
"""
import copy
import importlib.util
import json
import os.path as osp

import pytest
import torch
import torch.nn.functional as F

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
TINY_CONFIG = osp.join(REPO, 'configs', 'mrovseg_tiny_shapes64.py')


@pytest.fixture(scope='module')
def bench():
    path = osp.join(REPO, 'tools', 'analysis_tools', 'benchmark.py')
    spec = importlib.util.spec_from_file_location('benchmark_tool', path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope='module')
def report(bench):
    """A run on the tiny config at 64x64, every case in this process."""
    args = bench.parse_args([
        TINY_CONFIG, '--size', '64x64', '--repeats', '1', '--warmup', '1',
        '--batch-size', '1', '--train-batch-size', '1', '--text',
        '--text-templates', 'single'
    ])
    return bench.run_all(
        args, runner=bench.run_case,
        matmul_peak=lambda: bench.measure_matmul_peak(
            shapes=((256, 256, 256), ), repeats=2))


def test_count_flops_includes_cpu_attention(bench):
    query = torch.randn(2, 3, 10, 8)
    key = torch.randn(2, 3, 12, 8)
    weight = torch.randn(16, 8)
    with torch.inference_mode(), bench.count_flops() as flops:
        F.scaled_dot_product_attention(query, key, key)
        F.linear(query, weight)
    attention = 2 * 2 * 3 * 10 * 12 * (8 + 8)  # QK^T and PV
    linear = 2 * (2 * 3 * 10) * 8 * 16
    assert flops['flops'] == attention + linear
    assert flops['uncounted_ops'] == []


def test_peak_rss_sees_an_allocation(bench):
    with bench.PeakRSS() as memory:
        block = torch.ones(64 * 2**20 // 4)  # 64 MiB, written
        del block
    result = memory.result()
    assert result['peak_rss_bytes'] >= result['baseline_rss_bytes'] > 0
    assert result['growth_bytes'] >= 48 * 2**20


def test_matmul_peak(bench):
    peak = bench.measure_matmul_peak(shapes=((128, 64, 96), ), repeats=2)
    assert peak['gflops'] > 0 and peak['best_shape'] == '128x64x96'


@pytest.mark.parametrize('section', ['inference', 'training'])
def test_cases_measure_time_flops_memory(bench, report, section):
    result = report['cases'][f'main/{section}']
    assert 'error' not in result
    assert result['median_s'] > 0 and len(result['times']) == 1
    assert result['flops'] > 0 and result['uncounted_ops'] == []
    assert result['peak_rss_bytes'] > 0 and result['growth_bytes'] >= 0
    derived = bench.derived(result, report['peak_gflops'])
    assert derived['gmac'] == derived['gflop'] / 2 > 0
    assert derived['achieved_gflops'] > 0 and derived['peak_fraction'] > 0


def test_text_matches_mmseg_with_the_same_weights(report):
    text = report['text']
    assert text['prompts'] == 171 and text['tokens_equal_mmseg']
    assert text['ours_cold_s'] > 0 and text['mmseg_cold_s'] > 0
    assert text['ours_disk_cache_s'] > 0
    assert text['disk_cache_max_abs_diff'] == 0
    assert text['mmseg_finite'] and text['max_abs_diff'] < 1e-5


def test_report_prints_and_serializes(bench, report, capsys):
    bench.print_report(report)
    out = capsys.readouterr().out
    for title in ('== Machine ==', '== Inference', '== Training step',
                  '== Text encoding'):
        assert title in out
    assert '[failed]' not in out
    json.dumps(report)


def test_ratios_against_san_and_size_sweep(bench, report, capsys):
    """Ratios come from the right cases (synthetic SAN and sweep numbers)."""
    fake = copy.deepcopy(report)
    fake['labels']['san'] = 'SAN'
    fake['args']['sizes'] = [(64, 64), (64, 128)]
    ours = fake['cases']['main/inference']
    san = dict(copy.deepcopy(ours), median_s=ours['median_s'] / 4,
               flops=ours['flops'] // 2)
    large = dict(copy.deepcopy(ours), median_s=ours['median_s'] * 3,
                 flops=ours['flops'] * 2, case=dict(ours['case'],
                                                    size=[64, 128]))
    fake['cases'].update({
        'san/inference': san,
        'main/size/64x64': ours,
        'main/size/128x64': large
    })
    bench.summarize(fake)
    ratios = fake['ratios']['inference']
    assert ratios['latency'] == pytest.approx(4)
    assert ratios['FLOPs'] == pytest.approx(2, rel=1e-6)
    assert ratios['% peak'] == pytest.approx(0.5, rel=1e-6)
    first, second = fake['sizes']['main']
    assert (first['pixel_ratio'], second['pixel_ratio']) == (1, 2)
    assert second['latency_ratio'] == pytest.approx(3)
    assert second['latency_growth_per_pixel_growth'] == pytest.approx(1.5)
    assert second['flops_ratio'] == pytest.approx(2)
    bench.print_report(fake)
    out = capsys.readouterr().out
    assert 'MROVSeg / SAN: latency 4.00x' in out and '== Size sweep' in out


@pytest.mark.slow
def test_isolated_case_runs_in_a_fresh_process(bench):
    case = dict(kind='inference', config=TINY_CONFIG, cfg_options=None,
                size=[64, 64], batch_size=1, repeats=1, warmup=1, threads=1,
                text_cache_dir=None)
    result = bench.run_case_isolated(case, timeout=600)
    assert 'error' not in result, result.get('error')
    assert result['threads'] == 1 and result['median_s'] > 0
    assert result['flops'] > 0 and result['peak_rss_bytes'] > 0
