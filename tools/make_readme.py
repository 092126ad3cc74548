#!/usr/bin/env python
"""Write README.md from index.ipynb (nbdev_readme needs Quarto, which is not available here).

Markdown cells are copied as they are, code cells become ```python blocks; cells tagged `hide` or
`parameters` and nbdev directives are left out. The output is deterministic, so CI can check that the
committed README.md is current: `python tools/make_readme.py --check`.
"""
import json, sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
HEADER = '<!-- Generated from index.ipynb by tools/make_readme.py; edit the notebook, not this file. -->\n\n'


def render(nb) -> str:
    out = []
    for c in nb['cells']:
        src = ''.join(c['source']) if isinstance(c['source'], list) else c['source']
        tags = set(c.get('metadata', {}).get('tags') or [])
        if tags & {'hide', 'parameters', 'remove_cell'} or src.lstrip().startswith('#| hide'): continue
        if c['cell_type'] == 'markdown': out.append(src.strip())
        elif c['cell_type'] == 'code':
            code = '\n'.join(l for l in src.splitlines() if not l.startswith('#|')).strip()
            if code: out.append(f'```python\n{code}\n```')
    return HEADER + '\n\n'.join(out) + '\n'


def main(argv):
    text = render(json.loads((ROOT / 'index.ipynb').read_text()))
    readme = ROOT / 'README.md'
    if '--check' in argv:
        if not readme.exists() or readme.read_text() != text:
            print('README.md is stale: run `python tools/make_readme.py` and commit it.', file=sys.stderr); return 1
        return 0
    readme.write_text(text)
    return 0


if __name__ == '__main__': sys.exit(main(sys.argv[1:]))
