"""Every user notebook runs headless under papermill with its default parameters and leaves a real PNG plot;
a 2×2 grid batch produces the results table. Notebooks that take more than ~2 minutes here are `slow`."""
import csv, json
from pathlib import Path
import pytest

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = [
    pytest.param('nbs/tutorials/lora_from_scratch.ipynb', id='lora_from_scratch'),
    pytest.param('nbs/tutorials/progressive.ipynb', id='progressive'),
    pytest.param('nbs/tutorials/evaluate.ipynb', id='evaluate'),
    pytest.param('nbs/tutorials/train.ipynb', id='train', marks=pytest.mark.slow),           # also run interactively by test_browser
    pytest.param('nbs/tutorials/continual.ipynb', id='continual', marks=pytest.mark.slow),
    pytest.param('index.ipynb', id='index', marks=pytest.mark.slow),
]


@pytest.mark.parametrize('nb', NOTEBOOKS)
def test_user_notebook_under_papermill(nb, tmp_path):
    from backprop_nb.runs import run_notebook, has_png
    rec = run_notebook(ROOT / nb, root=tmp_path)
    assert rec['status'] == 'finished', rec['error']
    out = Path(rec['run_dir'])
    assert has_png(out / 'notebook.ipynb'), 'no PNG in the executed notebook'
    assert rec['metrics'], 'the notebook recorded no metrics'
    print(nb, f'{rec["seconds"]:.0f}s', rec['metrics'])


def test_batch_2x2_grid(tmp_path):
    from backprop_nb.runs import batch
    grid = tmp_path / 'grid.yaml'
    grid.write_text('r: [2, 4]\nalpha: [4, 8]\n')
    res = batch(ROOT / 'nbs/tutorials/lora_from_scratch.ipynb', grid, root=tmp_path)
    rows = list(csv.DictReader(open(res['dir'] / 'results.csv')))
    assert len(rows) == 4 and all(r['status'] == 'finished' for r in rows), rows
    assert {(r['r'], r['alpha']) for r in rows} == {('2', '4'), ('2', '8'), ('4', '4'), ('4', '8')}
    assert all(float(r['final_loss']) < 1e-2 for r in rows)
    table = (res['dir'] / 'results.md').read_text()
    assert table.count('\n| ') >= 5 and 'final_loss' in table
