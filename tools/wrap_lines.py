#!/usr/bin/env python
"""Wrap the code lines of the notebooks that run past 100 characters, and only those, in the house style.

    python tools/wrap_lines.py [NOTEBOOK ...]      # default: nbs/**/*.ipynb and index.ipynb; then nbdev_export

A long line is broken after a comma (or before `if` / `else` / `for` / `and` / `or`) inside brackets, filling
each line up to the limit, the rest aligned under the opening bracket; a long string inside brackets is split
into two adjacent literals at a space; a trailing comment that alone makes a line long moves above it;
`a; b` on one plain line becomes two lines. Lines at bracket depth 0 that cannot be broken this way stay.
A cell is rewritten only when its syntax tree is unchanged (`ast.dump`), so behaviour cannot change."""
import ast, io, json, re, sys, tokenize
from collections import namedtuple
from pathlib import Path

LIMIT = 100
OPEN, CLOSE = '([{', ')]}'
COMPOUND = re.compile(r'\s*(if|elif|else|for|while|with|def|class|try|except|finally|async|match|case)\b')


Scan = namedtuple('Scan', 'breaks strings depth_at comment colon assign')

def scan(line:str, stack:list) -> Scan:
    "Walk a line: break points, string spans, the open brackets at each char, where a comment starts, ':' and '='."
    stack, breaks, strings, depth_at, i, n = list(stack), [], [], [], 0, len(line)
    kinds, targets = ['('] * len(stack), set()          # bracket kinds; depths inside a `for ... in` target
    colon = assign = None                               # the first ':' and ' = ' at depth 0
    while i < n:
        c = line[i]
        m = re.match(r'([rRbBfFuU]{0,2})(\'\'\'|"""|\'|")', line[i:]) if c.isalpha() or c in '\'"' else None
        if m and (i == 0 or not (line[i-1].isalnum() or line[i-1] == '_')):
            q, j = m.group(2), i + len(m.group(0))
            while j < n and line[j:j+len(q)] != q: j += 2 if line[j] == '\\' else 1
            end = min(n, j + len(q))
            strings.append((i, end, m.group(1), q))
            depth_at += [list(stack)] * (end - i); i = end; continue
        if c == '#': return Scan(breaks, strings, depth_at, i, colon, assign)
        if c in OPEN:
            subscript = c == '[' and i > 0 and (line[i-1].isalnum() or line[i-1] in '_)]')
            stack.append(i); kinds.append('sub' if subscript else c)
        elif c in CLOSE and stack: stack.pop(); kinds.pop()
        depth_at.append(list(stack))
        d = len(stack)
        ok = stack and kinds[-1] != 'sub' and d not in targets
        if ok and c == ',' and i + 1 < n and line[i+1] == ' ': breaks.append((i + 2, d))
        if ok and re.match(r' (if|else|for|and|or) ', line[i:]): breaks.append((i + 1, d))
        if stack and re.match(r' for ', line[i:]): targets.add(d)
        if stack and re.match(r' in ', line[i:]): targets.discard(d)
        if not stack and c == ':' and line[i+1:i+2] != '=' and colon is None: colon = i
        if not stack and c == '=' and line[i-1:i] == ' ' and line[i+1:i+2] == ' ' and assign is None: assign = i
        i += 1
    return Scan(breaks, strings, depth_at, None, colon, assign)


def _split_string(line, strings, depth_at, lo):
    "Split the string literal that crosses the limit at its last space that fits; (head, tail, indent) or None."
    for a, b, prefix, q in strings:
        if not (a < LIMIT - 2 < b) or len(q) == 3 or 'b' in prefix.lower() or not depth_at[a]: continue
        body, braces = line[a:LIMIT - 2], 0
        for k in range(len(body) - 1, len(prefix) + len(q), -1):
            seg = body[:k]
            inside = 'f' in prefix.lower() and seg.count('{') - seg.count('}') != 0
            if body[k] == ' ' and not inside and a + k + 1 > lo:
                cut = a + k + 1
                return line[:cut] + q, prefix + q + line[cut:], depth_at[a][-1] + 1
    return None


PARENS = True     # may wrap a depth-0 expression in parentheses (turned off for a cell whose tree would change)

def wrap_line(line:str, stack=()) -> list:
    "One long physical line as several, or as it was when it cannot be broken safely."
    ind = len(line) - len(line.lstrip())
    breaks, strings, depth_at, comment, colon, assign = scan(line, list(stack))
    code_end = comment if comment is not None else len(line)
    if not stack and COMPOUND.match(line) and colon is not None and line[colon+1:code_end].strip():
        head, body = line[:colon+1], ' ' * (ind + 4) + line[colon+1:].strip()      # `if x: y` -> two lines
        return [l for part in (head, body) for l in (wrap_line(part) if len(part) > LIMIT else [part])]
    if comment is not None and comment > ind and len(line[:comment].rstrip()) <= LIMIT:
        return [' ' * ind + line[comment:], line[:comment].rstrip()]          # the comment moves above
    if not stack and not COMPOUND.match(line) and '; ' in line[:comment]:
        parts = _semicolons(line, strings, depth_at, comment)
        if parts: return [l for p in parts for l in (wrap_line(p) if len(p) > LIMIT else [p])]
    if PARENS and not stack and not COMPOUND.match(line) and comment is None:
        wrapped = _parenthesized(line, stack, assign)
        if wrapped: return wrapped
    fits = [(b, d) for b, d in breaks if len(line[:b].rstrip()) <= LIMIT and b > ind + 8]
    if fits:
        b = _best(line, fits)
        own = depth_at[b - 1] and len(depth_at[b - 1]) > len(stack)     # the bracket opened on this line
        col = depth_at[b - 1][-1] + 1 if own else ind if stack else ind + 4
        col = col if col <= 60 else ind + 8
        head, rest = line[:b].rstrip(), ' ' * col + line[b:].lstrip()
        return [head] + (wrap_line(rest, _stack_after(line, b, stack, col)) if len(rest) > LIMIT else [rest])
    split = _split_string(line, strings, depth_at, ind + 8)
    if split:
        head, tail, col = split
        col = col if col <= 60 else ind + 8
        rest = ' ' * col + tail.lstrip()
        return [head] + (wrap_line(rest, _stack_after(line, len(head) - 1, stack, col)) if len(rest) > LIMIT else [rest])
    return [line]


def _best(line, fits):
    "The break to take: as far out as possible, a comma before an operator, as late as possible."
    shallow = min(d for _, d in fits)
    outer = [b for b, d in fits if d == shallow]
    commas = [b for b in outer if line[b - 2] == ',']
    return (commas or outer)[-1]


def _parenthesized(line, stack, assign):
    "`x = a if b else c` / `return a and b` wrapped in parentheses (same tree) when the break then falls at them."
    if line.rstrip().endswith((',', '\\')): return None
    m = re.match(r'\s*(return|yield|raise|assert) ', line)
    at = m.end() if m else (assign + 2 if assign is not None else None)
    if at is None or not line[at:].strip() or line[at:].lstrip().startswith('('): return None
    new = line[:at] + '(' + line[at:].rstrip() + ')'
    ind = len(line) - len(line.lstrip())
    fits = [(b, d) for b, d in scan(new, list(stack)).breaks if len(new[:b].rstrip()) <= LIMIT and b > ind + 8]
    if not fits or min(d for _, d in fits) != 1: return None
    return wrap_line(new, stack)


def _stack_after(line, b, stack, col):
    "The open brackets at `b`, as columns where the next line would align (approximate, only for indents)."
    return [col - 1] * len(scan(line[:b], list(stack))[2][-1]) if b else list(stack)


def _semicolons(line, strings, depth_at, comment):
    "Split `a; b` (at depth 0, outside strings) into lines of the same indentation."
    ind, end = len(line) - len(line.lstrip()), comment if comment is not None else len(line)
    in_str = lambda i: any(a <= i < b for a, b, *_ in strings)
    cuts = [i for i in range(end - 1) if line[i:i+2] == '; ' and not in_str(i) and not depth_at[i]]
    if not cuts: return None
    parts, prev = [], 0
    for c in cuts: parts.append(line[prev:c]); prev = c + 2
    parts.append(line[prev:])
    return [' ' * ind + p.strip() if k else p.rstrip() for k, p in enumerate(parts)]


def open_brackets(src:str) -> dict:
    "Line number (1-based) -> columns of the brackets still open when that line starts."
    out, stack = {}, []
    try: toks = list(tokenize.generate_tokens(io.StringIO(src).readline))
    except (tokenize.TokenError, IndentationError, SyntaxError): return {}
    row = 0
    for t in toks:
        while row < t.start[0]: row += 1; out.setdefault(row, list(stack))
        if t.type == tokenize.OP and t.string in OPEN: stack.append(t.start[1])
        elif t.type == tokenize.OP and t.string in CLOSE and stack: stack.pop()
    return out


def wrap_source(src:str) -> str:
    "A cell's source with its long code lines wrapped, if its syntax tree stays the same."
    lines = src.split('\n')
    if not any(len(l) > LIMIT and not l.lstrip().startswith('#') for l in lines): return src
    try: before = ast.dump(ast.parse(src))
    except SyntaxError: return src
    opened = open_brackets(src)
    out = []
    for k, l in enumerate(lines, 1):
        multi = k in opened and _inside_string(src, k)
        out += wrap_line(l, opened.get(k, [])) if len(l) > LIMIT and not l.lstrip().startswith('#') and not multi else [l]
    new = '\n'.join(out)
    try: same = ast.dump(ast.parse(new)) == before
    except SyntaxError: same = False
    if same: return new
    global PARENS
    if not PARENS: return src
    PARENS = False
    try: return wrap_source(src)                         # again, without added parentheses
    finally: PARENS = True


def _inside_string(src, k):
    "Does line k start inside a triple-quoted string?"
    try:
        for t in tokenize.generate_tokens(io.StringIO(src).readline):
            if t.type == tokenize.STRING and t.start[0] < k <= t.end[0]: return True
    except tokenize.TokenError: return True
    return False


def wrap_notebook(path) -> int:
    nb = json.loads(Path(path).read_text())
    changed = 0
    for c in nb['cells']:
        if c['cell_type'] != 'code': continue
        src = ''.join(c['source'])
        new = wrap_source(src)
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
