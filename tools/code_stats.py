#!/usr/bin/env python
"""Function sizes and line lengths of the package (issue 13's measures): `python tools/code_stats.py`."""
import ast, statistics, sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def functions(path):
    "(qualified name, number of lines) of every function in a module."
    tree = ast.parse(path.read_text())
    return [(f'{path.stem}.{n.name}', n.end_lineno - n.lineno + 1)
            for n in ast.walk(tree) if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef))]


def code_lines(path):
    "Lines that hold code (no blank lines, no comment-only lines)."
    return [l for l in path.read_text().splitlines() if l.strip() and not l.lstrip().startswith('#')]


def main(limit=100):
    mods = sorted(p for p in (ROOT/'backprop_nb').rglob('*.py') if p.name != '_modidx.py')
    fns = [f for p in mods for f in functions(p)]
    sizes = sorted(n for _, n in fns)
    lines = [l for p in mods for l in code_lines(p)]
    long = sum(len(l) > limit for l in lines)
    print(f'modules {len(mods)}, functions {len(fns)}, median {statistics.median(sizes)} lines, '
          f'under 15 lines {sum(s < 15 for s in sizes) / len(sizes):.0%}, p90 {sizes[int(0.9 * len(sizes))]}')
    print(f'code lines {len(lines)}, over {limit} characters {long} ({long / len(lines):.1%})')
    print('longest functions:', ', '.join(f'{n} ({k})' for n, k in sorted(fns, key=lambda x: -x[1])[:8]))


if __name__ == '__main__': sys.exit(main())
