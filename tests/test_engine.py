"""The training engine under real process conditions: kill -9 and resume, a crash in the middle of a
checkpoint write, stopping from outside (STOP file, SIGUSR1, stop()), and two processes under torchrun.

Everything runs the `backprop-nb` command (or `train`) on the tiny random Llama, saved as a real HF folder."""
import json, os, random, shutil, signal, subprocess, sys, threading, time
from pathlib import Path
import pytest
from safetensors.torch import load_file

ENV = dict(os.environ, HF_HUB_OFFLINE='1', TOKENIZERS_PARALLELISM='false', OMP_NUM_THREADS='1')
BIN = [sys.executable, '-m', 'backprop_nb.cli']


@pytest.fixture(scope='module')
def work(tmp_path_factory):
    from backprop_nb.models import tiny_model, tiny_tokenizer
    from backprop_nb.testing import toy_samples
    d = tmp_path_factory.mktemp('engine')
    tiny_model().save_pretrained(d / 'model'); tiny_tokenizer().save_pretrained(d / 'model')
    (d / 'data.jsonl').write_text(''.join(json.dumps({'messages': s.messages}) + '\n' for s in toy_samples(96)))
    return d


def args(work, steps=30, **kw):
    a = dict(model=work / 'model', data=work / 'data.jsonl', steps=steps, lr='3e-3', **{'train.batch_size': 4, 'train.grad_accum': 2,
             'lora.r': 8, 'train.save_steps': 5, 'train.eval_steps': 10, 'data.eval_fraction': 0.1}, **kw)
    return [x for k, v in a.items() for x in (f'--{k}', str(v))]


def run(*a, check=True):
    r = subprocess.run([*BIN, *map(str, a)], capture_output=True, text=True, env=ENV, timeout=600)
    if check: assert r.returncode == 0, r.stderr[-3000:]
    return r


def steps(run_dir):
    return [(r['step'], r['loss']) for r in map(json.loads, open(Path(run_dir) / 'metrics.jsonl')) if r['kind'] == 'step']


def adapter_diff(a, b):
    x, y = load_file(Path(a) / 'adapter' / 'adapter_model.safetensors'), load_file(Path(b) / 'adapter' / 'adapter_model.safetensors')
    assert x.keys() == y.keys()
    return max((x[k] - y[k]).abs().max().item() for k in x)


def wait_for_step(run_dir, step, proc, timeout=120):
    t0 = time.time()
    while time.time() - t0 < timeout:
        if proc.poll() is not None: raise AssertionError(f'training ended before step {step}: {proc.stderr.read()[-2000:]}')
        try:
            if any(s >= step for s, _ in steps(run_dir)): return
        except (FileNotFoundError, json.JSONDecodeError): pass
        time.sleep(0.02)
    raise TimeoutError(step)


@pytest.fixture(scope='module')
def reference(work):
    "An uninterrupted 30-step run: what every interrupted run must end up equal to."
    d = work / 'reference'
    run('train', *args(work), '--run-dir', d)
    return d


@pytest.mark.parametrize('k', [pytest.param(6, marks=pytest.mark.slow), 13,          # just after a checkpoint,
                               pytest.param(27, marks=pytest.mark.slow)])          # between two, near the end
def test_kill9_then_resume_is_exact(work, reference, k):
    d = work / f'killed-{k}'
    p = subprocess.Popen([*BIN, 'train', *args(work), '--run-dir', str(d)], env=ENV, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    wait_for_step(d, k, p)
    p.kill(); p.wait()
    print(f'killed at step {k}; checkpoints: {sorted(x.name for x in (d / "checkpoints").iterdir())}')
    run('resume', d)
    assert adapter_diff(reference, d) <= 1e-6
    assert steps(d) == steps(reference)          # the logged loss sequence is identical
    assert json.loads((d / 'status.json').read_text())['status'] == 'finished'


CRASH = """
import os, sys, transformers
real = transformers.Trainer._save_optimizer_and_scheduler
def crashing(self, output_dir):
    if self.state.global_step == int(os.environ['CRASH_AT']): os._exit(137)   # the adapter is written, the optimizer not yet
    return real(self, output_dir)
transformers.Trainer._save_optimizer_and_scheduler = crashing
from backprop_nb.cli import main
sys.exit(main(sys.argv[1:]))
"""


def test_crash_inside_checkpoint_write(work, reference):
    d = work / 'crashed'
    r = subprocess.run([sys.executable, '-c', CRASH, 'train', *args(work), '--run-dir', str(d)], env=dict(ENV, CRASH_AT='15'), capture_output=True, text=True)
    assert r.returncode == 137
    from backprop_nb.checkpoints import list_checkpoints
    assert [s for s, _ in list_checkpoints(d / 'checkpoints')][-1] == 10      # the half-written checkpoint-15 does not count
    assert not (d / 'checkpoints' / 'checkpoint-15').exists()
    run('resume', d)
    assert adapter_diff(reference, d) <= 1e-6 and steps(d) == steps(reference)
    assert not (d / 'checkpoints' / '.staging').exists()


@pytest.mark.parametrize('how', ['STOP file', 'SIGUSR1'])
def test_stop_from_outside_saves_within_one_step(work, reference, how):
    d = work / f'stopped-{how.split()[0]}'
    p = subprocess.Popen([*BIN, 'train', *args(work), '--run-dir', str(d)], env=ENV, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    wait_for_step(d, 8, p)
    asked = max(s for s, _ in steps(d))
    if how == 'STOP file': (d / 'STOP').touch()
    else: p.send_signal(signal.SIGUSR1)
    out, err = p.communicate(timeout=120)
    assert p.returncode == 0, err[-2000:]
    st = json.loads((d / 'status.json').read_text())
    assert st['status'] == 'stopped', st
    from backprop_nb.checkpoints import list_checkpoints
    saved = list_checkpoints(d / 'checkpoints')[-1][0]
    assert asked <= saved <= asked + 1 + 1, (asked, saved)   # the step in flight, plus at most one more
    run('resume', d)
    assert adapter_diff(reference, d) <= 1e-6 and steps(d) == steps(reference)


def test_stop_method_and_resume(work, reference, tmp_path):
    from backprop_nb.callbacks import StopControl
    from backprop_nb.config import load_config
    from backprop_nb.train import train, resume
    cfg = load_config(reference / 'config.yaml')
    cfg.run.dir = str(tmp_path / 'run')
    sc = StopControl(signals=False)
    def stop_at_7(ev):
        if ev.kind == 'step' and ev.step == 7: threading.Thread(target=sc.stop, args=('the Stop button',)).start()
    import torch
    threads = torch.get_num_threads()
    torch.set_num_threads(1)      # as the reference's process (OMP_NUM_THREADS=1): bit-exactness is per thread count
    try:
        r = train(cfg, listeners=[stop_at_7], stop=sc, progress=False)
        assert r.status == 'stopped' and r.step in (7, 8), (r.status, r.step)
        r2 = resume(r.run_dir, progress=False)
    finally: torch.set_num_threads(threads)
    assert r2.status == 'finished' and r2.step == 30
    assert steps(r.run_dir) == steps(reference), f'stopped at step {r.step}'
    assert adapter_diff(reference, r.run_dir) <= 1e-6, f'stopped at step {r.step}'


def test_two_processes_match_one(work):
    "torchrun --nproc_per_node 2 (gloo on CPU) with 2 samples per process = 1 process with 4: same losses."
    common = args(work, steps=12, **{'train.order': 'sequential'}) + ['--train.grad_accum', '1', '--data.eval_fraction', '0', '--train.save_steps', '100']
    one, two = work / 'one-proc', work / 'two-procs'
    run('train', *common, '--train.batch_size', '4', '--run-dir', one)
    r = subprocess.run([sys.executable, '-m', 'torch.distributed.run', '--nproc_per_node', '2', '-m', 'backprop_nb.cli', 'train', *common,
                        '--train.batch_size', '2', '--run-dir', str(two)], capture_output=True, text=True, env=ENV, timeout=600)
    assert r.returncode == 0, r.stderr[-3000:]
    a, b = steps(one), steps(two)
    assert [s for s, _ in a] == [s for s, _ in b] == list(range(1, 13))      # one writer, every step once
    worst = max(abs(x - y) / x for (_, x), (_, y) in zip(a, b))
    print(f'largest relative loss difference, 2 processes vs 1: {worst:.2e}')
    assert a[0][1] == pytest.approx(b[0][1], rel=1e-5)                    # the same first step
    assert worst < 1e-2                                                    # tolerance: 1 % (reduction order, then Adam)


LAUNCHER = """
import sys, json
from backprop_nb.launch import train_processes       # the first import of a fresh Kaggle kernel
from backprop_nb.config import make_config
cfg = make_config(**json.loads(sys.argv[1]))
st = train_processes(cfg, processes=2, run_dir=sys.argv[2])     # what a notebook cell on Kaggle's two T4s runs
print(json.dumps({'status': st['status'], 'step': st['step']}))
"""


def test_notebook_launcher_two_processes_match_one(work):
    "train_processes (accelerate's notebook launcher, 2 CPU processes) with 2 samples each = 1 process with 4."
    common = dict(model=str(work / 'model'), data=str(work / 'data.jsonl'), steps=12, lr=3e-3,
                  **{'train.order': 'sequential', 'train.grad_accum': 1, 'data.eval_fraction': 0, 'train.save_steps': 4,
                     'lora.r': 8, 'train.eval_steps': 10})
    one, two = work / 'one-proc-nb', work / 'two-procs-nb'
    run('train', *[x for k, v in common.items() for x in (f'--{k}', str(v))], '--train.batch_size', '4', '--run-dir', one)
    r = subprocess.run([sys.executable, '-c', LAUNCHER, json.dumps({**common, 'train.batch_size': 2}), str(two)],
                       capture_output=True, text=True, env=ENV, timeout=600)
    assert r.returncode == 0, r.stderr[-3000:]
    assert json.loads(r.stdout.strip().splitlines()[-1]) == {'status': 'finished', 'step': 12}
    a, b = steps(one), steps(two)
    assert [s for s, _ in a] == [s for s, _ in b] == list(range(1, 13))      # rank 0 alone wrote, every step once
    assert a[0][1] == pytest.approx(b[0][1], rel=1e-5)
    assert max(abs(x - y) / x for (_, x), (_, y) in zip(a, b)) < 1e-2
    # checkpoints written by both ranks through rank 0's staging folder, with barriers: all complete, none half-made
    saved = [r['step'] for r in map(json.loads, open(two / 'metrics.jsonl')) if r['kind'] == 'checkpoint']
    assert saved == [4, 8, 12], saved                                       # each once, written by rank 0
    assert sorted(p.name for p in (two / 'checkpoints').iterdir()) == ['checkpoint-12']   # pruned; no .staging left
    assert (two / 'checkpoints' / 'checkpoint-12' / 'adapter_model.safetensors').exists()


NAN = """
import sys, torch, backprop_nb.train as T
real = T._trainer_cls
def patched():
    cls = real()
    class Poisoned(cls):
        def compute_loss(self, model, inputs, **kw):
            loss = super().compute_loss(model, inputs, **kw)
            return loss * float('nan') if self.state.global_step >= 12 else loss     # the loss turns NaN at step 13
    return Poisoned
T._trainer_cls = patched
from backprop_nb.cli import main
sys.exit(main(sys.argv[1:]))
"""


def test_nan_loss_stops_and_keeps_last_good_checkpoint(work):
    d = work / 'nan'
    r = subprocess.run([sys.executable, '-c', NAN, 'train', *args(work), '--run-dir', str(d)], capture_output=True, text=True, env=ENV)
    assert r.returncode == 1, r.stderr[-2000:]
    st = json.loads((d / 'status.json').read_text())
    assert st['status'] == 'failed' and 'NaN' in st['message'], st
    alerts = [json.loads(l) for l in open(d / 'metrics.jsonl') if '"alert"' in l]
    assert [a['code'] for a in alerts if a['kind'] == 'alert'] == ['loss_nan']
    from backprop_nb.checkpoints import list_checkpoints
    last_good = list_checkpoints(d / 'checkpoints')[-1]
    assert last_good[0] == 10                                   # saved every 5 steps; nothing saved after the NaN
    a, b = load_file(d / 'adapter' / 'adapter_model.safetensors'), load_file(last_good[1] / 'adapter_model.safetensors')
    assert all((a[k] == b[k]).all() and a[k].isfinite().all() for k in a)    # the shipped adapter is the last good one


def test_first_ctrl_c_saves_second_aborts(work):
    d1, d2 = work / 'sigint-once', work / 'sigint-twice'
    p = subprocess.Popen([*BIN, 'train', *args(work), '--run-dir', str(d1)], env=ENV, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    wait_for_step(d1, 6, p)
    p.send_signal(signal.SIGINT)
    out, err = p.communicate(timeout=120)
    assert p.returncode == 0 and json.loads((d1 / 'status.json').read_text())['status'] == 'stopped', err[-2000:]
    assert 'Ctrl-C again to abort' in err
    p = subprocess.Popen([*BIN, 'train', *args(work), '--run-dir', str(d2)], env=ENV, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    wait_for_step(d2, 6, p)
    p.send_signal(signal.SIGINT); time.sleep(0.05); p.send_signal(signal.SIGINT)
    out, err = p.communicate(timeout=120)
    assert p.returncode == 130, (p.returncode, err[-2000:])      # aborted at once
    assert json.loads((d2 / 'status.json').read_text())['status'] == 'aborted'
