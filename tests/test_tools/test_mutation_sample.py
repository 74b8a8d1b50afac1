"""tools/dev/mutation_sample.py and mutmut_site: verdicts from mutmut's exit
codes, child-process calls merged into its statistics, module names from
paths."""
import importlib.util
import json
import os.path as osp

import pytest

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))


def load(name, *parts):
    spec = importlib.util.spec_from_file_location(
        name, osp.join(REPO, 'tools', 'dev', *parts))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope='module')
def sample():
    return load('mutation_sample_tool', 'mutation_sample.py')


@pytest.fixture
def site(monkeypatch):
    # loading it with the variable set would patch mutmut in this process
    monkeypatch.delenv('MROVSEG_MUTMUT_ROOT', raising=False)
    return load('mutmut_site_tool', 'mutmut_site', 'sitecustomize.py')


def test_only_failing_tests_and_timeouts_kill(sample):
    assert sample.status_of(1) == 'killed'
    assert sample.status_of(36) == 'timeout'
    assert sample.status_of(0) == 'survived'
    assert sample.status_of(33) == 'no tests'
    assert sample.status_of(None) == 'not checked'
    for code in (2, 3, 4, 5, -11):
        assert sample.status_of(code) not in sample.KILLED


def test_child_process_calls_join_the_statistics(sample, tmp_path):
    stats = dict(
        tests_by_mangled_function_name={'pkg.x_both': ['tests/t.py::a']},
        duration_by_test={'tests/t.py::a': 1.0, 'tests/t.py::b': 2.0})
    (tmp_path / 'mutmut-stats.json').write_text(json.dumps(stats))
    hits = [('tests/t.py::b', 'pkg.x_both'), ('tests/t.py::b', 'tools.x_cli'),
            ('tests/t.py::a', 'pkg.x_both'), ('tests/gone.py::c', 'pkg.x_new')]
    (tmp_path / sample.HITS).write_text(''.join(
        json.dumps(dict(test=t, function=f)) + '\n' for t, f in hits))
    sample.merge_subprocess_hits(str(tmp_path))
    merged = json.loads((tmp_path / 'mutmut-stats.json').read_text())
    assert merged['tests_by_mangled_function_name'] == {
        'pkg.x_both': ['tests/t.py::a', 'tests/t.py::b'],
        'tools.x_cli': ['tests/t.py::b'],
    }
    assert sample.subprocess_only(str(tmp_path)) == {'tools.x_cli'}
    sample.merge_subprocess_hits(str(tmp_path))
    assert json.loads((tmp_path / 'mutmut-stats.json').read_text()) == merged


def test_also_copy_leaves_out_folders_holding_sources(sample, tmp_path):
    for path in ('pkg/a.py', 'tools/train.py', 'tools/dev/x.py',
                 'tools/run.sh', 'tests/t.py', 'README.md', 'mutants/m.py'):
        (tmp_path / path).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / path).write_text('')
    assert sample.outside(str(tmp_path), ['pkg/', 'tools/train.py']) == [
        'README.md', 'tests', 'tools/dev', 'tools/run.sh'
    ]


def test_module_names_follow_the_path(site, tmp_path):
    root = str(tmp_path)
    assert site.dotted_name(str(tmp_path / 'tools' / 'train.py'),
                            root) == 'tools.train'
    assert site.dotted_name(str(tmp_path / 'pkg' / '__init__.py'),
                            root) == 'pkg'
    assert site.dotted_name(str(tmp_path.parent / 'other.py'), root) is None
