"""Evaluation and export from a run directory, through the command line, on the tiny model."""
import json, os, subprocess, sys
from pathlib import Path
import pytest

ENV = dict(os.environ, HF_HUB_OFFLINE='1', TOKENIZERS_PARALLELISM='false')


def cli(*a):
    r = subprocess.run([sys.executable, '-m', 'backprop_nb.cli', *map(str, a)], capture_output=True, text=True, env=ENV, timeout=600)
    assert r.returncode == 0, r.stderr[-3000:]
    return r


@pytest.fixture(scope='module')
def runs(tmp_path_factory):
    from backprop_nb.models import tiny_model, tiny_tokenizer
    from backprop_nb.testing import toy_samples
    d = tmp_path_factory.mktemp('export')
    tiny_model().save_pretrained(d / 'model'); tiny_tokenizer().save_pretrained(d / 'model')
    out = []
    for k, seed in enumerate((0, 1)):
        (d / f'data{k}.jsonl').write_text(''.join(json.dumps({'messages': s.messages}) + '\n' for s in toy_samples(64, seed)))
        cli('train', '--model', d / 'model', '--data', d / f'data{k}.jsonl', '--steps', 15, '--lr', '3e-3', '--lora.r', 8, '--train.batch_size', 4,
            '--train.grad_accum', 1, '--run-dir', d / f'run{k}', '--train.seed', seed)
        out.append(d / f'run{k}')
    (d / 'prompts.jsonl').write_text(''.join(json.dumps({'prompt': f'is {w} long?', 'answer': 'yes' if len(w) > 4 else 'no'}) + '\n' for w in ('abcdef', 'abc', 'hgfedcb', 'ab')))
    return d, out


def test_eval_report_from_run_dir(runs):
    d, (run, _) = runs
    r = cli('eval', run, '--prompts', d / 'prompts.jsonl', '--max-new-tokens', 4)
    assert 'exact match: base' in r.stdout
    rep = json.loads((run / 'eval_report.json').read_text())
    assert set(rep['summary']) == {'base', 'tuned'} and len(rep['rows']) == 4
    assert rep['loss']['tuned']['loss'] < rep['loss']['base']['loss']        # the tuned model fits the held-out data better
    assert (run / 'eval_report.md').read_text().startswith('## Base vs tuned')


@pytest.mark.parametrize('fmt', ['adapter', 'merged', 'gguf'])
def test_export_formats(runs, fmt):
    _, (run, _) = runs
    cli('export', run, '--format', fmt, '--quant', 'q8_0')
    out = run / 'export' / fmt
    names = {p.name for p in out.iterdir()}
    assert 'README.md' in names and 'loss.png' in names
    want = {'adapter': {'adapter_config.json', 'adapter_model.safetensors'}, 'merged': {'config.json', 'model.safetensors', 'tokenizer.json'},
            'gguf': {f'{run.name}-q8_0.gguf'}}[fmt]
    assert want <= names, names


def test_merge_adapters_three_ways(runs):
    d, (a, b) = runs
    from peft import PeftModel
    from transformers import AutoModelForCausalLM
    for method in ('linear', 'ties', 'dare'):
        cli('merge-adapters', a, b, '--method', method, '--weights', '0.5,0.5', '--density', 0.6, '--out', d / f'merged-{method}')
        PeftModel.from_pretrained(AutoModelForCausalLM.from_pretrained(d / 'model'), str(d / f'merged-{method}'))
