"""The faults real users meet, injected for real (issue 16): signals, kill -9, two writers, changed resumes,
full disks and bad paths, bad encodings and YAML, huge rows, early stopping, run boundaries, overwrites and
plain papermill. Each test fails on the code before this suite: the behaviour it checks did not exist.

Other faults of the same issue are tested next to their code (nbdev tests): a continual task that goes NaN
(nbs/06_continual), the dashboard re-run / double Stop / interrupt / second run (nbs/21_ui_dashboard),
papermill parameter names (nbs/30_notebook_runs), the sweep's load count and --overwrite (nbs/09_sweep),
the spike floor (nbs/03b_callbacks), UTF-16 / Latin-1 / NUL / deep JSON readers (nbs/02_data),
`cost --run-dir` (nbs/08_plan), weights_only shards (nbs/10_progressive), atomic folders and the run lock
(nbs/00a_io)."""
import json, os, signal, subprocess, sys, time
from dataclasses import replace
from pathlib import Path
import pytest

ROOT = Path(__file__).resolve().parents[1]
ENV = dict(os.environ, HF_HUB_OFFLINE='1', TOKENIZERS_PARALLELISM='false')
SMALL = ['--train.batch_size', '4', '--train.grad_accum', '1', '--data.eval_fraction', '0']


@pytest.fixture(scope='module')
def tiny(tmp_path_factory):
    "A tiny random Llama saved as a model folder, and 48 chat rows of toy data."
    from backprop_nb.models import tiny_model, tiny_tokenizer
    from backprop_nb.testing import toy_samples
    from backprop_nb.data import write_jsonl
    d = tmp_path_factory.mktemp('tiny')
    tiny_model().save_pretrained(d / 'model'); tiny_tokenizer().save_pretrained(d / 'model')
    write_jsonl(d / 'toy.jsonl', [{'messages': s.messages} for s in toy_samples(48)])
    return d


def popen(*args):
    return subprocess.Popen([sys.executable, '-m', 'backprop_nb.cli', *map(str, args)], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env=ENV)


def cli(*args):
    return subprocess.run([sys.executable, '-m', 'backprop_nb.cli', *map(str, args)], capture_output=True, text=True,
                          env=ENV, timeout=600)


def main(capsys, *args):
    "The CLI in this process (same code path as the command): (exit status, stdout, stderr)."
    from backprop_nb.cli import main as cli_main
    try: rc = cli_main([str(a) for a in args])
    except SystemExit as e: rc = e.code           # check-data / preflight end with their report's status
    out, err = capsys.readouterr()
    return rc, out, err


def one_sentence(rc, err, *needles):
    "Exit 2, no traceback, one `error:` line naming what is wrong."
    assert rc == 2, err
    assert 'Traceback' not in err and 'this is a bug' not in err, err
    lines = [l for l in err.splitlines() if l.startswith('error:')]
    assert len(lines) == 1, err
    for n in needles: assert n in lines[0], lines[0]
    return lines[0]


def records(run_dir, kind=None):
    rows = [json.loads(l) for l in (Path(run_dir) / 'metrics.jsonl').read_text().splitlines() if l.strip()]
    return [r for r in rows if kind is None or r.get('kind') == kind]


def status(run_dir) -> dict:
    return json.loads((Path(run_dir) / 'status.json').read_text())


def wait_for(pred, timeout=120, what=''):
    t0 = time.time()
    while time.time() - t0 < timeout:
        try:
            if pred(): return
        except (FileNotFoundError, json.JSONDecodeError): pass
        time.sleep(0.1)
    raise AssertionError(f'timed out waiting for {what}')


def last_step(run_dir) -> int:
    steps = records(run_dir, 'step')
    return steps[-1]['step'] if steps else 0


def checkpoint_steps(run_dir) -> list:
    from backprop_nb.checkpoints import list_checkpoints
    return [s for s, _ in list_checkpoints(Path(run_dir) / 'checkpoints')]


def stopped_run(tiny, run_dir, at=4, **over):
    "A tiny run stopped (and saved) at step `at` of 20 (or the next: Stop takes effect at a step's end), in this process."
    from backprop_nb.train import train
    from backprop_nb.callbacks import StopControl
    from backprop_nb.config import make_config
    stop = StopControl(signals=False)
    def at_step(ev):
        if ev.kind == 'step' and ev.step == at: stop.stop('the test')
    cfg = make_config(**{'model.name': str(tiny / 'model'), 'data.path': str(tiny / 'toy.jsonl'), 'train.max_steps': 20,
                         'train.batch_size': 4, 'train.grad_accum': 1, 'train.save_steps': 100, 'data.eval_fraction': 0.0,
                         'run.dir': str(run_dir), **over})
    r = train(cfg, listeners=[at_step], stop=stop, progress=False)
    assert r.status == 'stopped' and r.step in (at, at + 1), (r.status, r.step)
    return r


# ---------------------------------------------------------------------------------------------- signals, kill -9, locks

@pytest.mark.parametrize('sig', ['SIGTERM', 'SIGHUP'])
def test_sigterm_and_sighup_save_and_stop(tiny, tmp_path, sig):
    "What Colab, Kaggle and schedulers send before a kill: the step finishes, a checkpoint is saved, run_end is written."
    run = tmp_path / 'run'
    p = popen('train', '--model', tiny / 'model', '--data', tiny / 'toy.jsonl', '--steps', 400, '--train.save_steps', 1000,
              '--run-dir', run, *SMALL)
    wait_for(lambda: last_step(run) >= 3, what='step 3')
    p.send_signal(getattr(signal, sig))
    out, err = p.communicate(timeout=120)
    assert p.returncode == 0, err
    st = status(run)
    assert st['status'] == 'stopped' and 3 <= st['step'] < 400, st
    assert f'got {sig}' in err
    assert checkpoint_steps(run)[-1] == st['step']                     # saved where it stopped
    ends = records(run, 'run_end')
    assert len(ends) == 1 and ends[0]['status'] == 'stopped' and f'signal {sig}' in ends[0]['message']


def test_kill9_is_reported_died_and_two_resumes_are_one_writer(tiny, tmp_path):
    "kill -9 leaves status 'running': read back it says 'died'; two resumes at once: the second is refused."
    run = tmp_path / 'run'
    # Many steps: resume A must still be training when B has started and been refused (B's start-up takes ~15 s).
    p = popen('train', '--model', tiny / 'model', '--data', tiny / 'toy.jsonl', '--steps', 20000, '--train.save_steps', 5,
              '--run-dir', run, *SMALL)
    wait_for(lambda: checkpoint_steps(run) and last_step(run) >= 7, what='a checkpoint')
    p.kill(); p.wait()
    assert status(run)['status'] == 'running'                          # what the file says after a kill -9 ...
    r = cli('status', run)
    assert r.returncode == 0 and r.stdout.startswith('died:') and f'backprop-nb resume {run}' in r.stdout, r.stdout
    a = popen('resume', run)                                           # ... and the first resume takes the run
    wait_for(lambda: status(run).get('pid') == a.pid and status(run)['status'] == 'running', what='resume A running')
    b = cli('resume', run)
    one_sentence(b.returncode, b.stderr, f'{run} is in use by another run (process {a.pid})')
    a.send_signal(signal.SIGTERM)
    out, err = a.communicate(timeout=120)
    assert a.returncode == 0, err
    assert status(run)['status'] == 'stopped' and status(run)['step'] < 20000
    ends = records(run, 'run_end')
    assert len(ends) == 1, ends                                        # one run_end: B never wrote
    steps = [r['step'] for r in records(run, 'step')]
    assert steps == sorted(set(steps)), 'duplicated or out-of-order steps in metrics.jsonl'
    assert 'resumed_after_crash' in {r['code'] for r in records(run, 'alert')}
    assert not any(p.name.startswith('.staging') for p in (run / 'checkpoints').iterdir())


# ---------------------------------------------------------------------------------------------- resume after changes

def test_resume_refuses_a_changed_config_or_data_unless_forced(tiny, tmp_path, capsys):
    from backprop_nb.config import load_config, config_to_yaml
    run = tmp_path / 'run'
    stopped_run(tiny, run)
    cfg_file, data = run / 'config.yaml', tiny / 'toy.jsonl'
    original = cfg_file.read_text()
    cfg = load_config(cfg_file)
    cfg_file.write_text(config_to_yaml(replace(cfg, lora=replace(cfg.lora, r=cfg.lora.r * 2))))
    one_sentence(*main(capsys, 'resume', run)[::2], 'changed lora.r', "cannot take another shape")
    one_sentence(*main(capsys, 'resume', run, '--force')[::2], 'changed lora.r')  # shapes: never, even forced
    cfg_file.write_text(config_to_yaml(replace(cfg, train=replace(cfg.train, lr=1e-4))))
    one_sentence(*main(capsys, 'resume', run)[::2], 'train.lr', '--force')
    cfg_file.write_text(original)
    saved = data.read_text()
    try:
        new = {'messages': [{'role': 'user', 'content': 'Is this row new?'}, {'role': 'assistant', 'content': 'yes, it is'}]}
        data.write_text(saved + json.dumps(new) + '\n')
        one_sentence(*main(capsys, 'resume', run)[::2], 'training data', 'training samples then, 49 now', '--force')
        assert status(run)['status'] == 'stopped' and len(records(run, 'run_end')) == 1    # nothing written
        cfg_file.write_text(config_to_yaml(replace(cfg, train=replace(cfg.train, lr=1e-4))))
        rc, out, err = main(capsys, 'resume', run, '--force')
        assert rc == 0 and 'finished: 20 steps' in out, err
    finally: data.write_text(saved)
    assert load_config(cfg_file).train.lr == 1e-4                       # config.yaml tells the truth
    notes = [r for r in records(run, 'alert') if r['code'] == 'resume_changed']
    assert any('train.lr' in n['message'] for n in notes) and any('changed data' in n['message'] for n in notes)


# ---------------------------------------------------------------------------------------------- overwrites

def test_export_merge_sweep_never_delete_user_files(tiny, tmp_path, capsys):
    run = tmp_path / 'run'
    rc, out, err = main(capsys, 'train', '--model', tiny / 'model', '--data', tiny / 'toy.jsonl', '--steps', 2, '--run-dir', run, *SMALL)
    assert rc == 0, err
    for cmd in (['export', run, '--format', 'adapter'], ['merge-adapters', run, run], ['sweep', tmp_path / 'spec.yaml']):
        mine = tmp_path / f'mine-{cmd[0]}'; mine.mkdir(); (mine / 'notes.txt').write_text('keep me')
        (tmp_path / 'spec.yaml').write_text(f"base: {{model.name: '{tiny / 'model'}', data.path: '{tiny / 'toy.jsonl'}', "
                                            "train.max_steps: 2, train.batch_size: 4, train.grad_accum: 1}\n"
                                            "grid: {train.lr: [0.001]}\n")
        flag = '--root' if cmd[0] == 'sweep' else '--out'
        one_sentence(*main(capsys, *cmd, flag, mine)[::2], f'{mine} already holds files (notes.txt)', '--overwrite')
        assert os.listdir(mine) == ['notes.txt']
        rc, out, err = main(capsys, *cmd, flag, mine, '--overwrite')
        assert rc == 0, err
        assert (mine / 'notes.txt').read_text() == 'keep me' and len(os.listdir(mine)) > 1, os.listdir(mine)
    # a run directory given to train that holds files is refused too (never appended into)
    one_sentence(*main(capsys, 'train', '--model', tiny / 'model', '--data', tiny / 'toy.jsonl', '--run-dir', run)[::2],
                 'already holds files')


# ---------------------------------------------------------------------------------------------- OS conditions

def test_os_conditions_are_one_sentence(tiny, tmp_path, capsys, monkeypatch):
    a_file = tmp_path / 'a_file'; a_file.write_text('x')
    args = ['train', '--model', tiny / 'model', '--data', tiny / 'toy.jsonl', '--steps', 3, *SMALL]
    one_sentence(*main(capsys, *args, '--run-dir', a_file)[::2], str(a_file))
    one_sentence(*main(capsys, *args, '--run-dir', a_file / 'sub')[::2], 'not a folder')
    one_sentence(*main(capsys, 'export', tmp_path / 'nope', '--out', tmp_path / 'x')[::2], 'nope')
    # a full disk, at the first checkpoint: one sentence, status not left 'running', no staging folder left
    import shutil
    from collections import namedtuple
    real = shutil.disk_usage
    Usage = namedtuple('Usage', 'total used free')
    monkeypatch.setattr(shutil, 'disk_usage', lambda p: Usage(real(p).total, real(p).total, 1024))
    run = tmp_path / 'full'
    one_sentence(*main(capsys, *args, '--train.save_steps', 2, '--run-dir', run)[::2], 'GiB is free there', 'free some space')
    assert status(run)['status'] == 'failed'
    assert not [p for p in run.rglob('*') if 'staging' in p.name]


@pytest.mark.skipif(os.geteuid() == 0, reason='root ignores file permissions')
def test_no_permission_is_one_sentence(tiny, tmp_path, capsys):
    ro = tmp_path / 'ro'; ro.mkdir(); ro.chmod(0o500)
    try:
        one_sentence(*main(capsys, 'train', '--model', tiny / 'model', '--data', tiny / 'toy.jsonl', '--steps', 2,
                           '--run-dir', ro / 'run', *SMALL)[::2], 'Permission denied', 'choose a folder you can write to')
    finally: ro.chmod(0o700)


# ---------------------------------------------------------------------------------------------- bad files

def test_bad_encodings_and_structure_are_named(tiny, tmp_path, capsys):
    row = json.dumps({'messages': [{'role': 'user', 'content': 'Grüße aus Köln?'},
                                   {'role': 'assistant', 'content': 'Danke schön.'}]}, ensure_ascii=False)
    cases = {
        'utf16.jsonl': ((row + '\n') * 5).encode('utf-16'),
        'latin1.jsonl': ((row + '\n') * 5).encode('latin-1'),
        'binary.jsonl': bytes(range(256)) * 40,
        'cut.jsonl': ((row + '\n') * 5 + row[:25]).encode(),
        'deep.jsonl': ((row + '\n') + '{"messages": ' + '[' * 100000 + ']' * 100000 + '}\n').encode(),
    }
    expect = {'utf16.jsonl': ['is UTF-16 encoded, not UTF-8', 'iconv'],
              'latin1.jsonl': ['line 1', 'Latin-1 / Windows-1252'],
              'binary.jsonl': ['is binary (NUL bytes'],
              'cut.jsonl': ['line 6', 'cut short (the file looks truncated)'],
              'deep.jsonl': ['line 2', 'nests lists or objects deeper']}
    for name, data in cases.items():
        (tmp_path / name).write_bytes(data)
        rc, out, err = main(capsys, 'check-data', tmp_path / name, '--model', tiny / 'model', '--on-bad-rows', 'stop')
        msg = (out + err)
        assert rc == 2 and 'Traceback' not in msg and 'match no known format' not in msg, msg
        for n in expect[name]: assert n in msg, (name, msg)


def test_yaml_and_config_encoding_errors_in_every_command(tiny, tmp_path, capsys):
    bad = tmp_path / 'bad.yaml'
    bad.write_text('base:\n  train.lr: 1e-4\n grid: [\n')
    for cmd in (['train', bad], ['preflight', bad], ['sweep', bad], ['continual', bad],
                ['run-notebook-grid', ROOT / 'nbs/tutorials/lora_from_scratch.ipynb', '--grid', bad]):
        rc, out, err = main(capsys, *cmd)
        msg = [l for l in (out + err).splitlines() if 'bad.yaml' in l]
        assert rc == 2 and 'Traceback' not in err and msg and 'line' in msg[0] and 'YAML' in msg[0], (cmd, out, err)
    u16 = tmp_path / 'u16.yaml'; u16.write_bytes('train:\n  lr: 0.001\n'.encode('utf-16'))
    one_sentence(*main(capsys, 'train', u16)[::2], 'u16.yaml', 'UTF-16')
    l1 = tmp_path / 'l1.yaml'; l1.write_bytes('run:\n  name: café\n'.encode('latin-1'))
    one_sentence(*main(capsys, 'train', l1)[::2], 'l1.yaml', 'UTF-8')


def test_papermill_parameter_names_are_identifiers(capsys):
    one_sentence(*main(capsys, 'run-notebook', ROOT / 'nbs/tutorials/lora_from_scratch.ipynb', '-p', 'x; import os', '1')[::2],
                 "parameter name 'x; import os'", 'not a Python identifier')


def test_one_huge_row_is_cut_and_memory_stays_bounded(tiny, tmp_path):
    "A 50 MB row: read as a stream and cut to the character cap before tokenizing (was > 7 GB and killed)."
    from backprop_nb.data import write_jsonl
    huge = tmp_path / 'huge.jsonl'
    rows = [json.loads(l) for l in (tiny / 'toy.jsonl').read_text().splitlines()]
    rows.insert(3, {'messages': [{'role': 'user', 'content': 'summarize: ' + 'lorem ipsum ' * 4_400_000},
                                 {'role': 'assistant', 'content': 'ok'}]})
    write_jsonl(huge, rows)
    assert huge.stat().st_size > 50e6
    argv = ['train', '--model', str(tiny / 'model'), '--data', str(huge), '--steps', '1', '--run-dir', str(tmp_path / 'run'), *SMALL]
    code = (f'import resource, sys\nfrom backprop_nb.cli import main\nrc = main({argv!r})\n'
            f'print("peak", resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)\nsys.exit(rc)')
    r = subprocess.run([sys.executable, '-c', code], capture_output=True, text=True, env=ENV, timeout=600)
    assert r.returncode == 0, r.stderr
    peak_mib = int(r.stdout.split('peak ')[1].split()[0]) / 1024
    report = (tmp_path / 'run' / 'data_report.md').read_text()
    assert '| rows cut before tokenizing (far beyond max_length) | 1 |' in report, report
    print(f'peak RSS of the training process with a {huge.stat().st_size / 1e6:.0f} MB row: {peak_mib:.0f} MiB')
    assert peak_mib < 2048, peak_mib


# ---------------------------------------------------------------------------------------------- what ships

def test_early_stopping_ships_the_best_checkpoint(tiny, tmp_path):
    "After the best eval, the LoRA is spoiled (fault injection): eval loss rises, early stopping ends the run, and the adapter shipped is the best one."
    import torch
    from safetensors.torch import load_file
    from backprop_nb.train import train
    from backprop_nb.config import make_config
    from backprop_nb.checkpoints import best_checkpoint, checkpoint_state
    from backprop_nb.slao import lora_layers
    from backprop_nb.models import tiny_model, tiny_tokenizer
    model = tiny_model()
    def spoil(ev):
        if ev.kind == 'step' and ev.step == 9:
            with torch.no_grad():
                for l in lora_layers(model).values(): l.lora_B['default'].weight.normal_(0, 3.0)
    cfg = make_config(**{'model.name': str(tiny / 'model'), 'data.path': str(tiny / 'toy.jsonl'), 'train.max_steps': 60, 'train.batch_size': 4,
                         'train.grad_accum': 1, 'train.lr': 3e-3, 'train.eval_steps': 4, 'train.save_steps': 100,
                         'data.eval_fraction': 0.2, 'train.early_stop_patience': 2, 'run.dir': str(tmp_path / 'run')})
    r = train(cfg, listeners=[spoil], model=model, tokenizer=tiny_tokenizer(), progress=False)
    assert r.status == 'early_stopped', r.status
    best = best_checkpoint(r.run_dir / 'checkpoints')
    assert checkpoint_state(best)['step'] <= 8                        # before the LoRA was spoiled
    shipped, kept = load_file(r.adapter_dir / 'adapter_model.safetensors'), load_file(best / 'adapter_model.safetensors')
    assert shipped.keys() == kept.keys() and all(torch.equal(shipped[k], kept[k]) for k in kept)
    assert any('shipped the best checkpoint' in e.message for e in r.events if e.kind == 'run_end')


def test_run_boundary_checkpoints_survive_pruning(tiny, tmp_path):
    "Where a run stopped is a boundary: pruning (keep_checkpoints 1) keeps it after the resumed run saves more."
    from backprop_nb.train import resume
    from backprop_nb.config import load_config, config_to_yaml
    run = tmp_path / 'run'
    at = stopped_run(tiny, run, at=4, **{'train.save_steps': 3, 'train.keep_checkpoints': 1}).step
    assert checkpoint_steps(run) == [at]                               # 3 pruned: neither newest nor a boundary
    r = resume(run, progress=False)
    assert r.status == 'finished' and r.step == 20
    steps = checkpoint_steps(run)
    assert steps[0] == at and len(steps) == 2 and steps[1] >= 18, steps  # the boundary, and the newest


# ---------------------------------------------------------------------------------------------- plain papermill

def test_plain_papermill_leaves_pngs_and_metrics(tmp_path):
    "index.ipynb by plain `papermill` (no wrapper, no `-p interactive False`): a static PNG and metrics.json, as under run-notebook."
    import nbformat
    out = tmp_path / 'out.ipynb'
    r = subprocess.run([sys.executable, '-m', 'papermill', str(ROOT / 'index.ipynb'), str(out), '-p', 'steps', '3',
                        '--cwd', str(tmp_path), '-k', 'backprop_nb'], capture_output=True, text=True, env=ENV, timeout=900)
    assert r.returncode == 0, r.stderr[-3000:]
    nb = nbformat.read(str(out), as_version=4)
    pngs = sum('image/png' in o.get('data', {}) for c in nb.cells if c.cell_type == 'code' for o in c.get('outputs', []))
    assert pngs >= 1, 'no static PNG in the output notebook'
    run = next((tmp_path / 'runs').glob('demo-*'))
    m = json.loads((run / 'metrics.json').read_text())
    assert set(m) == {'final_loss', 'base_exact_match', 'tuned_exact_match'} and m['final_loss'] > 0
    assert (run / 'dashboard.png').read_bytes()[:4] == b'\x89PNG'
