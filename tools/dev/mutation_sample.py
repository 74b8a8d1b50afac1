"""Mutation score of a uniform random sample of mutmut's mutants.

A full mutmut run is thousands of mutants; this draws a fixed-seed uniform
sample of them, runs only those and prints the counts and the score with a
95% Wilson interval. Mutants listed as equivalent in ``docs/testing.md`` are
left out of the score.

    taskset -c 1 env OMP_NUM_THREADS=1 \\
        .venv/bin/python tools/dev/mutation_sample.py --size 200 --seed SEED

``--scope package`` (default) mutates what ``setup.cfg [mutmut]`` names, the
whole package and the library code under ``tools/``, against the default
test suite; ``--scope models`` is the earlier measurement, the model code
against a fast test selection. ``--paths`` and ``--tests`` replace the
scope's source paths or test selection.

It works in a copy of the tree (``--work``, a new temporary folder unless
given; give the folder of an earlier run to reuse its mutants and test
statistics, with ``--refresh`` to bring in changed tests; ``--commit REV``
copies a commit instead of the working tree). Processes that
tests start are followed with ``tools/dev/mutmut_site`` (see there).
``--list`` only prints the sample; ``--only-survivors`` reruns the mutants of
the sample that were not killed in ``--work``; ``--all`` runs every mutant.
The counts are also written to ``WORK/mutation_sample.json``.
"""
import argparse
import configparser
import glob
import json
import math
import os
import os.path as osp
import random
import re
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter, defaultdict
from typing import Dict, Iterable, List, Optional, Sequence, Set

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
EQUIVALENT_DOC = osp.join(REPO, 'docs', 'testing.md')
SITE = osp.join('tools', 'dev', 'mutmut_site')
HITS = 'mutmut-subprocess-hits.jsonl'
ADDED = 'mutmut-subprocess-tests.json'

# the earlier measurement: model code against the fast selection
MODELS_SCOPE = dict(
    source_paths=['mrovseg_mmseg/models/'],
    do_not_mutate=['mrovseg_mmseg/models/text_encoders/templates.py'],
    pytest_add_cli_args_test_selection=[
        'tests/test_models/',
        'tests/test_datasets/test_loading.py',
        'tests/test_tools/test_error_locations.py::'
        'test_weights_message_names_the_hugging_face_cache',
        'tests/test_tools/test_error_locations.py::'
        'test_weights_message_names_open_clips_download_folder',
        'tests/test_tools/test_error_locations.py::'
        'test_weights_message_names_the_quick_gelu_architecture',
        'tests/test_apis/test_inferencer.py::'
        'test_banded_scores_equal_full_resolution_scores',
    ])
SCOPES = dict(package={}, models=MODELS_SCOPE)

# mutmut's exit codes (mutmut/stats.py) read by pytest's own meaning
TIMEOUT_CODES = {36, 24, -24, 152, 255}


def status_of(code: Optional[int]) -> str:
    """One mutant's verdict from the exit code mutmut stored.

    Only a failing test (pytest exit 1) kills a mutant; pytest's other
    failures (2 interrupted or collection error, 3 internal error, 4 usage
    error, 5 no test collected) are errors, which mutmut itself would count
    as killed (3) or interrupted (2).
    """
    if code is None:
        return 'not checked'
    if code == 1:
        return 'killed'
    if code == 0:
        return 'survived'
    if code in TIMEOUT_CODES:
        return 'timeout'
    if code == 33:
        return 'no tests'
    if code in (2, 3, 4, 5):
        return f'error (pytest exit {code})'
    return f'crashed (exit {code})'


KILLED = ('killed', 'timeout')


def copy_tree(work: str, commit: Optional[str] = None) -> None:
    """The files of ``commit``, or else the working tree as tracked by git
    plus untracked, unignored files."""
    if commit:
        archive = subprocess.run(['git', 'archive', '--format=tar', commit],
                                 cwd=REPO, check=True, capture_output=True)
        subprocess.run(['tar', '-x', '-C', work], input=archive.stdout,
                       check=True)
        return
    files = subprocess.run(
        ['git', 'ls-files', '-z', '--cached', '--others',
         '--exclude-standard'],
        cwd=REPO, check=True, capture_output=True).stdout.split(b'\0')
    for name in filter(None, files):
        source = osp.join(REPO, name.decode())
        if not osp.isfile(source):
            continue
        target = osp.join(work, name.decode())
        os.makedirs(osp.dirname(target), exist_ok=True)
        with open(source, 'rb') as src, open(target, 'wb') as dst:
            dst.write(src.read())


def outside(work: str, sources: Sequence[str]) -> List[str]:
    """The files and folders of the copy that hold no source path.

    mutmut copies these into ``mutants/`` on every run (``also_copy``);
    naming a folder that holds sources would overwrite their mutants.
    """
    sources = [path.rstrip('/') for path in sources]
    found = []

    def visit(folder: str) -> None:
        for name in sorted(os.listdir(osp.join(work, folder))):
            path = osp.join(folder, name) if folder else name
            if path == 'mutants' or path in sources:
                continue
            if any(source.startswith(path + '/') for source in sources):
                visit(path)
            else:
                found.append(path)

    visit('')
    return found


def write_config(work: str, settings: Dict[str, List[str]]) -> None:
    """The copy's ``setup.cfg [mutmut]``: this tree's, with ``settings``.

    The section and ``tools/dev/mutmut_site`` come from the tree this script
    runs from, also when the code under test is an earlier commit.
    """
    parser = configparser.ConfigParser(interpolation=None)
    parser.read(osp.join(REPO, 'setup.cfg'), encoding='utf-8')
    section = dict(parser['mutmut'])
    section.update({key: '\n' + '\n'.join(values)
                    for key, values in settings.items()})
    sources = section['source_paths'].split()
    section['also_copy'] = '\n' + '\n'.join(outside(work, sources))
    path = osp.join(work, 'setup.cfg')
    parser = configparser.ConfigParser(interpolation=None)
    parser.read(path, encoding='utf-8')
    parser.remove_section('mutmut')
    parser.read_dict(dict(mutmut=section))
    with open(path, 'w', encoding='utf-8') as handle:
        parser.write(handle)
    os.makedirs(osp.join(work, SITE), exist_ok=True)
    for name in os.listdir(osp.join(REPO, SITE)):
        if name.endswith('.py'):
            with open(osp.join(REPO, SITE, name), 'rb') as src, open(
                    osp.join(work, SITE, name), 'wb') as dst:
                dst.write(src.read())


def mutmut_env(work: str) -> Dict[str, str]:
    env = dict(os.environ)
    env['PYTHONPATH'] = os.pathsep.join(
        filter(None, [osp.join(work, SITE), env.get('PYTHONPATH')]))
    env['MROVSEG_MUTMUT_ROOT'] = osp.join(work, 'mutants')
    return env


def mutmut_run(work: str, names: Sequence[str], **kwargs):
    return subprocess.run(
        [sys.executable, '-m', 'mutmut', 'run', '--max-children', '1',
         *names], cwd=work, env=mutmut_env(work), text=True, **kwargs)


def generate(work: str) -> None:
    """Write mutants/ and the test statistics without testing any mutant.

    A run restricted to a pattern that names no mutant generates the mutants,
    records which test calls which function and stops there.
    """
    result = mutmut_run(work, ['no.such.module.x_none*'],
                        stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    if not osp.exists(osp.join(work, 'mutants', 'mutmut-stats.json')):
        print(result.stdout[-5000:])
        raise RuntimeError('mutmut did not generate the mutants')
    for line in result.stdout.splitlines():
        if 'files mutated' in line:
            print('mutant generation:', line.strip().split('\r')[-1])


def merge_subprocess_hits(mutants: str) -> Dict[str, Set[str]]:
    """Add the calls made in processes that tests started to mutmut's stats.

    Returns, per function, the tests added this way (over all merges).
    """
    stats_path = osp.join(mutants, 'mutmut-stats.json')
    added_path = osp.join(mutants, ADDED)
    with open(stats_path, encoding='utf-8') as handle:
        stats = json.load(handle)
    added = defaultdict(set)
    if osp.exists(added_path):
        with open(added_path, encoding='utf-8') as handle:
            for name, tests in json.load(handle).items():
                added[name].update(tests)
    known_tests = set(stats['duration_by_test'])
    tests_of = stats['tests_by_mangled_function_name']
    if osp.exists(osp.join(mutants, HITS)):
        with open(osp.join(mutants, HITS), encoding='utf-8') as handle:
            for line in handle:
                hit = json.loads(line)
                test, name = hit['test'], hit['function']
                if test not in known_tests:
                    continue
                tests = tests_of.setdefault(name, [])
                if test not in tests:
                    tests.append(test)
                    added[name].add(test)
    with open(stats_path, 'w', encoding='utf-8') as handle:
        json.dump(stats, handle, indent=1)
    with open(added_path, 'w', encoding='utf-8') as handle:
        json.dump({k: sorted(v) for k, v in added.items()}, handle, indent=1)
    return added


def subprocess_only(mutants: str) -> Set[str]:
    """Functions that only tests' child processes call."""
    with open(osp.join(mutants, 'mutmut-stats.json'), encoding='utf-8') as f:
        tests_of = json.load(f)['tests_by_mangled_function_name']
    path = osp.join(mutants, ADDED)
    if not osp.exists(path):
        return set()
    with open(path, encoding='utf-8') as handle:
        added = json.load(handle)
    return {name for name, tests in tests_of.items()
            if tests and set(tests) <= set(added.get(name, ()))}


def read_meta(mutants: str) -> Dict[str, dict]:
    """Mutant name -> its exit code and duration, from mutmut's .meta files."""
    found = {}
    for path in glob.glob(osp.join(mutants, '**', '*.py.meta'),
                          recursive=True):
        with open(path, encoding='utf-8') as handle:
            meta = json.load(handle)
        durations = meta.get('durations_by_key', {})
        source = osp.relpath(path, mutants)[:-len('.meta')]
        for name, code in meta['exit_code_by_key'].items():
            found[name] = dict(code=code, duration=durations.get(name),
                               path=source)
    return found


def equivalent_mutants(path: str = EQUIVALENT_DOC) -> Dict[str, str]:
    """Table rows ``| `name` | reason |`` of docs/testing.md."""
    found = {}
    if not osp.exists(path):
        return found
    with open(path, encoding='utf-8') as handle:
        for line in handle:
            match = re.match(r'\|\s*`([^`]+__mutmut_\d+)`\s*\|(.*)\|', line)
            if match:
                found[match.group(1)] = match.group(2).strip()
    return found


def wilson(successes: int, trials: int, z: float = 1.96):
    if trials == 0:
        return 0.0, 1.0
    p = successes / trials
    centre = p + z * z / (2 * trials)
    margin = z * math.sqrt(p * (1 - p) / trials + z * z / (4 * trials**2))
    denominator = 1 + z * z / trials
    return (centre - margin) / denominator, (centre + margin) / denominator


def draw(names: Iterable[str], size: int, seed: int) -> List[str]:
    population = sorted(names)
    if size >= len(population):
        return population
    return sorted(random.Random(seed).sample(population, size))


def area(path: str) -> str:
    """The subpackage or tools folder of a source file (or the file)."""
    return '/'.join(path.split('/')[:2])


def function_of(name: str) -> str:
    return name.partition('__mutmut_')[0]


def report(sample: List[str], meta: Dict[str, dict],
           equivalent: Dict[str, str], only_child: Set[str]) -> dict:
    status = {name: status_of(meta[name]['code']) for name in sample}
    counts = Counter(status.values())
    excluded = [name for name in sample if name in equivalent]
    scored = [name for name in sample if name not in equivalent]
    killed = sum(status[name] in KILLED for name in scored)
    low, high = wilson(killed, len(scored))
    survivors = sorted(name for name in scored if status[name] not in KILLED)
    child = sorted(n for n in sample if function_of(n) in only_child)
    print(f'population {len(meta)} mutants, sample {len(sample)}')
    population = Counter(area(m['path']) for m in meta.values())
    drawn = Counter(area(meta[name]['path']) for name in sample)
    for key, count in sorted(population.items()):
        print(f'  {key:>32}: {count:5d} mutants, {drawn[key]:3d} sampled')
    for key in sorted(counts):
        print(f'  {key:>24}: {counts[key]}')
    print(f'  equivalent (docs/testing.md): {len(excluded)}')
    print(f'  reached only by tests\' child processes: {len(child)} '
          f'({sum(status[n] in KILLED for n in child)} killed)')
    score = killed / len(scored) if scored else 0.0
    print(f'score {killed}/{len(scored)} = {score:.1%} of non-equivalent '
          f'mutants killed (timeouts count as killed, errors do not); 95% '
          f'Wilson interval {low:.1%} - {high:.1%}')
    for name in survivors:
        print(f'  not killed ({status[name]}): {name}')
    durations = [meta[n]['duration'] for n in sample
                 if meta[n]['duration'] is not None]
    if durations:
        print(f'time per tested mutant: median '
              f'{statistics.median(durations):.1f} s, mean '
              f'{statistics.mean(durations):.1f} s, max '
              f'{max(durations):.1f} s ({len(durations)} tested)')
    return dict(
        population=len(meta), sample=sample, counts=dict(counts),
        equivalent=excluded, killed=killed, scored=len(scored), score=score,
        interval=[low, high], survivors=survivors,
        status={name: status[name] for name in sample},
        child_process_only=child)


def prepare(work: str, settings: Dict[str, List[str]], refresh: bool,
            commit: Optional[str]) -> None:
    if osp.isdir(osp.join(work, 'mutants')) and not refresh:
        return
    os.makedirs(work, exist_ok=True)
    copy_tree(work, commit)
    write_config(work, settings)
    start = time.time()
    generate(work)
    merge_subprocess_hits(osp.join(work, 'mutants'))
    print(f'mutants and test statistics ready in {time.time() - start:.0f} s',
          flush=True)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--size', type=int, default=200)
    parser.add_argument('--seed', type=int,
                        help='seed of the draw (required unless --all); '
                        'state it with the score')
    parser.add_argument('--scope', choices=sorted(SCOPES), default='package')
    parser.add_argument('--paths', nargs='+', metavar='PATH',
                        help='source paths to mutate instead of the scope\'s')
    parser.add_argument('--tests', nargs='+', metavar='TEST',
                        help='test selection instead of the scope\'s')
    parser.add_argument('--work', help='folder of the tree copy to run in')
    parser.add_argument('--refresh', action='store_true',
                        help='copy the tree into --work again (new tests)')
    parser.add_argument('--commit', metavar='REV',
                        help='copy this commit instead of the working tree')
    parser.add_argument('--list', action='store_true',
                        help='print the sample and stop')
    parser.add_argument('--all', action='store_true',
                        help='run every mutant instead of a sample')
    parser.add_argument('--only-survivors', action='store_true',
                        help='rerun only the sampled mutants that are not '
                        'killed in --work')
    args = parser.parse_args()
    if args.seed is None and not args.all:
        parser.error('--seed is required to draw a sample')

    settings = dict(SCOPES[args.scope])
    if args.paths:
        settings['source_paths'] = args.paths
    if args.tests:
        settings['pytest_add_cli_args_test_selection'] = args.tests
    work = osp.realpath(
        args.work or tempfile.mkdtemp(prefix='mrovseg_mutation_sample.'))
    mutants = osp.join(work, 'mutants')
    commit = args.commit and subprocess.run(
        ['git', 'rev-parse', '--verify', args.commit + '^{commit}'],
        cwd=REPO, check=True, capture_output=True, text=True).stdout.strip()
    prepare(work, settings, args.refresh, commit)
    meta = read_meta(mutants)
    sample = sorted(meta) if args.all else draw(meta, args.size, args.seed)
    if args.list:
        print('\n'.join(sample))
        return 0
    run = sample
    if args.only_survivors:
        run = [n for n in sample if status_of(meta[n]['code']) not in KILLED]
    start = time.time()
    if run and mutmut_run(work, run).returncode != 0:
        print(f'mutmut stopped (see above); no score. Work folder: {work}')
        return 1
    print(f'{len(run)} mutants run in {time.time() - start:.0f} s')
    result = report(sample, read_meta(mutants), equivalent_mutants(),
                    subprocess_only(mutants))
    result.update(seed=args.seed, scope=args.scope, settings=settings,
                  commit=commit or 'working tree', work=work)
    with open(osp.join(work, 'mutation_sample.json'), 'w') as handle:
        json.dump(result, handle, indent=1)
    print(f'ran in {work}; show a mutant with: '
          f'(cd {work} && {sys.executable} -m mutmut show NAME)')
    return 0


if __name__ == '__main__':
    sys.exit(main())
