"""The unsloth backend, run for real: in .venv-unsloth (tools/unsloth_venv.sh: unsloth 2026.10.9 with its own pins,
transformers 5.17 and trl 1.15), through unsloth's CPU fallback on a machine without a GPU.

    bash tools/unsloth_venv.sh && BACKPROP_NB_REQUIRE_UNSLOTH=1 .venv-unsloth/bin/python -m pytest -q tests/test_unsloth.py

Loading goes through FastLanguageModel.from_pretrained, the LoRA through its get_peft_model; training, events,
checkpoints, STOP and resume through our engine; the adapter is read back by plain peft on plain transformers.
In the main venv (no unsloth) the file is skipped, unless BACKPROP_NB_REQUIRE_UNSLOTH is set."""
import importlib.util, json, os, subprocess, sys
from pathlib import Path
import pytest

if importlib.util.find_spec('unsloth') is None:
    if os.environ.get('BACKPROP_NB_REQUIRE_UNSLOTH'): raise RuntimeError('unsloth is required here but not installed')
    pytest.skip('unsloth is not installed in this venv (tools/unsloth_venv.sh makes one that has it)', allow_module_level=True)

os.environ.setdefault('HF_HUB_OFFLINE', '1')
import unsloth  # noqa: F401  first, before transformers, as unsloth asks
import torch
from safetensors.torch import load_file
from backprop_nb.config import make_config
from backprop_nb.models import tiny_model, tiny_tokenizer, CPU_UNSLOTH_NOTE
from backprop_nb.testing import toy_samples, toy_tasks
from backprop_nb.train import train, resume
from backprop_nb.export import export_run


@pytest.fixture(scope='module')
def work(tmp_path_factory):
    d = tmp_path_factory.mktemp('unsloth')
    tiny_model().save_pretrained(d / 'model'); tiny_tokenizer().save_pretrained(d / 'model')
    return d


def cfg(work, backend='unsloth', **kw):
    base = {'model.name': str(work / 'model'), 'model.backend': backend, 'model.dtype': 'float32', 'train.max_steps': 12,
            'train.batch_size': 4, 'train.grad_accum': 1, 'train.lr': 3e-3, 'lora.r': 8, 'train.save_steps': 4,
            'train.eval_steps': 6, 'train.order': 'random', 'data.eval_fraction': 0.1, 'run.root': str(work / 'runs')}
    return make_config(**{**base, **kw})


@pytest.fixture(scope='module')
def run(work):
    return train(cfg(work, **{'run.name': 'unsloth'}), samples=toy_samples(), progress=False)


def logits(model, ids):
    model.eval()
    with torch.no_grad(): return model(input_ids=ids).logits.float()


IDS = tiny_tokenizer().apply_chat_template([{'role': 'user', 'content': 'is abcdef long?'}], add_generation_prompt=True,
                                           return_tensors='pt', return_dict=True)['input_ids']


def test_loaded_and_wrapped_by_unsloth_trained_by_our_engine(run):
    base = run.model.get_base_model()
    assert run.info.backend == 'unsloth' and hasattr(base, '_unsloth_cpu_chunked_ce'), run.info   # FastLanguageModel
    notes = [a.message for a in run.alerts() if a.code == 'model_load']
    assert notes == [CPU_UNSLOTH_NOTE], notes                                           # backend unsloth on a CPU: said
    steps = [e for e in run.events if e.kind == 'step']
    assert [e.step for e in steps] == list(range(1, 13)) and run.status == 'finished'
    assert [e.step for e in run.events if e.kind == 'eval'] == [6, 12]
    assert steps[-1].loss < 0.7 * steps[0].loss, [e.loss for e in steps]
    cks = sorted(p.name for p in (run.run_dir / 'checkpoints').glob('checkpoint-*'))
    assert cks and 'checkpoint-12' in cks, cks
    print(f'unsloth backend: {len(steps)} steps, loss {steps[0].loss:.3f} -> {steps[-1].loss:.3f}, checkpoints {cks}')


def test_plain_peft_on_plain_transformers_gives_the_same_logits(work, run):
    "The adapter unsloth trained, read by code that knows nothing of unsloth: same logits."
    code = f"""
import torch, sys
from transformers import AutoModelForCausalLM
from peft import PeftModel
m = PeftModel.from_pretrained(AutoModelForCausalLM.from_pretrained({str(work / 'model')!r}), {str(run.adapter_dir)!r}).eval()
with torch.no_grad(): torch.save(m(input_ids=torch.tensor({IDS.tolist()})).logits, {str(work / 'plain.pt')!r})
print('unsloth' in sys.modules)
"""
    r = subprocess.run([sys.executable, '-c', code], capture_output=True, text=True, timeout=300)
    assert r.returncode == 0 and r.stdout.strip() == 'False', r.stderr[-2000:]   # a process without unsloth in it
    diff = (torch.load(work / 'plain.pt') - logits(run.model, IDS)).abs().max().item()
    print(f'plain peft vs the unsloth-trained model: max |Δlogit| {diff:.2e}')
    assert diff < 1e-5


def test_train_seed_reaches_unsloth(work):
    "unsloth's get_peft_model would seed with its own 3407; train.seed reaches it: the same LoRA init as transformers'."
    def losses(backend, seed):
        return train(cfg(work, backend, **{'train.seed': seed, 'train.max_steps': 4, 'train.save_steps': 100,
                                           'run.name': f'{backend}-{seed}'}), samples=toy_samples(), progress=False).losses()
    u7, t7, u8 = losses('unsloth', 7), losses('transformers', 7), losses('unsloth', 8)
    print('losses unsloth seed 7', u7, 'transformers seed 7', t7, 'unsloth seed 8', u8)
    assert u7 == pytest.approx(t7, abs=1e-5) and u7 != pytest.approx(u8, abs=1e-3)


def test_stop_then_resume_equals_an_uninterrupted_run(work, run):
    d = work / 'runs' / 'stopped'
    def stop_at_5(ev):
        if ev.kind == 'step' and ev.step == 5: (d / 'STOP').write_text('')
    r1 = train(cfg(work, **{'run.dir': str(d)}), samples=toy_samples(), listeners=[stop_at_5], progress=False)
    assert r1.status == 'stopped' and r1.step in (5, 6), (r1.status, r1.step)
    r2 = resume(d, samples=toy_samples(), progress=False)
    assert r2.status == 'finished' and r2.step == 12 and r2.info.backend == 'unsloth'
    a, b = load_file(d / 'adapter' / 'adapter_model.safetensors'), load_file(run.adapter_dir / 'adapter_model.safetensors')
    worst = max((a[k] - b[k]).abs().max().item() for k in a)
    print(f'stopped at step {r1.step}, resumed to 12: max |Δ| against the uninterrupted adapter {worst:.1e}')
    assert worst <= 1e-6


def test_merged_export_loads_in_plain_transformers(work, run):
    from transformers import AutoModelForCausalLM
    d = export_run(run.run_dir, 'merged', work / 'merged', dtype='float32')
    diff = (logits(AutoModelForCausalLM.from_pretrained(d), IDS) - logits(run.model, IDS)).abs().max().item()
    print(f'merged export vs the adapter model: max |Δlogit| {diff:.2e}')
    assert diff < 1e-4


def test_slao_continual_on_an_unsloth_model(work):
    from backprop_nb.continual import continual
    from backprop_nb.data import write_jsonl
    files = [write_jsonl(work / f'{t[0].id.split(":")[0]}.jsonl', [{'messages': s.messages} for s in t]) for t in toy_tasks()]
    c = cfg(work, **{'train.max_steps': 8, 'train.batch_size': 8, 'train.lr': 5e-3, 'train.save_steps': 100,
                     'train.eval_steps': 100, 'data.eval_fraction': 0.2, 'continual.tasks': ','.join(map(str, files)),
                     'run.name': 'slao'})
    r = continual(c, progress=False)
    assert r.method == 'slao' and (len(r.matrix), len(r.matrix[0])) == (3, 3)
    merges = [json.loads(l)['stats'] for l in open(r.root / 'metrics.jsonl') if '"kind": "merge"' in l]
    assert [m['task'] for m in merges if 'b_drift' in m] == [2, 3]                        # B merged after tasks 2, 3
    assert all(m['orth_error_max'] < 1e-5 for m in merges if 'init' in m)                # A orthogonal at each init
    print(f'SLAO over 3 tasks on unsloth: AA {r.metrics["AA"]:.3f}, BWT {r.metrics["BWT"]:+.3f}')


AUTO = """
import sys
from backprop_nb.config import ModelConfig
from backprop_nb.models import resolve_source, _load
import torch
mcfg = ModelConfig(name=sys.argv[1], backend='auto', dtype='float32')
notes = []
model, backend = _load(resolve_source(mcfg.name), mcfg, 'cpu', torch.float32, 2048, 'unsloth', notes)
print(backend); print(notes[0] if notes else '')
"""


def test_auto_falls_back_to_transformers_when_unsloth_refuses(work):
    "`auto` on a GPU picks unsloth; when unsloth refuses (here: its CPU fallback switched off), one note, and transformers."
    env = dict(os.environ, UNSLOTH_DISABLE_CPU_FALLBACK='1')
    r = subprocess.run([sys.executable, '-c', AUTO, str(work / 'model')], capture_output=True, text=True, env=env, timeout=300)
    assert r.returncode == 0, r.stderr[-2000:]
    backend, note = r.stdout.strip().splitlines()[-2:]
    print('fallback note:', note)
    assert backend == 'transformers' and note.startswith('unsloth could not load model (') and 'transformers + peft is used' in note
