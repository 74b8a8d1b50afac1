"""Every shell command in README.md's ```bash blocks, run in a new shell.

The commands are read out of README.md and run with subprocess in an
environment where the project's virtual environment is NOT activated (its
bin folder is taken off PATH, VIRTUAL_ENV and PYTHON are unset), so the
scripts have to find it themselves, and the README has to say where a user
must activate it. Each README command must be listed in ``COMMANDS`` below
with the way it is run: as printed, with substitutions written out here (the
tiny config, a checkpoint the demo command trains, temporary folders), or up
to the first error about a missing GPU, weights or data, whose message must
say what to do. A command that is not listed fails the test, so the README
cannot grow a command nobody checks.

``source .venv/bin/activate`` is carried forward: the ``python`` commands
after it in the README run in a shell that ran it first (the README says
once per shell); the commands before it, and every ``bash tools/...``
launcher, run without.
"""
import os
import re
import shlex
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
README = REPO / 'README.md'
VENV = REPO / '.venv'
TINY = 'configs/mrovseg_tiny_shapes64.py'
ACTIVATE = 'source .venv/bin/activate'


def readme_commands(text):
    """(line number, tokens) of each command in the ```bash blocks;
    backslash continuations joined, comments dropped."""
    commands = []
    for block in re.finditer(r'^```bash\n(.*?)^```', text, re.M | re.S):
        first = text.count('\n', 0, block.start(1)) + 1
        pending, start = '', None
        for number, line in enumerate(block.group(1).splitlines(), first):
            if start is None:
                start = number
            if line.rstrip().endswith('\\'):
                pending += line.rstrip()[:-1] + ' '
                continue
            tokens = shlex.split(pending + line, comments=True)
            pending, start_line, start = '', start, None
            if tokens:
                commands.append((start_line, tokens))
    return commands


def shell_join(tokens):
    """Quote tokens for bash, leaving ``NAME=`` of assignments unquoted."""
    out, leading = [], True
    for token in tokens:
        match = re.fullmatch(r'([A-Za-z_][A-Za-z0-9_]*)=(.*)', token, re.S)
        if leading and match:
            out.append(f'{match.group(1)}={shlex.quote(match.group(2))}')
            continue
        leading = False
        out.append(shlex.quote(token))
    return ' '.join(out)


def replace(tokens, old, new):
    """Substitute one token (or the value of one NAME=value token)."""
    found = False
    result = []
    for token in tokens:
        if token == old:
            result.append(new)
            found = True
        elif token.endswith('=' + old):
            result.append(token[:-len(old)] + new)
            found = True
        else:
            result.append(token)
    assert found, f'{old!r} is no longer in the README command {tokens}'
    return result


def free_port():
    with socket.socket() as sock:
        sock.bind(('127.0.0.1', 0))
        return sock.getsockname()[1]


def tiny_options(data_root, iters=2):
    options = [f'train_cfg.max_iters={iters}', f'train_cfg.val_interval={iters}',
               f'default_hooks.checkpoint.interval={iters}',
               'default_hooks.logger.interval=1']
    for loader in ('train_dataloader', 'val_dataloader', 'test_dataloader'):
        options += [
            f'{loader}.dataset.data_root={data_root}',
            f'{loader}.dataset.num_train=8', f'{loader}.dataset.num_val=2',
            f'{loader}.num_workers=0', f'{loader}.persistent_workers=False'
        ]
    return options


class Shell:
    """Runs command lines in a new bash, without the venv activated."""

    def __init__(self, tmp):
        self.tmp = tmp
        bin_dir = os.path.realpath(VENV / 'bin')
        path = [p for p in os.environ.get('PATH', '').split(os.pathsep)
                if p and os.path.realpath(p) != bin_dir]
        env = {key: value for key, value in os.environ.items()
               if key not in ('VIRTUAL_ENV', 'PYTHON', 'PYTHONHOME',
                              'PYTHONPATH', 'MROVSEG_VENV', 'CONDA_PREFIX')}
        hf_home = tmp / 'hf_home'  # empty: CLIP weights are not cached
        env.update(PATH=os.pathsep.join(path), HF_HOME=str(hf_home),
                   HF_HUB_OFFLINE='1', OMP_NUM_THREADS='1',
                   PORT=str(free_port()), PYTHONDONTWRITEBYTECODE='1')
        env.pop('HF_HUB_CACHE', None)
        self.env = env
        self.hf_hub_cache = hf_home / 'hub'  # where open_clip looks

    def script(self, tokens, activated):
        # The README says the bash launchers need no activation: they are
        # always run without, so that they must find the environment.
        launcher = [t for t in tokens if not re.match(r'\w+=', t)][:1] == [
            'bash']
        prefix = f'{ACTIVATE} && ' if activated and not launcher else ''
        return prefix + shell_join(tokens)

    def run(self, tokens, activated, timeout=240):
        command = self.script(tokens, activated)
        result = subprocess.run(
            ['bash', '-c', command], cwd=REPO, env=self.env,
            capture_output=True, text=True, timeout=timeout)
        result.output = result.stdout + result.stderr
        result.command = command
        return result

    def popen(self, tokens, activated, log):
        with open(log, 'w') as file:
            return subprocess.Popen(
                ['bash', '-c', self.script(tokens, activated)], cwd=REPO,
                env=self.env, stdout=file, stderr=subprocess.STDOUT,
                start_new_session=True)


def ok(result, *expected):
    tail = result.output[-4000:]
    assert result.returncode == 0, f'{result.command}\n{tail}'
    for text in expected:
        assert text in result.output, f'{text!r} missing:\n{tail}'


def actionable_failure(result, *expected):
    """Stops (status != 0) at an error that holds every expected text, and
    not at a missing Python module."""
    tail = result.output[-6000:]
    assert result.returncode != 0, f'{result.command} succeeded:\n{tail}'
    assert 'No module named' not in result.output, tail
    for text in expected:
        assert text in result.output, f'{text!r} missing:\n{tail}'


# --- how each README command is run -------------------------------------

def run_demo(tokens, ctx):
    """Run as printed, with a work dir in tmp and a 2-iteration schedule on
    a small synthetic set (the options go to train.py and test.py)."""
    demo = ctx.demo()
    ok(demo, '[demo] done', 'mIoU', '[demo] prediction overlays')


def run_zero_shot_demo(tokens, ctx):
    """Run as printed with the work dir and the world in tmp and the
    script's size settings cut down (2 pretraining steps, 2 training
    iterations, one seed, the paper model only);
    tests/test_training/test_zero_shot_demo.py checks a longer run's
    results."""
    env = dict(SEEDS='0', VARIANTS='paper', ITERS='2', PRETRAIN_ITERS='2',
               PRETRAIN_POOL='64', DATA_ROOT=str(ctx.tmp / 'material_world'))
    result = ctx.shell.run(
        [f'{key}={value}' for key, value in env.items()] + tokens +
        [str(ctx.tmp / 'zero_shot')], activated=False)
    ok(result, '[pretrain_clip] saved', '[zero-shot demo] paper 0:  mIoU_seen',
       '| MROVSeg (pretrained tiny CLIP) | 1 |', '[zero-shot demo] overlays')


def run_resolution_claim(tokens, ctx):
    """Run as printed with the work dir and the world in tmp and the
    script's size settings cut down (2 pretraining steps, 2 training
    iterations, one seed of the paper model and of multi-grained attention
    off); the pre-registered run's results are in docs/resolution_claim.md."""
    env = dict(SEEDS='0', VARIANTS='paper global-attn', ITERS='2',
               PRETRAIN_ITERS='2', PRETRAIN_POOL='64',
               DATA_ROOT=str(ctx.tmp / 'twin_world'))
    result = ctx.shell.run(
        [f'{key}={value}' for key, value in env.items()] + tokens +
        [str(ctx.tmp / 'resolution_claim')], activated=False)
    ok(result, '[pretrain_clip] saved', '[resolution claim] paper 0:',
       'naming_detail_fine', '[resolution claim] done')


def run_tests(tokens, ctx):
    """The test command, on one small test file (the whole suite would run
    this test again), without pytest's cache folder in the repository."""
    ok(ctx.shell.run(tokens + ['tests/test_package.py', '-q', '-p',
                               'no:cacheprovider'], ctx.activated), 'passed')


def setup_env_other_torch(tokens, ctx):
    """Not run: it would replace the environment's torch by a CUDA 12.8
    build (gigabytes). Checked: the variables it sets are setup_env.sh's."""
    script = (REPO / 'tools' / 'setup_env.sh').read_text()
    for token in tokens[:-2]:
        name = token.split('=', 1)[0]
        assert re.search(r'\$\{?' + name, script), name
    assert tokens[-2:] == ['bash', 'tools/setup_env.sh']


def import_check(tokens, ctx):
    """As printed."""
    ok(ctx.shell.run(tokens, ctx.activated))


def activate(tokens, ctx):
    """As printed; python is then the environment's, and so for the
    commands that follow in the README."""
    assert shell_join(tokens) == ACTIVATE
    result = ctx.shell.run(
        ['python', '-c', 'import sys, torch; print(sys.prefix)'],
        activated=True)
    ok(result, str(VENV))
    ctx.activated = True


def dist_train(tokens, ctx):
    """The paper's config with 1 process instead of 8 (CPU, gloo) and a work
    dir in tmp: it must get past the environment (no 'No module named
    torch') and stop at the CLIP weights that cannot be downloaded, saying
    how to provide them and where open_clip looks for them."""
    tokens = replace(tokens, '8', '1') + ['--work-dir', str(ctx.tmp / 'vitb')]
    result = ctx.shell.run(tokens, ctx.activated, timeout=300)
    actionable_failure(
        result, 'Could not obtain the CLIP weights ViT-B-16/openai',
        'pretrained="/path/to/checkpoint"', "model_name='ViT-B-16-quickgelu'",
        str(ctx.shell.hf_hub_cache /
            'models--timm--vit_base_patch16_clip_224.openai'))


def tool_test(tokens, ctx):
    """With the checkpoint's path under tmp (the repository's work_dirs/ may
    hold one), it stops at the checkpoint that has not been trained yet and
    says so (the same tool on the demo's checkpoint runs in the demo
    command)."""
    missing = str(ctx.tmp / tokens[-1])
    tokens = replace(tokens, tokens[-1], missing)
    actionable_failure(
        ctx.shell.run(tokens, ctx.activated), missing, 'does not exist',
        'train one first')


def infer_tool(tokens, ctx):
    """Inputs, checkpoint and output folder replaced by temporary ones."""
    import numpy as np
    from PIL import Image
    rng = np.random.default_rng(0)
    for name in ('photos/a.jpg', 'photos/b.png', 'scans/c.png', 'street.jpg'):
        path = ctx.tmp / 'infer_in' / name
        path.parent.mkdir(parents=True, exist_ok=True)
        Image.fromarray(rng.integers(0, 256, (40, 56, 3),
                                     dtype=np.uint8)).save(path)
    src = ctx.tmp / 'infer_in'
    out = ctx.tmp / 'infer_out'
    tokens = replace(tokens, 'photos/', f'{src}/photos/')
    tokens = replace(tokens, 'scans/*.png', f'{src}/scans/*.png')
    tokens = replace(tokens, 'street.jpg', f'{src}/street.jpg')
    tokens = replace(tokens, 'work_dirs/demo/iter_600.pth', ctx.checkpoint())
    tokens = replace(tokens, 'work_dirs/infer', str(out))
    ok(ctx.shell.run(tokens, ctx.activated), '4 of 4 inputs written')
    assert sorted(p.name for p in (out / 'labels').iterdir()) == [
        'a.png', 'b.png', 'c.png', 'street.png']


def pip_webui(tokens, ctx):
    """Not run as printed (it would change the environment): a dry run from
    the installed packages only, which succeeds when the extra is there."""
    assert (REPO / tokens[-1]).is_file()
    pytest.importorskip('gradio')
    tokens = tokens[:2] + ['--dry-run', '--no-index'] + tokens[2:]
    ok(ctx.shell.run(tokens, ctx.activated))


def webui(tokens, ctx):
    """The demo's tiny config and checkpoint on a free port: the page must
    answer, then the server is stopped."""
    pytest.importorskip('gradio')
    port = free_port()
    tokens = tokens + ['--config', TINY, '--checkpoint', ctx.checkpoint(),
                       '--port', str(port), '--device', 'cpu']
    log = ctx.tmp / 'webui.log'
    process = ctx.shell.popen(tokens, ctx.activated, log)
    try:
        deadline = time.time() + 150
        while True:
            assert process.poll() is None, log.read_text()[-4000:]
            try:
                with urllib.request.urlopen(f'http://127.0.0.1:{port}/',
                                            timeout=5) as page:
                    assert page.status == 200
                    break
            except OSError:
                assert time.time() < deadline, 'the web demo did not start'
                time.sleep(1)
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(timeout=30)


def webui_browser_test(tokens, ctx):
    """Collected only (the browser test itself is run by CI's slow tests),
    with the checkpoint and the screenshot replaced by temporary ones."""
    tokens = replace(tokens, 'work_dirs/demo/iter_600.pth', ctx.checkpoint())
    tokens = replace(tokens, 'docs/images/webui.png',
                     str(ctx.tmp / 'webui.png'))
    tokens = replace(tokens, 'docs/images/webui_zero_shot.png',
                     str(ctx.tmp / 'webui_zero_shot.png'))
    test_file = (REPO / tokens[-1]).read_text()
    for token in tokens:
        if re.match(r'[A-Z_]+=', token):
            assert token.split('=')[0] in test_file
    ok(ctx.shell.run(tokens + ['--collect-only', '-q'], ctx.activated),
       'test_browser.py')


def benchmark(tokens, ctx):
    """Not run (minutes of CPU and GBs of memory): the config exists and
    --help lists every option the README uses."""
    assert (REPO / tokens[2]).is_file()
    result = ctx.shell.run(tokens[:2] + ['--help'], ctx.activated)
    ok(result, *[token for token in tokens if token.startswith('--')])


# tokens of each README command (after shlex.split) -> how it is run
COMMANDS = {
    'bash tools/run_demo.sh': run_demo,
    'bash tools/run_tests.sh': run_tests,
    'bash tools/run_zero_shot_demo.sh': run_zero_shot_demo,
    'bash tools/run_resolution_claim.sh': run_resolution_claim,
    'MROVSEG_TORCH=torch==2.14.1 torchvision==0.29.1 MROVSEG_PIP_ARGS='
    '--index-url https://download.pytorch.org/whl/cu128 bash '
    'tools/setup_env.sh': setup_env_other_torch,
    '.venv/bin/python -c import mrovseg_mmseg, mmseg.models, mmcv.ops, '
    'open_clip, mmpretrain': import_check,
    ACTIVATE: activate,
    'bash tools/dist_train.sh configs/mrovseg_vitb_coco640.py 8': dist_train,
    'python tools/test.py configs/mrovseg_vitb_coco640_eval_ade847.py '
    'work_dirs/mrovseg_vitb_coco640/iter_60000.pth': tool_test,
    "python tools/infer.py photos/ scans/*.png street.jpg --config "
    "configs/mrovseg_tiny_shapes64.py --checkpoint work_dirs/demo/iter_600.pth"
    " --classes grass red disc sky sofa, couch --out-dir work_dirs/infer":
    infer_tool,
    '.venv/bin/pip install -r requirements/webui.txt': pip_webui,
    '.venv/bin/python tools/webui.py': webui,
    'MROVSEG_WEBUI_TEST_CHECKPOINT=work_dirs/demo/iter_600.pth '
    'MROVSEG_WEBUI_SCREENSHOT=docs/images/webui.png '
    'MROVSEG_WEBUI_ZERO_SHOT_WORK_DIR=work_dirs/zero_shot_demo '
    'MROVSEG_WEBUI_ZERO_SHOT_SCREENSHOT=docs/images/webui_zero_shot.png bash '
    'tools/run_tests.sh -m slow tests/test_webui/test_browser.py':
    webui_browser_test,
    'python tools/analysis_tools/benchmark.py '
    'configs/_base_/models/mrovseg_vit-b16.py --compare-san --sizes --text '
    '--repeats 3 --out results.json': benchmark,
}


class Context:

    def __init__(self, tmp):
        self.tmp = tmp
        self.shell = Shell(tmp)
        self.activated = False
        self._demo = None

    def demo(self):
        if self._demo is None:
            tokens = ['bash', 'tools/run_demo.sh', str(self.tmp / 'demo'),
                      '--cfg-options'] + tiny_options(self.tmp / 'shapes')
            self._demo = self.shell.run(tokens, activated=False)
        return self._demo

    def checkpoint(self):
        ok(self.demo())
        path = self.tmp / 'demo' / 'iter_2.pth'
        assert path.is_file()
        return str(path)


def test_readme_parsing():
    """Continuations, comments and quoting as bash reads them."""
    text = ('x\n```bash\n# c\nA=1 B="x y" \\\n  cmd \'a b\' \\\n'
            '    --o   # note\n\nother\n```\n```python\nno\n```\n')
    assert readme_commands(text) == [
        (4, ['A=1', 'B=x y', 'cmd', 'a b', '--o']), (8, ['other'])]
    assert shell_join(['A=x y', 'cmd', 'B=1']) == "A='x y' cmd B=1"


@pytest.mark.slow
def test_readme_commands_work_in_a_new_shell(tmp_path):
    if not (VENV / 'bin' / 'python').is_file():
        pytest.skip('the README commands use ./.venv (bash tools/setup_env.sh)')
    commands = readme_commands(README.read_text(encoding='utf-8'))
    unknown = [f'README.md:{line}: {" ".join(tokens)}'
               for line, tokens in commands if ' '.join(tokens) not in COMMANDS]
    assert not unknown, (
        'README commands this test does not run (add each to COMMANDS with '
        'the way to check it):\n' + '\n'.join(unknown))
    unused = set(COMMANDS) - {' '.join(tokens) for _, tokens in commands}
    assert not unused, f'no longer in the README: {sorted(unused)}'
    ctx = Context(tmp_path)
    timings = []
    for line, tokens in commands:
        start = time.time()
        COMMANDS[' '.join(tokens)](list(tokens), ctx)
        timings.append(f'{time.time() - start:6.1f} s  README.md:{line}')
        print(timings[-1], flush=True)
