"""Every user notebook runs headless under papermill with its default parameters and leaves a real PNG plot;
a 2×2 grid batch produces the results table. Notebooks that take more than ~2 minutes here are `slow`."""
import csv, json, math
from pathlib import Path
import pytest

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = [                                             # (notebook, parameters shrunk for the default run)
    pytest.param('nbs/tutorials/lora_from_scratch.ipynb', {}, id='lora_from_scratch'),
    pytest.param('nbs/tutorials/progressive.ipynb', {}, id='progressive'),
    pytest.param('nbs/tutorials/evaluate.ipynb', {}, id='evaluate'),
    pytest.param('nbs/tutorials/what_is_trained.ipynb', {'steps': 4, 'n_heldout': 8}, id='what_is_trained'),
    pytest.param('nbs/tutorials/qlora_numbers.ipynb', {}, id='qlora_numbers'),
    pytest.param('nbs/tutorials/slao_by_hand.ipynb', {'steps_per_task': 4}, id='slao_by_hand'),
    pytest.param('nbs/tutorials/failing_run.ipynb', {}, id='failing_run'),
    pytest.param('nbs/tutorials/train.ipynb', {}, id='train', marks=pytest.mark.slow),   # also run interactively by test_browser
    pytest.param('nbs/tutorials/continual.ipynb', {}, id='continual', marks=pytest.mark.slow),
    pytest.param('index.ipynb', {}, id='index', marks=pytest.mark.slow),
    pytest.param('nbs/tutorials/what_is_trained.ipynb', {}, id='what_is_trained-full', marks=pytest.mark.slow),
    pytest.param('nbs/tutorials/slao_by_hand.ipynb', {}, id='slao_by_hand-full', marks=pytest.mark.slow),
]


# What each notebook must have computed (its default parameters), not only that it wrote some numbers.
CHECKS = {
    'lora_from_scratch': lambda m: m['forward_error'] <= 1e-6 and m['backward_error'] <= 1e-5 and m['final_loss'] < 1e-2,
    'progressive': lambda m: m['stacks'] == 3 and m['final_eval_loss'] < math.log(256),     # better than uniform bytes
    'evaluate': lambda m: 0 <= m['base_exact_match'] <= m['tuned_exact_match'] <= 1 and m['gguf_mib'] > 100,
    'train': lambda m: m['status'] == 'finished' and m['steps'] == 60 and m['tuned_exact_match'] > m['base_exact_match'],
    'continual': lambda m: 0 <= m['AA'] <= 1 and -1 <= m['BWT'] <= 1 and m['seconds'] > 0 and m['bench_orders'] == 2
                           and 0 <= m['bench_slao_AA'] <= 1 and 0 <= m['bench_sequential_AA'] <= 1,
    'index': lambda m: m['final_loss'] < 1.0 and m['tuned_exact_match'] > m['base_exact_match'],
    'what_is_trained': lambda m: m['mask_equal_by_hand'] and m['prompt_loss_every_token'] < m['prompt_loss_replies_only'],
    'qlora_numbers': lambda m: m['packed_bit_exact'] and m['dequant_bit_exact'] and m['nf4_code_error'] < 1e-6
                               and m['dq_codes_equal_share'] >= 0.99 and m['planner_rel_diff'] < 1e-4,
    'slao_by_hand': lambda m: m['orth_init_error'] <= 1e-6 and m['by_hand_max_diff'] <= 1e-6 and 0 <= m['AA'] <= 1,
    'failing_run': lambda m: {'low_coverage', 'loss_flat', 'eval_flat'} <= set(m['failing_alerts']) and m['fixed_alerts'] == []
                             and m['fixed_eval_loss'] < m['failing_eval_loss'],
}


def n_png(nb_path) -> int:
    import nbformat
    nb = nbformat.read(str(nb_path), as_version=4)
    return sum('image/png' in o.get('data', {}) for c in nb.cells if c.cell_type == 'code' for o in c.get('outputs', []))


@pytest.mark.parametrize('nb,params', NOTEBOOKS)
def test_user_notebook_under_papermill(nb, params, tmp_path):
    from backprop_nb.notebook_runs import run_notebook
    from backprop_nb.testing import has_png
    rec = run_notebook(ROOT / nb, params, root=tmp_path)
    assert rec['status'] == 'finished', rec['error']
    out = Path(rec['run_dir'])
    assert has_png(out / 'notebook.ipynb'), 'no PNG in the executed notebook'
    name = Path(nb).stem if nb != 'index.ipynb' else 'index'
    assert CHECKS[name](rec['metrics']), rec['metrics']
    print(nb, f'{rec["seconds"]:.0f}s', rec['metrics'], f'{n_png(out / "notebook.ipynb")} PNGs')


def test_batch_2x2_grid(tmp_path):
    from backprop_nb.notebook_runs import run_grid
    grid = tmp_path / 'grid.yaml'
    grid.write_text('r: [2, 4]\nalpha: [4, 8]\n')
    res = run_grid(ROOT / 'nbs/tutorials/lora_from_scratch.ipynb', grid, root=tmp_path)
    rows = list(csv.DictReader(open(res['dir'] / 'results.csv')))
    assert len(rows) == 4 and all(r['status'] == 'finished' for r in rows), rows
    assert {(r['r'], r['alpha']) for r in rows} == {('2', '4'), ('2', '8'), ('4', '4'), ('4', '8')}
    assert all(float(r['final_loss']) < 1e-2 for r in rows)
    table = (res['dir'] / 'results.md').read_text()
    assert table.count('\n| ') >= 5 and 'final_loss' in table
