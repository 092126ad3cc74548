#!/usr/bin/env python
"""Fail when nbdev_export, nbdev_clean or the README generator would change a file.

Runs all three (so a local run also fixes the tree) and compares the content of every file they may
touch before and after. In CI (a clean checkout) any change means something was committed out of sync.
"""
import hashlib, subprocess, sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def snapshot():
    files = [*ROOT.glob('nbs/**/*.ipynb'), *ROOT.glob('backprop_nb/**/*.py'), ROOT / 'index.ipynb', ROOT / 'README.md']
    return {str(p.relative_to(ROOT)): hashlib.sha1(p.read_bytes()).hexdigest() for p in files if p.exists() and '.ipynb_checkpoints' not in p.parts}


def main():
    before = snapshot()
    py = sys.executable
    steps = [[py, '-c', 'from nbdev.doclinks import nbdev_export; nbdev_export()'],
             [py, '-c', 'from nbdev.clean import nbdev_clean; nbdev_clean(); nbdev_clean(fname="index.ipynb")'],
             [py, str(ROOT / 'tools' / 'make_readme.py')]]
    for s in steps: subprocess.run(s, cwd=ROOT, check=True)
    after = snapshot()
    changed = sorted(k for k in before.keys() | after.keys() if before.get(k) != after.get(k))
    if changed:
        print('out of sync (nbdev_export / nbdev_clean / make_readme changed these; commit the result):', *changed, sep='\n  ', file=sys.stderr)
        return 1
    print('notebooks, modules and README are in sync.')
    return 0


if __name__ == '__main__': sys.exit(main())
