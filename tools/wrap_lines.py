#!/usr/bin/env python
"""Wrap the code lines of the notebooks that run past 100 characters, and only those.

    python tools/wrap_lines.py [NOTEBOOK ...]      # default: nbs/**/*.ipynb and index.ipynb

Uses black on just the statements that hold a long line (`lines=`), with black's string splitting, so the
compact style of the rest stays as it is. Needs black (`pip install black`); then run nbdev_export."""
import json, sys
from pathlib import Path
import black

LIMIT = 100
MODE = black.Mode(line_length=LIMIT, string_normalization=False, magic_trailing_comma=False, preview=True,
                  enabled_features={black.Preview.string_processing})


def long_lines(src):
    "1-based numbers of the code lines longer than the limit."
    return [i for i, l in enumerate(src.splitlines(), 1) if len(l) > LIMIT and not l.lstrip().startswith('#')]


def wrap(src):
    "The cell's source with its long statements re-wrapped (unchanged when black cannot parse it)."
    lines = long_lines(src)
    if not lines or src.lstrip().startswith(('%', '!')): return src
    try: out = black.format_str(src, mode=MODE, lines=[(i, i) for i in lines])
    except Exception: return src
    return out.rstrip('\n') if not src.endswith('\n') else out


def wrap_notebook(path):
    nb = json.loads(Path(path).read_text())
    changed = 0
    for c in nb['cells']:
        if c['cell_type'] != 'code': continue
        src = ''.join(c['source'])
        new = wrap(src)
        if new != src:
            parts = new.split('\n')
            c['source'] = [p + '\n' for p in parts[:-1]] + ([parts[-1]] if parts[-1] else [])
            changed += 1
    if changed: Path(path).write_text(json.dumps(nb, indent=1, ensure_ascii=False) + '\n')
    return changed


if __name__ == '__main__':
    root = Path(__file__).resolve().parents[1]
    paths = sys.argv[1:] or [*sorted(root.glob('nbs/**/*.ipynb')), root / 'index.ipynb']
    for p in paths:
        n = wrap_notebook(p)
        if n: print(f'{p}: {n} cells wrapped')
