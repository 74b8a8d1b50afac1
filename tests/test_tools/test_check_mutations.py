"""tools/dev/check_mutations.py: only failing tests kill a mutation, and a
broken baseline stops the run."""
import importlib.util
import os.path as osp
import sys

import pytest

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))


@pytest.fixture(scope='module')
def tool():
    spec = importlib.util.spec_from_file_location(
        'check_mutations', osp.join(REPO, 'tools', 'dev',
                                    'check_mutations.py'))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def write_project(root, body):
    (root / 'pkg.py').write_text('def value():\n    return 1\n')
    (root / 'test_pkg.py').write_text('from pkg import value\n\n\n' + body)


@pytest.mark.parametrize('body,new,expected', [
    ('def test_value():\n    assert value() == 1\n', 'return 2', 'killed'),
    ('def test_value():\n    assert value() > 0\n', 'return 2', 'survived'),
    # the mutant does not import: collection error, not a kill
    ('def test_value():\n    assert value() == 1\n', 'return (', 'error'),
])
def test_verdicts(tool, tmp_path, body, new, expected):
    write_project(tmp_path, body)
    mutation = tool.Mutation('m', 'pkg.py', 'return 1', new,
                             ('test_pkg.py', ))
    assert tool.run(mutation, str(tmp_path), sys.executable) == expected
    assert (tmp_path / 'pkg.py').read_text().endswith('return 1\n')


def test_no_test_collected_is_an_error(tool):
    assert tool.verdict(5) == 'error'
    assert tool.verdict(4) == 'error'


def test_failing_baseline_stops_the_run(tool, tmp_path):
    write_project(tmp_path, 'def test_value():\n    assert value() == 3\n')
    with pytest.raises(RuntimeError, match='unmutated tree'):
        tool.check_baseline(str(tmp_path), sys.executable, ['test_pkg.py'])
    write_project(tmp_path, 'def test_value():\n    assert value() == 1\n')
    tool.check_baseline(str(tmp_path), sys.executable, ['test_pkg.py'])


def test_main_checks_the_baseline_before_mutating(tool, tmp_path,
                                                  monkeypatch):
    project = tmp_path / 'project'
    project.mkdir()
    write_project(project, 'def test_value():\n    assert value() == 3\n')
    monkeypatch.setattr(tool, 'REPO', str(project))
    monkeypatch.setattr(tool, 'MUTATIONS', [
        tool.Mutation('m', 'pkg.py', 'return 1', 'return 3',
                      ('test_pkg.py', ))
    ])
    monkeypatch.setattr(sys, 'argv', ['check_mutations.py'])
    with pytest.raises(RuntimeError, match='unmutated tree'):
        tool.main()
