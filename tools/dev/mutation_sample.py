"""Mutation score of a uniform random sample of mutmut's mutants.

A full mutmut run over the model code is thousands of mutants; this draws a
fixed-seed uniform sample of them (by default from ``mrovseg_mmseg/models/``),
runs only those against the fast test selection of ``setup.cfg [mutmut]``,
and prints the counts and the score with a 95% Wilson interval. Mutants
listed as equivalent in ``docs/testing.md`` are left out of the score.

    taskset -c 1 env OMP_NUM_THREADS=1 \\
        .venv/bin/python tools/dev/mutation_sample.py --size 200 --seed 15

It works in a copy of the tree (``--work``, a new temporary folder unless
given; give the folder of an earlier run to reuse its mutants and test
statistics, with ``--refresh`` to bring in changed tests). ``--list`` only
prints the sample; ``--only-survivors`` reruns the mutants of the sample
that survived in ``--work``. The counts are also written to
``WORK/mutation_sample.json``.
"""
import argparse
import json
import math
import os
import os.path as osp
import random
import re
import subprocess
import sys
import tempfile
from collections import Counter
from typing import Dict, List

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
EQUIVALENT_DOC = osp.join(REPO, 'docs', 'testing.md')
KILLED = ('killed', 'timeout')


def copy_tree(work: str) -> None:
    """The tree as tracked by git plus untracked, unignored files."""
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


def mutmut(work: str, *args: str, capture: bool = False) -> str:
    command = [sys.executable, '-m', 'mutmut', *args]
    result = subprocess.run(
        command, cwd=work, text=True,
        stdout=subprocess.PIPE if capture else None)
    if capture and result.returncode != 0:
        raise RuntimeError(f'{" ".join(command)} exited {result.returncode}')
    return result.stdout if capture else ''


def statuses(work: str) -> Dict[str, str]:
    """Mutant name -> mutmut status ('not checked' before a run)."""
    found = {}
    for line in mutmut(work, 'results', '--all', 'true',
                       capture=True).splitlines():
        name, sep, status = line.strip().rpartition(': ')
        if sep and '__mutmut_' in name:
            found[name] = status
    return found


def generate(work: str) -> None:
    """Write mutants/ and the test statistics without testing any mutant.

    A run restricted to a pattern that names no mutant generates the mutants,
    records which test calls which function and stops there.
    """
    result = subprocess.run(
        [sys.executable, '-m', 'mutmut', 'run', '--max-children', '1',
         'no.such.module.x_none*'],
        cwd=work, text=True, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    if not osp.exists(osp.join(work, 'mutants', 'mutmut-stats.json')):
        print(result.stdout[-5000:])
        raise RuntimeError('mutmut did not generate the mutants')


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


def draw(names: List[str], prefix: str, size: int, seed: int) -> List[str]:
    population = sorted(name for name in names if name.startswith(prefix))
    if size >= len(population):
        return population
    return sorted(random.Random(seed).sample(population, size))


def report(sample: List[str], status: Dict[str, str],
           equivalent: Dict[str, str], population: int) -> dict:
    counts = Counter(status.get(name, 'missing') for name in sample)
    excluded = [name for name in sample if name in equivalent]
    scored = [name for name in sample if name not in equivalent]
    killed = sum(status.get(name) in KILLED for name in scored)
    low, high = wilson(killed, len(scored))
    survivors = sorted(
        name for name in scored if status.get(name) not in KILLED)
    print(f'population {population} mutants, sample {len(sample)}')
    for key in sorted(counts):
        print(f'  {key:>12}: {counts[key]}')
    print(f'  equivalent (docs/testing.md): {len(excluded)}')
    score = killed / len(scored) if scored else 0.0
    print(f'score {killed}/{len(scored)} = {score:.1%} of non-equivalent '
          f'mutants killed (timeouts count as killed); 95% Wilson interval '
          f'{low:.1%} - {high:.1%}')
    for name in survivors:
        print(f'  not killed ({status.get(name)}): {name}')
    return dict(
        population=population, sample=sample, counts=dict(counts),
        equivalent=excluded, killed=killed, scored=len(scored), score=score,
        interval=[low, high], survivors=survivors)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--size', type=int, default=200)
    parser.add_argument('--seed', type=int, default=15)
    parser.add_argument('--prefix', default='mrovseg_mmseg.models.',
                        help='module prefix of the mutants to sample from')
    parser.add_argument('--work', help='folder of the tree copy to run in')
    parser.add_argument('--refresh', action='store_true',
                        help='copy the tree into --work again (new tests)')
    parser.add_argument('--list', action='store_true',
                        help='print the sample and stop')
    parser.add_argument('--only-survivors', action='store_true',
                        help='rerun only the sampled mutants that are not '
                        'killed in --work')
    args = parser.parse_args()

    work = args.work or tempfile.mkdtemp(prefix='mrovseg_mutation_sample.')
    if not osp.isdir(osp.join(work, 'mutants')):
        os.makedirs(work, exist_ok=True)
        copy_tree(work)
        generate(work)
    elif args.refresh:
        copy_tree(work)
    status = statuses(work)
    population = sum(name.startswith(args.prefix) for name in status)
    sample = draw(list(status), args.prefix, args.size, args.seed)
    if args.list:
        print('\n'.join(sample))
        return 0
    run = sample
    if args.only_survivors:
        run = [name for name in sample if status.get(name) not in KILLED]
    if run:
        mutmut(work, 'run', '--max-children', '1', *run)
    result = report(sample, statuses(work), equivalent_mutants(), population)
    result.update(seed=args.seed, prefix=args.prefix, work=work)
    with open(osp.join(work, 'mutation_sample.json'), 'w') as handle:
        json.dump(result, handle, indent=1)
    print(f'ran in {work}; show a mutant with: '
          f'(cd {work} && {sys.executable} -m mutmut show NAME)')
    return 0


if __name__ == '__main__':
    sys.exit(main())
