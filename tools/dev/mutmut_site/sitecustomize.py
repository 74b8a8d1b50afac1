"""Make mutmut see code that tests load by file path or run as a script.

``tools/dev/mutation_sample.py`` puts this folder on ``PYTHONPATH`` and sets
``MROVSEG_MUTMUT_ROOT`` to the copy's ``mutants/`` folder; Python then imports
this module at start-up, in mutmut's own process and in every process a test
starts. Without it mutmut 3 misses two kinds of calls:

- A module loaded under another name (``spec_from_file_location(
  'benchmark_tool', ...)``, ``sys.path`` plus ``import zero_shot_table``, a
  script run as ``__main__``) gets functions whose ``__module__`` is that
  name, while mutmut names the mutants after the file's path
  (``tools.analysis_tools.benchmark``). Its trampolines then never switch
  the mutant on and its statistics file the calls under the wrong name.
  Here each mutated function gets the path's dotted name as ``__module__``.
- A process started by a test (``subprocess.run([python, 'tools/train.py',
  ...])``) imported the package through the editable install, that is the
  unmutated tree, and its calls were never counted. Here it imports from
  ``mutants/`` first, and during mutmut's statistics run it appends each
  function it calls, with the test that started it (pytest's
  ``PYTEST_CURRENT_TEST``), to ``mutants/mutmut-subprocess-hits.jsonl``;
  ``mutation_sample.py`` adds these to mutmut's statistics.
"""
import json
import os
import os.path as osp
import sys

ROOT_VARIABLE = 'MROVSEG_MUTMUT_ROOT'
HITS_FILE = 'mutmut-subprocess-hits.jsonl'


def dotted_name(filename: str, root: str):
    """``tools/train.py`` under ``root`` -> ``tools.train``; None outside."""
    relative = osp.relpath(osp.realpath(filename), root)
    if relative.startswith('..') or not relative.endswith('.py'):
        return None
    name = relative[:-len('.py')].replace(os.sep, '.')
    return name[:-len('.__init__')] if name.endswith('.__init__') else name


def install(root: str, in_subprocess: bool) -> None:
    try:
        from mutmut.mutation import trampoline
        from mutmut.utils.format_utils import get_module_from_key
    except ImportError:  # a Python without mutmut: nothing is mutated there
        return

    wrap = trampoline.wrap_in_trampoline
    record = trampoline.record_trampoline_hit
    renamed = {}

    def path_named(name):
        if name is None:
            return None
        module = get_module_from_key(name)
        if module in renamed:
            return renamed[module] + name[len(module):]
        return name

    def wrap_in_trampoline(mutants_dict, is_classmethod=False):
        decorate = wrap(mutants_dict, is_classmethod)

        def named_by_path(func):
            name = dotted_name(func.__code__.co_filename, root)
            if name and func.__module__ != name:
                renamed[func.__module__] = name
                func.__module__ = name
            return decorate(func)

        return named_by_path

    def record_in_process(name, caller=None):
        record(path_named(name), caller=path_named(caller))

    seen = set()

    def record_in_subprocess(name, caller=None):
        name = path_named(name)
        test = os.environ.get('PYTEST_CURRENT_TEST', '').rpartition(' (')[0]
        if not test or name in seen:
            return
        seen.add(name)
        line = json.dumps(dict(test=test, function=name)) + '\n'
        with open(osp.join(root, HITS_FILE), 'a', encoding='utf-8') as f:
            f.write(line)

    trampoline.wrap_in_trampoline = wrap_in_trampoline
    trampoline.record_trampoline_hit = (
        record_in_subprocess if in_subprocess else record_in_process)
    if in_subprocess:
        sys.path.insert(0, root)


def main() -> None:
    root = os.environ.get(ROOT_VARIABLE)
    if root:
        install(osp.realpath(root), 'MUTANT_UNDER_TEST' in os.environ)


main()
