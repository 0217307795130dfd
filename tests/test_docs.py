"""The README and docs/: every relative link resolves, every doc is reachable, the two commands stay.

Fast (reads a few Markdown files): a moved file or a renamed heading breaks a link
that nothing else would notice.
"""

import os
import re

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DOCS = os.path.join(ROOT, "docs")
PAGES = ["README.md"] + sorted(os.path.join("docs", f) for f in os.listdir(DOCS) if f.endswith(".md"))

LINK = re.compile(r"\[[^\]]*\]\(([^)\s]+)\)")


def prose(text):
    """The lines outside code blocks (indented or fenced): links there are examples, not links."""
    lines, fenced = [], False
    for line in text.split("\n"):
        if line.startswith("```"):
            fenced = not fenced
        elif not fenced and not line.startswith("    "):
            lines.append(line)
    return "\n".join(lines)


def anchors(path):
    """GitHub's heading anchors: lowercase, punctuation dropped, spaces to hyphens."""
    found = set()
    for line in prose(open(path, encoding="utf-8").read()).split("\n"):
        m = re.match(r"#+\s+(.*)", line)
        if m:
            found.add(re.sub(r"[^\w\- ]", "", m.group(1).lower()).replace(" ", "-"))
    return found


def relative_links(page):
    text = prose(open(os.path.join(ROOT, page), encoding="utf-8").read())
    return [t for t in LINK.findall(text) if not re.match(r"[a-z]+:", t)]


@pytest.mark.parametrize("page", PAGES)
def test_every_relative_link_resolves(page):
    broken = []
    for target in relative_links(page):
        path, _, anchor = target.partition("#")
        resolved = (
            os.path.normpath(os.path.join(ROOT, os.path.dirname(page), path)) if path else os.path.join(ROOT, page)
        )
        if not os.path.exists(resolved):
            broken.append(f"{target} (no {os.path.relpath(resolved, ROOT)})")
        elif anchor and anchor not in anchors(resolved):
            broken.append(f"{target} (no heading #{anchor})")
    assert not broken, f"{page}: broken links: {broken}"


def test_every_doc_is_linked_from_the_readme():
    linked = {os.path.normpath(t.partition("#")[0]) for t in relative_links("README.md")}
    unlinked = [p for p in PAGES[1:] if p not in linked]
    assert not unlinked, f"docs not linked from README.md: {unlinked}"


def test_the_readme_opens_with_the_two_commands():
    # CI and users copy these two lines; the Makefile must still have both targets.
    lines = open(os.path.join(ROOT, "README.md"), encoding="utf-8").read().split("\n")
    assert lines[2].split("#")[0].strip() == "make bench"
    assert lines[3].split("#")[0].strip() == "make test"
    makefile = open(os.path.join(ROOT, "Makefile"), encoding="utf-8").read()
    assert re.search(r"^bench:", makefile, re.M) and re.search(r"^test:", makefile, re.M)
