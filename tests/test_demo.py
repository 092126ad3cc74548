"""README command 1, as a user runs it: `backprop-nb demo` fine-tunes the embedded model and compares."""
import json, re, subprocess, sys, os
from pathlib import Path
import pytest

ENV = dict(os.environ, HF_HUB_OFFLINE='1', TOKENIZERS_PARALLELISM='false')


@pytest.mark.slow
def test_demo_end_to_end(tmp_path):
    r = subprocess.run([sys.executable, '-m', 'backprop_nb.cli', 'demo', '--root', str(tmp_path)], capture_output=True, text=True, env=ENV, timeout=900)
    assert r.returncode == 0, r.stderr[-3000:]
    m = re.search(r'exact match: base ([\d.]+)% .* tuned ([\d.]+)%', r.stdout)
    assert m, r.stdout[-2000:]
    base, tuned = map(float, m.groups())
    assert tuned > base, r.stdout[-2000:]
    m = re.search(r'training loss ([\d.]+) → ([\d.]+)', r.stdout)
    first, last = map(float, m.groups())
    assert last <= 0.7 * first, (first, last)          # the loss falls by at least 30 %
    run = next(tmp_path.glob('demo-*'))
    for f in ('config.yaml', 'metrics.jsonl', 'env.json', 'loss.png', 'comparison.md', 'comparison.json', 'report.md',
              'adapter/adapter_config.json', 'adapter/adapter_model.safetensors'):
        assert (run / f).exists(), f
    assert json.loads((run / 'status.json').read_text())['status'] == 'finished'
    print(r.stdout[-1500:])
    # issue 7: a base-vs-tuned report produced by the CLI from the run directory, and a GGUF export
    e = subprocess.run([sys.executable, '-m', 'backprop_nb.cli', 'eval', str(run), '--max-new-tokens', '16'], capture_output=True, text=True, env=ENV, timeout=900)
    assert e.returncode == 0, e.stderr[-2000:]
    rep = json.loads((run / 'eval_report.json').read_text())
    assert rep['summary']['tuned']['exact_match'] > rep['summary']['base']['exact_match']
    x = subprocess.run([sys.executable, '-m', 'backprop_nb.cli', 'export', str(run), '--format', 'gguf', '--quant', 'q8_0'], capture_output=True, text=True, env=ENV, timeout=900)
    assert x.returncode == 0, x.stderr[-2000:]
    assert next((run / 'export' / 'gguf').glob('*.gguf')).stat().st_size > 100e6
