"""Starting the web demo: defaults, the demo checkpoint, missing pieces."""
import os
import sys
import types

import pytest
import torch

from mrovseg_mmseg.apis import OVSegInferencer
from mrovseg_mmseg.webui import cli

CONFIG = os.path.join(
    os.path.dirname(__file__), '..', '..', 'configs',
    'mrovseg_tiny_shapes64.py')


def test_defaults_bind_to_loopback():
    args = cli.parse_args([])
    assert args.host == '127.0.0.1' and args.port == 7860
    assert args.config is None and args.checkpoint is None


def test_demo_checkpoint_is_the_last_one_trained(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    # the repository's own work_dirs/demo (left by `bash tools/run_demo.sh`)
    # must not answer for the working folder's
    monkeypatch.setattr(cli, 'REPO', tmp_path / 'repository')
    with pytest.raises(FileNotFoundError,
                       match='no demo model: .*`bash tools/run_demo.sh`'):
        cli.demo_checkpoint('work_dirs/demo')
    (tmp_path / 'work_dirs' / 'demo').mkdir(parents=True)
    (tmp_path / 'work_dirs' / 'demo' / 'iter_600.pth').write_bytes(b'')
    (tmp_path / 'work_dirs' / 'demo' /
     'last_checkpoint').write_text('work_dirs/demo/iter_600.pth\n')
    assert cli.demo_checkpoint('work_dirs/demo') == \
        'work_dirs/demo/iter_600.pth'
    absolute = str(tmp_path / 'work_dirs' / 'demo' / 'iter_600.pth')
    (tmp_path / 'work_dirs' / 'demo' / 'last_checkpoint').write_text(absolute)
    assert cli.demo_checkpoint('work_dirs/demo') == absolute


def test_config_is_found_from_another_folder(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    found = cli.find_file(cli.DEMO_CONFIG)
    assert found == str(cli.REPO / cli.DEMO_CONFIG)
    assert cli.find_file('missing.py') == 'missing.py'


def test_paths_are_shown_relative_to_the_folder_or_repository(
        tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert cli.shown_path(str(tmp_path / 'w' / 'a.pth')) == 'w/a.pth'
    assert cli.shown_path('w/a.pth') == 'w/a.pth'
    assert cli.shown_path(str(cli.REPO / cli.DEMO_CONFIG)) == cli.DEMO_CONFIG
    assert cli.shown_path('/elsewhere/a.pth') == '/elsewhere/a.pth'


def test_missing_gradio_is_named_with_the_install_command(
        monkeypatch, capsys):
    monkeypatch.delitem(sys.modules, 'mrovseg_mmseg.webui.app', raising=False)
    monkeypatch.setitem(sys.modules, 'gradio', None)  # import fails
    monkeypatch.setenv('GRADIO_ANALYTICS_ENABLED', 'False')  # main sets it
    assert cli.main([]) == 2
    err = capsys.readouterr().err
    assert 'the web demo needs gradio' in err
    assert "pip install -e '.[webui]'" in err


class FakeApp(types.ModuleType):
    """Stands in for the gradio page: records what main() passes."""

    def __init__(self):
        super().__init__('mrovseg_mmseg.webui.app')
        self.calls = {}

    def build_app(self, segmenter, **kwargs):
        self.calls['build_app'] = dict(kwargs, segmenter=segmenter)
        self.calls['examples_exist'] = all(
            os.path.isfile(path) for path in kwargs['examples'])
        return 'app'

    def launch(self, app, **kwargs):
        self.calls['launch'] = dict(kwargs, app=app)
        if kwargs['port'] == 1:
            raise OSError('Cannot find empty port in range: 1-1')


def test_missing_demo_model_stops_with_the_training_command(
        tmp_path, monkeypatch, capsys):
    fake = FakeApp()
    monkeypatch.setitem(sys.modules, 'mrovseg_mmseg.webui.app', fake)
    monkeypatch.setenv('GRADIO_ANALYTICS_ENABLED', 'False')  # main sets it
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(cli, 'REPO', tmp_path)
    assert cli.main([]) == 2
    assert 'bash tools/run_demo.sh' in capsys.readouterr().err
    assert not fake.calls


def test_page_is_served_with_the_checkpoint_vocabulary(
        tmp_path, monkeypatch, capsys):
    source = OVSegInferencer(CONFIG, device='cpu')
    torch.save(
        dict(
            state_dict=source.model.state_dict(),
            meta=dict(dataset_meta=dict(classes=('sky', 'sofa, couch')))),
        tmp_path / 'model.pth')
    fake = FakeApp()
    monkeypatch.setitem(sys.modules, 'mrovseg_mmseg.webui.app', fake)
    monkeypatch.setenv('GRADIO_ANALYTICS_ENABLED', 'False')  # main sets it
    assert cli.main([
        '--config', CONFIG, '--checkpoint',
        str(tmp_path / 'model.pth'), '--port', '8123', '--device', 'cpu'
    ]) == 0
    built, launched = fake.calls['build_app'], fake.calls['launch']
    assert built['initial_classes'] == ('sky', 'sofa, couch')
    assert len(built['examples']) == 3 and fake.calls['examples_exist']
    assert built['model_note'] == (f'Model: `{cli.DEMO_CONFIG}`, weights '
                                   f'`{tmp_path / "model.pth"}`, on cpu.')
    assert launched == dict(
        app='app',
        host='127.0.0.1',
        port=8123,
        queue_size=16,
        max_file_size='50mb')
    assert not os.path.exists(built['segmenter'].out_dir)  # cleaned up

    assert cli.main([
        '--config', CONFIG, '--checkpoint',
        str(tmp_path / 'model.pth'), '--port', '1', '--device', 'cpu'
    ]) == 2
    assert 'error: Cannot find empty port' in capsys.readouterr().err
    assert not os.path.exists(fake.calls['build_app']['segmenter'].out_dir)

    words = tmp_path / 'words.txt'
    words.write_text('sea\nboat, ship  # synonyms\n')
    assert cli.main([
        '--config', CONFIG, '--checkpoint',
        str(tmp_path / 'model.pth'), '--classes-file',
        str(words), '--device', 'cpu'
    ]) == 0
    assert fake.calls['build_app']['initial_classes'] == ('sea', 'boat, ship')
