"""The part of a GitHub Actions workflow that benchmarks/simulate_ci.py runs: the
workflow's env and its one job's steps (name, uses, if, run, continue-on-error).

Not a YAML parser: it reads the subset examples/ci-compare.yml is written in (block
mappings, one list of steps, `|` blocks, quoted or plain scalars) and refuses what it
does not understand, so a change to the file that it would misread stops the
simulation instead of passing silently.
"""

from __future__ import annotations

import re

KEY_RE = re.compile(r"^(\s*)(- )?([A-Za-z_][\w-]*):(?: (.*))?$")
EXPR_RE = re.compile(r"\$\{\{\s*(.*?)\s*\}\}")


class WorkflowError(ValueError):
    pass


def _indent(line):
    return len(line) - len(line.lstrip(" "))


def _scalar(text):
    text = text.strip()
    if len(text) >= 2 and text[0] == text[-1] and text[0] in "\"'":
        return text[1:-1]
    return text


def _block(lines, i, parent_indent):
    """The lines of a `|` block after line i: (text, next index)."""
    body = []
    j = i + 1
    while j < len(lines) and (not lines[j].strip() or _indent(lines[j]) > parent_indent):
        body.append(lines[j])
        j += 1
    while body and not body[-1].strip():
        body.pop()
    cut = min((_indent(b) for b in body if b.strip()), default=0)
    return "\n".join(b[cut:] for b in body) + "\n", j


def parse(text):
    """(workflow env, steps): env a dict, steps a list of dicts with the keys above."""
    lines = [ln.rstrip() for ln in text.splitlines() if ln.strip() and not ln.lstrip().startswith("#")]
    env, steps = {}, []
    i = 0
    while i < len(lines):
        m = KEY_RE.match(lines[i])
        if m and m.group(1) == "" and m.group(3) == "env":
            i += 1
            while i < len(lines) and _indent(lines[i]) > 0:
                k = KEY_RE.match(lines[i])
                if not k:
                    raise WorkflowError(f"env: cannot read {lines[i].strip()!r}")
                env[k.group(3)] = _scalar(k.group(4) or "")
                i += 1
            continue
        if m and m.group(3) == "steps":
            steps, i = _steps(lines, i + 1, _indent(lines[i]))
            continue
        i += 1
    if not steps:
        raise WorkflowError("no steps: found")
    return env, steps


def _steps(lines, i, steps_indent):
    steps = []
    while i < len(lines) and _indent(lines[i]) > steps_indent:
        m = KEY_RE.match(lines[i])
        if m and m.group(2):  # "- key: ..." starts a step
            steps.append({})
            key_indent = len(m.group(1)) + 2
        elif not steps or not m or len(m.group(1)) != key_indent:
            raise WorkflowError(f"steps: cannot read {lines[i].strip()!r}")
        key, value = m.group(3), m.group(4)
        if value == "|":
            steps[-1][key], i = _block(lines, i, key_indent)
            continue
        if value is None:  # a nested mapping (with:): the simulation does not need it
            i += 1
            while i < len(lines) and _indent(lines[i]) > key_indent:
                i += 1
            continue
        steps[-1][key] = _scalar(value)
        i += 1
    return steps, i


STATUS_FUNCTIONS = {"always()", "!cancelled()", "success()", "failure()"}


def condition(expr, context, job_ok):
    """A step's if: for the forms the workflow uses: github.X == 'v', github.X != 'v',
    always(), !cancelled(), success(), failure(), joined by &&. Without a status
    function, success() is implied, as in Actions."""
    if expr is None:
        return job_ok
    expr = expr.strip()
    m = re.fullmatch(r"\$\{\{(.*)\}\}", expr)
    if m:
        expr = m.group(1).strip()
    terms = [t.strip() for t in expr.split("&&")]
    if not STATUS_FUNCTIONS & set(terms):
        terms.append("success()")
    result = True
    for t in terms:
        if t in ("always()", "!cancelled()"):
            continue
        if t == "success()":
            result &= job_ok
        elif t == "failure()":
            result &= not job_ok
        else:
            c = re.fullmatch(r"(github\.\w+)\s*(==|!=)\s*'([^']*)'", t)
            if not c or c.group(1) not in context:
                raise WorkflowError(f"if: {t!r} is not a form the simulation understands")
            result &= (context[c.group(1)] == c.group(3)) == (c.group(2) == "==")
    return result


def substitute(text, context):
    """${{ name }} replaced from context; an unknown expression is an error."""

    def one(m):
        if m.group(1) not in context:
            raise WorkflowError(f"${{{{ {m.group(1)} }}}} is not an expression the simulation knows")
        return context[m.group(1)]

    return EXPR_RE.sub(one, text)
