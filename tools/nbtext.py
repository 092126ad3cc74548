#!/usr/bin/env python
"""Convert notebooks to and from a plain-text cell format, for editing notebooks as text.

The notebook stays the source of truth (nbdev); this tool only makes editing easier:

    python tools/nbtext.py to-text nbs/00_config.ipynb > /tmp/00_config.txt
    python tools/nbtext.py to-nb /tmp/00_config.txt nbs/00_config.ipynb

Format: each cell starts with a marker line `# %%` (code) or `# %% [markdown]`;
cell tags follow as `# %% tags=parameters,other`. Everything up to the next
marker is the cell source (leading/trailing blank lines dropped); markdown lines
are commented with '# ' (a lone '#' is a blank line), as in jupytext.
"""
import hashlib, json, re, sys
from pathlib import Path

_MARK = re.compile(r'^# %%(?: \[(markdown|md)\])?(?: tags=([\w,\-]+))?\s*$')


def text_to_cells(text):
    "Split text in the marker format into notebook cells."
    cells, cur = [], None
    for line in text.splitlines():
        m = _MARK.match(line)
        if m:
            if cur: cells.append(cur)
            kind = 'markdown' if m.group(1) else 'code'
            tags = [t for t in (m.group(2) or '').split(',') if t]
            cur = dict(cell_type=kind, metadata={'tags': tags} if tags else {}, src=[])
        elif cur is not None: cur['src'].append(line)
    if cur: cells.append(cur)
    out = []
    for c in cells:
        while c['src'] and not c['src'][-1].strip(): c['src'].pop()
        while c['src'] and not c['src'][0].strip(): c['src'].pop(0)
        lines = [_uncomment(l) for l in c['src']] if c['cell_type'] == 'markdown' else c['src']
        src = '\n'.join(lines)
        cell = dict(cell_type=c['cell_type'], metadata=c['metadata'], source=_lines(src))
        if c['cell_type'] == 'code': cell.update(execution_count=None, outputs=[])
        out.append(cell)
    return out


def _uncomment(line):
    "Markdown lines are written commented ('# text', or '#' for a blank line), as jupytext does."
    return line[2:] if line.startswith('# ') else '' if line == '#' else line


def _lines(src):
    parts = src.split('\n')
    return [p + '\n' for p in parts[:-1]] + [parts[-1]] if src else []


def _src(c): return ''.join(c['source']) if isinstance(c['source'], list) else c['source']


def _add_ids(cells, old_cells):
    "Give every cell a stable id: the old cell's id when its source is unchanged, else one derived from content."
    old = {}
    for c in old_cells:
        if c.get('id'): old.setdefault(_src(c), []).append(c['id'])
    used = set()
    for c in cells:
        cid = next((i for i in old.get(_src(c), []) if i not in used), None)
        k = 0
        while cid is None or cid in used:
            cid = hashlib.sha1(f"{k}:{_src(c)}".encode()).hexdigest()[:8]; k += 1
        used.add(cid)
        c['id'] = cid
    return cells


def to_nb(text, old=None):
    "Build a notebook dict from text, keeping the metadata and cell ids of `old` when given."
    meta = (old or {}).get('metadata') or {
        'kernelspec': {'display_name': 'python3', 'language': 'python', 'name': 'python3'}}
    cells = _add_ids(text_to_cells(text), (old or {}).get('cells', []))
    return dict(cells=cells, metadata=meta, nbformat=4, nbformat_minor=5)


def to_text(nb):
    "Render a notebook dict in the marker format."
    out = []
    for c in nb['cells']:
        tags = c.get('metadata', {}).get('tags') or []
        mark = '# %%' + (' [markdown]' if c['cell_type'] == 'markdown' else '')
        if tags: mark += ' tags=' + ','.join(tags)
        src = _src(c)
        if c['cell_type'] == 'markdown': src = '\n'.join(('# ' + l) if l else '#' for l in src.split('\n'))
        out += [mark, src, '']
    return '\n'.join(out)


def main(argv):
    cmd, src = argv[0], Path(argv[1])
    if cmd == 'to-text': sys.stdout.write(to_text(json.loads(src.read_text())))
    elif cmd == 'to-nb':
        dest = Path(argv[2])
        old = json.loads(dest.read_text()) if dest.exists() else None
        dest.parent.mkdir(parents=True, exist_ok=True)
        dest.write_text(json.dumps(to_nb(src.read_text(), old), indent=1, ensure_ascii=False, sort_keys=True) + '\n')
    else: raise SystemExit(f'unknown command {cmd!r}: use to-text or to-nb')


if __name__ == '__main__': main(sys.argv[1:])
