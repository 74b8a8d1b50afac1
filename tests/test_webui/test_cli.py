"""Starting the web demo: defaults, the demo checkpoint, missing pieces."""
import html
import os
import sys
import types

import pytest
import torch
from mmengine.config import Config

from mrovseg_mmseg.apis import OVSegInferencer
from mrovseg_mmseg.datasets.material_world import (MATERIAL_CLASSES,
                                                   SEEN_CLASSES,
                                                   generate_material_world)
from mrovseg_mmseg.webui import cli
from mrovseg_mmseg.webui.page import class_text

CONFIG = os.path.join(
    os.path.dirname(__file__), '..', '..', 'configs',
    'mrovseg_tiny_shapes64.py')
ZERO_SHOT_CONFIG = os.path.abspath(
    os.path.join(
        os.path.dirname(__file__), '..', '..', 'configs', 'zero_shot_demo',
        'mrovseg_tiny_materials64.py'))


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
    assert built['model_note'] == (
        f'Model: `{cli.DEMO_CONFIG}`, weights `{tmp_path / "model.pth"}`, on '
        'cpu. Other models: the demos: `--demo zero-shot` or `--demo shapes`.')
    # a random CLIP, trained on the checkpoint's dataset classes
    assert built['knowledge_note'].startswith(
        'Segmentation training saw 2 names: `sky`, `sofa, couch`. **Only its '
        'training names mean anything:**')
    assert built['examples_label'] == 'Examples (synthetic shapes)'
    assert built['segmenter'].knowledge.train_classes == ('sky',
                                                          'sofa, couch')
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


def trained_run(root, seed, checkpoint=None):
    """A paper model run of tools/run_zero_shot_demo.sh under root."""
    run = root / 'work_dirs' / 'zero_shot_demo' / 'paper' / f'seed{seed}'
    run.mkdir(parents=True)
    path = run / 'iter_500.pth'
    if checkpoint is None:
        path.write_bytes(b'')
    else:
        os.link(checkpoint, path)
    (run / 'last_checkpoint').write_text(str(path))
    return str(path)


def test_zero_shot_checkpoint_is_the_paper_models_lowest_seed(
        tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(cli, 'REPO', tmp_path / 'repository')
    assert cli.zero_shot_checkpoint() is None
    ten = trained_run(tmp_path, 10)
    assert cli.zero_shot_checkpoint() == ten
    two = trained_run(tmp_path, 2)
    assert cli.zero_shot_checkpoint() == two  # 2 before 10
    os.remove(two)  # a record naming a missing file is passed over
    assert cli.zero_shot_checkpoint() == ten
    # as the script writes it with its default work dir: relative to the
    # repository, found from any folder
    (tmp_path / 'work_dirs/zero_shot_demo/paper/seed10/last_checkpoint'
     ).write_text('work_dirs/zero_shot_demo/paper/seed10/iter_500.pth\n')
    monkeypatch.setattr(cli, 'REPO', tmp_path)
    monkeypatch.chdir(tmp_path / 'work_dirs')
    assert cli.zero_shot_checkpoint() == ten


def test_the_zero_shot_demo_is_served_by_default_once_trained(
        tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(cli, 'REPO', tmp_path)

    def choose(*argv):
        return cli.choose_model(cli.parse_args(list(argv)))

    with pytest.raises(FileNotFoundError, match='bash tools/run_demo.sh'):
        choose()
    (tmp_path / 'work_dirs' / 'demo').mkdir(parents=True)
    (tmp_path / 'work_dirs/demo/last_checkpoint').write_text('shapes.pth')
    served = choose()
    assert (served.config, served.checkpoint, served.demo) == (
        cli.DEMO_CONFIG, 'shapes.pth', 'shapes')
    assert served.other.startswith(
        'the zero-shot demo, whose CLIP was pretrained on material names, is '
        'served by default once `bash tools/run_zero_shot_demo.sh` has '
        'trained it; any trained model: `--config CONFIG --checkpoint FILE`')
    with pytest.raises(FileNotFoundError,
                       match='no zero-shot demo model: .* Train it with '
                       '`bash tools/run_zero_shot_demo.sh`'):
        choose('--demo', 'zero-shot')

    trained = trained_run(tmp_path, 0)
    served = choose()
    assert (served.config, served.checkpoint, served.demo) == (
        cli.ZERO_SHOT_CONFIG, trained, 'zero-shot')
    assert served.other == ('the shapes demo: `--demo shapes`; any trained '
                            'model: `--config CONFIG --checkpoint FILE`')
    served = choose('--demo', 'shapes')
    assert (served.checkpoint, served.demo) == ('shapes.pth', 'shapes')
    assert served.other.startswith('the zero-shot demo: `--demo zero-shot`')
    # a checkpoint alone goes with the shapes config, as before
    assert choose('--checkpoint', 'x.pth').demo == 'shapes'
    served = choose('--demo', 'zero-shot', '--checkpoint', 'x.pth')
    assert (served.config, served.checkpoint) == (cli.ZERO_SHOT_CONFIG,
                                                  'x.pth')
    served = choose('--config', 'c.py')
    assert (served.config, served.checkpoint, served.demo) == ('c.py', None,
                                                               None)
    with pytest.raises(ValueError, match='--demo and --config exclude'):
        choose('--demo', 'shapes', '--config', 'c.py')


def test_held_out_examples_come_from_the_test_split(tmp_path):
    cfg = Config.fromfile(ZERO_SHOT_CONFIG)
    world = generate_material_world(
        str(tmp_path / 'world'), num_train=1, num_val=6)
    cfg.test_dataloader.dataset.data_root = world
    paths, classes = cli.held_out_examples(cfg, str(tmp_path / 'page'))
    assert classes == MATERIAL_CLASSES
    assert len(paths) == 4 and all(
        os.path.dirname(path) == str(tmp_path / 'page' / 'examples')
        and os.path.basename(path).startswith('held_out_') for path in paths)
    # the world is gone: generated again, into the page's folder only
    cfg.test_dataloader.dataset.update(
        data_root=str(tmp_path / 'gone'), num_train=1, num_val=5)
    paths, _ = cli.held_out_examples(cfg, str(tmp_path / 'again'))
    assert len(paths) == 4 and not (tmp_path / 'gone').exists()
    assert len(os.listdir(tmp_path / 'again/held_out_scenes/images/val')) == 5
    # trained on every test name, or not a generated world: no held-out
    # examples
    cfg.train_dataloader.dataset.metainfo.classes = MATERIAL_CLASSES
    assert cli.held_out_examples(cfg, str(tmp_path / 'none')) is None
    cfg = Config.fromfile(ZERO_SHOT_CONFIG)
    cfg.test_dataloader.dataset.type = 'ADE847Dataset'
    assert cli.held_out_examples(cfg, str(tmp_path / 'none')) is None
    assert cli.held_out_examples(Config.fromfile(CONFIG),
                                 str(tmp_path / 'none')) is None
    assert not (tmp_path / 'none').exists()


def test_zero_shot_demo_page_has_held_out_scenes_and_all_names(
        tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(cli, 'REPO', tmp_path)
    monkeypatch.setattr(cli, 'ZERO_SHOT_CONFIG', ZERO_SHOT_CONFIG)
    # what tools/run_zero_shot_demo.sh records: the CLIP and data root it
    # gave with --cfg-options, the 8 training names
    trained = Config.fromfile(ZERO_SHOT_CONFIG)
    trained.model.backbone.pretrained = '/run/clip.pth'
    trained.model.text_encoder.pretrained = '/run/clip.pth'
    trained.test_dataloader.dataset.data_root = generate_material_world(
        str(tmp_path / 'world'), num_train=1, num_val=6)
    source = OVSegInferencer(
        ZERO_SHOT_CONFIG,
        device='cpu',
        cfg_options={
            'model.backbone.pretrained': None,
            'model.text_encoder.pretrained': None
        })
    torch.save(
        dict(
            state_dict=source.model.state_dict(),
            meta=dict(
                cfg=trained.pretty_text,
                dataset_meta=dict(classes=SEEN_CLASSES))),
        tmp_path / 'model.pth')
    checkpoint = trained_run(tmp_path, 0, tmp_path / 'model.pth')
    fake = FakeApp()
    monkeypatch.setitem(sys.modules, 'mrovseg_mmseg.webui.app', fake)
    monkeypatch.setenv('GRADIO_ANALYTICS_ENABLED', 'False')  # main sets it
    assert cli.main(['--device', 'cpu']) == 0
    built = fake.calls['build_app']
    assert built['initial_classes'] == MATERIAL_CLASSES
    assert built['segmenter'].inferencer.classes == MATERIAL_CLASSES
    assert len(built['examples']) == 4 and fake.calls['examples_exist']
    assert all('held_out_' in path for path in built['examples'])
    assert built['examples_label'].startswith('Examples (held-out scenes')
    note = (f"Model: the zero-shot demo's, `{ZERO_SHOT_CONFIG}`, weights "
            f'`{os.path.relpath(checkpoint, tmp_path)}`, on cpu. Other '
            'models: the shapes demo: `--demo shapes`; any trained model: '
            '`--config CONFIG --checkpoint FILE`.')
    assert built['model_note'] == note
    assert built['knowledge_note'] == (
        'Segmentation training saw 8 names: `grass`, `sand`, `brick`, '
        '`snow`, `lava`, `heather`, `ice`, `coral`. Its CLIP was pretrained '
        '(`/run/clip.pth`), so other names are open vocabulary: they are '
        'matched through what the CLIP learned, usually less reliably than '
        'the training names.')
    assert "'water', 'asphalt', 'wood', 'moss'" in html.unescape(
        built['segmenter'].vocabulary_note(class_text(MATERIAL_CLASSES)))
    out = capsys.readouterr().out
    assert note.replace('`', '') in out and 'Its CLIP was pretrained' in out
