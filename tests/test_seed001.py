"""Seed 001's failing QLoRA run, reproduced on the embedded model: the diagnostics must fire, and the setup
they suggest must make the loss fall by at least 0.5."""
import os
import pytest

os.environ.setdefault('HF_HUB_OFFLINE', '1')
DATA = 'bundled:elements,bundled:countries,bundled:unicode,bundled:mime'      # 1,756 real rows


@pytest.mark.slow
def test_seed001_failing_setup_is_caught_and_fixed(tmp_path):
    from backprop_nb.config import make_config
    from backprop_nb.train import train
    from backprop_nb.prepare import read_data
    n = len(read_data(make_config(data=DATA)).samples)
    steps = round(0.09 * n / 8)                                                  # ~9 % of the data at effective batch 8
    failing = make_config(**{'data.path': DATA, 'train.lr': 5e-5, 'train.scheduler': 'cosine', 'train.min_lr_ratio': 0.0, 'train.warmup_ratio': 0.0,
                             'train.batch_size': 1, 'train.grad_accum': 8, 'train.max_steps': steps, 'run.root': str(tmp_path), 'run.name': 'seed001'})
    r = train(failing, progress=False)
    codes = {a.code: a for a in r.alerts()}
    print(f'failing setup: {n} rows, {steps} steps, loss {r.losses()[0]:.3f} → {r.losses()[-1]:.3f}; alerts: {sorted(codes)}')
    for a in r.alerts(): print(' ', a)
    assert 'low_coverage' in codes and codes['low_coverage'].values['share'] <= 0.10
    assert 'loss_flat' in codes                                                  # and, as in seed 001, the loss does not fall
    # the fix the diagnostics give: one epoch; and the LR follows the dataset size, with a cosine floor
    need = codes['low_coverage'].values['need_steps']
    fixed = make_config(**{'data.path': DATA, 'train.batch_size': 8, 'train.grad_accum': 1, 'train.max_steps': need,
                           'run.root': str(tmp_path), 'run.name': 'fixed'})
    f = train(fixed, progress=False)
    print(f'suggested setup: {need} steps at LR {f.events[0].lr:.0e}: loss {f.losses()[0]:.3f} → {f.losses()[-1]:.3f}; alerts: {sorted(a.code for a in f.alerts())}')
    evals = [e.loss for e in f.events if e.kind == 'eval']
    assert f.losses()[0] - min(f.losses()[-5:]) >= 0.5
    assert evals[-1] < [e.loss for e in r.events if e.kind == 'eval'][-1] - 0.5      # and it generalises: held-out loss far lower
    assert 'low_coverage' not in {a.code for a in f.alerts()}
