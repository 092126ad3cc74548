"""The package's shape, checked on the exported modules: imports go only to lower-numbered notebooks, no module
takes a `_private` name from another, no widget or display code outside `ui/`, and fixtures stay in `testing`."""
import ast, re
from pathlib import Path

PKG = Path(__file__).resolve().parents[1] / 'backprop_nb'
MODULES = {p: p.read_text() for p in PKG.rglob('*.py') if p.name not in ('_modidx.py', '__init__.py')}


def name(p): return p.stem if p.parent == PKG else f'{p.parent.name}.{p.stem}'


def number(src):
    "The notebook a module is exported from, as a sortable (number, letter)."
    m = re.search(r'File to edit: (?:\.\./)+nbs/(\d+)([a-z]?)_', src)
    return (int(m.group(1)), m.group(2)) if m else None


def imports(src, mod):
    "(module imported, names) for every `from backprop_nb.X` / `from .X` import, also inside functions."
    for node in ast.walk(ast.parse(src)):
        if isinstance(node, ast.ImportFrom) and node.module:
            if node.level == 0 and not node.module.startswith('backprop_nb.'): continue
            if node.level == 0: target = node.module[len('backprop_nb.'):]
            elif node.level == 1: target = (mod.rsplit('.', 1)[0] + '.' if '.' in mod else '') + node.module
            else: target = node.module
            yield target, [a.name for a in node.names]


NUMBERS = {name(p): number(s) for p, s in MODULES.items()}


def test_every_module_comes_from_a_numbered_notebook():
    assert all(NUMBERS.values()), {k: v for k, v in NUMBERS.items() if not v}


def test_imports_only_from_lower_numbers():
    upward = [(name(p), t) for p, s in MODULES.items() for t, _ in imports(s, name(p))
              if t in NUMBERS and NUMBERS[t] > NUMBERS[name(p)]]
    assert upward == [], upward


def test_no_private_names_across_modules():
    private = [(name(p), t, n) for p, s in MODULES.items() for t, ns in imports(s, name(p)) for n in ns
               if n.startswith('_') and t != name(p)]
    assert private == [], private


def test_no_ui_imports_outside_ui():
    ui = re.compile(r'^\s*(import|from)\s+(ipywidgets|IPython\.display|jupyter_ui_poll)\b', re.M)
    assert [name(p) for p, s in MODULES.items() if p.parent.name != 'ui' and ui.search(s)] == []


def test_no_module_imports_train_to_read_data_or_fixtures():
    moved = {'read_data', 'split_eval', 'prepare_data', 'toy_samples', 'tiny_config', 'add_compact_loss'}
    wrong = [(name(p), n) for p, s in MODULES.items() for t, ns in imports(s, name(p)) for n in ns
             if t != 'prepare' and t != 'testing' and t != 'loss' and n in moved]
    assert wrong == [], wrong
