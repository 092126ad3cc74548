"""The command line, run as a user runs it: a subprocess, its exit status, what it prints."""
import json, os, subprocess, sys
from pathlib import Path
import pytest

ENV = dict(os.environ, HF_HUB_OFFLINE='1', TOKENIZERS_PARALLELISM='false')


def cli(*args, cwd=None):
    return subprocess.run([sys.executable, '-m', 'backprop_nb.cli', *map(str, args)], capture_output=True, text=True, env=ENV, cwd=cwd, timeout=600)


def one_sentence_error(r, *needles):
    "Non-zero exit, no traceback, one `error:` line that names what is wrong."
    assert r.returncode != 0, r.stdout + r.stderr
    assert 'Traceback' not in r.stderr, r.stderr
    errs = [l for l in r.stderr.splitlines() if l.startswith('error:')]
    assert len(errs) == 1, r.stderr
    for n in needles: assert n in errs[0], errs[0]
    return errs[0]


@pytest.mark.parametrize('cmd', ['demo', 'train', 'resume', 'check-data', 'continual', 'eval', 'export', 'merge-adapters'])
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
    r = cli('train', '--data', good, '--lora.targets', 'q_proj,attention', '--run.root', tmp_path / 'runs')
    one_sentence_error(r, 'lora.targets names attention, which this model does not have')
    assert not (tmp_path / 'runs').exists() or not any((tmp_path / 'runs').iterdir())   # nothing half-written


def test_existing_run_dir_is_never_overwritten(tmp_path):
    old = tmp_path / 'run'; old.mkdir(); (old / 'metrics.jsonl').write_text('{"kind": "step", "step": 1}\n')
    good = Path(__file__).parents[1] / 'backprop_nb' / 'assets' / 'elements' / 'train.jsonl'
    one_sentence_error(cli('train', '--data', good, '--run-dir', old, '--steps', '1'), 'already holds files')
    assert (old / 'metrics.jsonl').read_text() == '{"kind": "step", "step": 1}\n'
