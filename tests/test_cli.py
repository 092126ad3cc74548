"""The command line, run as a user runs it: a subprocess, its exit status, what it prints."""
import json, os, subprocess, sys
from pathlib import Path
import pytest

ENV = dict(os.environ, HF_HUB_OFFLINE='1', TOKENIZERS_PARALLELISM='false')


def cli(*args, cwd=None, env=None):
    return subprocess.run([sys.executable, '-m', 'backprop_nb.cli', *map(str, args)], capture_output=True, text=True,
                          env=env or ENV, cwd=cwd, timeout=600)


def one_sentence_error(r, *needles):
    "Non-zero exit, no traceback, one `error:` line that names what is wrong."
    assert r.returncode != 0, r.stdout + r.stderr
    assert 'Traceback' not in r.stderr, r.stderr
    errs = [l for l in r.stderr.splitlines() if l.startswith('error:')]
    assert len(errs) == 1, r.stderr
    for n in needles: assert n in errs[0], errs[0]
    return errs[0]


@pytest.mark.parametrize('cmd', ['demo', 'train', 'chat', 'resume', 'check-data', 'continual', 'eval', 'export', 'merge-adapters',
                                 'preflight', 'cost', 'sweep', 'run-notebook', 'run-notebook-grid', 'status', 'push'])
def test_help(cmd):
    r = cli(cmd, '--help')
    assert r.returncode == 0 and 'usage: backprop-nb' in r.stdout


def test_train_help_lists_every_knob():
    from backprop_nb.config import SECTIONS
    out = cli('train', '--help').stdout
    for sec, cls in SECTIONS.items():
        for f, _ in cls.knobs(): assert f'--{sec}.{f.name}' in out


def test_bad_inputs(tmp_path):
    empty = tmp_path / 'empty.jsonl'; empty.write_text('')
    bad = tmp_path / 'bad.jsonl'
    bad.write_text('{"messages": [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "yo"}]}\n{"messages": [\n')
    good = Path(__file__).parents[1] / 'backprop_nb' / 'assets' / 'elements' / 'train.jsonl'
    one_sentence_error(cli('train', '--data', tmp_path / 'missing.jsonl'), 'missing.jsonl does not exist')
    one_sentence_error(cli('train', '--data', empty), 'empty.jsonl is empty')
    one_sentence_error(cli('train', '--data', bad, '--data.on_bad_rows', 'stop'), 'bad.jsonl line 2', 'not valid JSON')
    one_sentence_error(cli('train', '--preset', 'turbo'), 'train.preset', "'fast', 'balanced', 'quality'")
    one_sentence_error(cli('train', '--lora.r', '0'), 'lora.r must be an integer from 1 to 4096 (got')
    one_sentence_error(cli('train', '--lr=-1e-4'), 'train.lr must be a number from 0 to 1')
    one_sentence_error(cli('train', '--lr'), 'argument --train.lr/--lr: expected one argument')
    one_sentence_error(cli('train', '--report-to', 'tensorbord'), "train.report_to names 'tensorbord'", "did you mean 'tensorboard'")
    r = cli('train', '--data', good, '--lora.targets', 'q_proj,attention', '--run.root', tmp_path / 'runs')
    one_sentence_error(r, 'lora.targets names attention, which this model does not have')
    assert not (tmp_path / 'runs').exists() or not any((tmp_path / 'runs').iterdir())   # nothing half-written


def test_push_without_a_network_or_a_token_is_one_sentence(tmp_path):
    "The real hub client, with the network really absent (not HF_HUB_OFFLINE): one sentence, exit 2."
    folder = tmp_path / 'export'; folder.mkdir()
    (folder / 'README.md').write_text('---\nlibrary_name: peft\n---\n# x\n'); (folder / 'adapter_config.json').write_text('{}')
    online = dict(ENV, HF_HUB_OFFLINE='0', HF_HOME=str(tmp_path / 'hf'))
    one_sentence_error(cli('push', folder, '--repo', 'me/x', '--token', 'hf_x', env=online),
                       'cannot reach the Hugging Face hub to push me/x', 'nothing was uploaded')
    no_token = {k: v for k, v in online.items() if k not in ('HF_TOKEN', 'HUGGING_FACE_HUB_TOKEN')}
    one_sentence_error(cli('push', folder, '--repo', 'me/x', env=no_token), 'no Hugging Face token found', 'notebook_login')
    assert sorted(p.name for p in folder.iterdir()) == ['README.md', 'adapter_config.json']


def test_existing_run_dir_is_never_overwritten(tmp_path):
    old = tmp_path / 'run'; old.mkdir(); (old / 'metrics.jsonl').write_text('{"kind": "step", "step": 1}\n')
    good = Path(__file__).parents[1] / 'backprop_nb' / 'assets' / 'elements' / 'train.jsonl'
    one_sentence_error(cli('train', '--data', good, '--run-dir', old, '--steps', '1'), 'already holds files')
    assert (old / 'metrics.jsonl').read_text() == '{"kind": "step", "step": 1}\n'


def test_check_names_every_problem_and_exits_nonzero(tmp_path):
    bad_rows = tmp_path / 'bad.jsonl'
    bad_rows.write_text('{"messages": [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "yo"}]}\n{"messages": [\n')
    cfg = tmp_path / 'broken.yaml'
    cfg.write_text(f'lora:\n  r: 0\n  targets: q_proj,attention\ntrain:\n  lr: -1\n  preset: turbo\n'
                   f'data:\n  path: {bad_rows}\n  on_bad_rows: stop\n  eval_path: {tmp_path}/missing.jsonl\n')
    r = cli('preflight', cfg)
    assert r.returncode == 2 and 'Traceback' not in r.stdout + r.stderr, r.stdout + r.stderr
    problems = [l for l in r.stdout.splitlines() if l.strip().startswith('✖')]
    for needle in ('lora.r', 'train.lr', 'train.preset', 'lora.targets', 'bad.jsonl line 2', 'data.eval_path'):
        assert sum(needle in p for p in problems) == 1, (needle, problems)


def test_check_and_cost_on_a_good_config(tmp_path):
    good = Path(__file__).parents[1] / 'backprop_nb' / 'assets' / 'elements' / 'train.jsonl'
    cfg = tmp_path / 'good.yaml'; cfg.write_text(f'data:\n  path: {good}\ntrain:\n  preset: fast\n')
    r = cli('preflight', cfg)
    assert r.returncode == 0 and 'pre-flight: OK' in r.stdout, r.stdout + r.stderr
    assert 'smallest GPUs' in r.stdout or 'fits' in r.stdout, r.stdout
    r = cli('cost', cfg)
    assert r.returncode == 0 and 'training tokens' in r.stdout and '| T4 | yes |' in r.stdout and 'free' in r.stdout, r.stdout + r.stderr


def test_sweep_cli_writes_table_and_plot(tmp_path):
    from backprop_nb.models import tiny_model, tiny_tokenizer
    from backprop_nb.testing import toy_samples
    from backprop_nb.data import write_jsonl
    tiny_model().save_pretrained(tmp_path / 'tiny'); tiny_tokenizer().save_pretrained(tmp_path / 'tiny')
    write_jsonl(tmp_path / 'toy.jsonl', [{'messages': s.messages} for s in toy_samples(64)])
    spec = tmp_path / 'sweep.yaml'
    spec.write_text(f'base:\n  model.name: {tmp_path}/tiny\n  data.path: {tmp_path}/toy.jsonl\n  train.max_steps: 8\n  train.batch_size: 4\n'
                    f'  train.grad_accum: 1\n  train.save_steps: 1000\n  data.eval_fraction: 0.1\n  train.eval_steps: 8\n'
                    f'grid:\n  train.lr: [0.003, 0.0000001]\n  lora.r: [4, 8]\ncut_at: 0.5\n')
    r = cli('sweep', spec, '--root', tmp_path / 'sw')
    assert r.returncode == 0, r.stdout + r.stderr
    import csv
    rows = list(csv.DictReader(open(tmp_path / 'sw' / 'results.csv')))
    assert len(rows) == 4 and (tmp_path / 'sw' / 'loss_curves.png').stat().st_size > 10_000
    hopeless = [r_ for r_ in rows if float(r_['train.lr']) < 1e-6]
    assert [r_['status'] for r_ in hopeless] == ['cut', 'cut'], rows            # the early cut stopped both ...
    assert all(int(r_['steps']) <= 5 for r_ in hopeless), rows                   # ... at half of their 8 steps
    assert {r_['status'] for r_ in rows if float(r_['train.lr']) > 1e-3} == {'finished'}, rows


def test_run_notebook_and_batch_cli(tmp_path):
    from backprop_nb.testing import example_notebook
    nb = example_notebook(tmp_path / 'ex.ipynb')
    r = cli('run-notebook', nb, '-p', 'a', '5', '-p', 'b', '0.5', '--root', tmp_path / 'runs')
    assert r.returncode == 0, r.stdout + r.stderr
    [d] = list((tmp_path / 'runs').iterdir())
    assert json.loads((d / 'metrics.json').read_text())['result'] == 2.5
    grid = tmp_path / 'grid.yaml'; grid.write_text('a: [1, 2]\nfail: [false, true]\n')
    r = cli('run-notebook-grid', nb, '--grid', grid, '--root', tmp_path / 'b')
    assert r.returncode == 1 and '2 of 4 runs failed' in r.stdout, r.stdout + r.stderr   # failures are reported ...
    [bd] = list((tmp_path / 'b').iterdir())
    import csv
    rows = list(csv.DictReader(open(bd / 'results.csv')))
    assert [r_['status'] for r_ in rows] == ['finished', 'failed', 'finished', 'failed']   # ... and the others ran
    one_sentence_error(cli('run-notebook', tmp_path / 'nope.ipynb'), 'nope.ipynb does not exist')
