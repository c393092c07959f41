"""The package's plan: folders in the data's order, imports that only run downwards, short functions.

The stages, lowest first: the base layer every stage uses (events, the cue registry, the pure
DSP functions, the configuration, console messages, whole-file writes, JSON another program sent, Ctrl-C and SIGTERM as stops), then ``capture`` ->
``analysis`` -> ``transcription`` -> ``alerts`` -> ``delivery``, then what runs the pipeline (``pipeline``), the services on top of it
(``report``, ``batch``, ``supervisor``, ``daemon``) and the command line (``commands``, ``cli``).
A module may import from its own layer or a lower one, never from a higher one, and no two
modules may import each other, however indirectly (imports inside functions count too).
"""
from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

from conftest import ROOT

PACKAGE = ROOT / "monitor"

LAYERS: tuple[tuple[str, ...], ...] = (
    ("monitor.cue_registry", "monitor.events", "monitor.config", "monitor.console", "monitor.files", "monitor.dsp",
     "monitor.installing", "monitor.json_text", "monitor.local_time", "monitor.release", "monitor.stops"),
    ("monitor.capture",),
    ("monitor.analysis",),
    ("monitor.transcription",),
    ("monitor.alerts",),
    ("monitor.delivery",),
    ("monitor.pipeline",),
    ("monitor.report", "monitor.batch", "monitor.supervisor"),
    ("monitor.daemon", "monitor.daemon_recent", "monitor.daemon_reload", "monitor.daemon_status"),
    ("monitor.commands",),
    ("monitor.cli", "monitor"),
)
STAGE_FOLDERS = ("capture", "analysis", "transcription", "alerts", "delivery")
LONGEST_FUNCTION = 45


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def modules() -> dict[str, Path]:
    return {module_name(p): p for p in sorted(PACKAGE.rglob("*.py"))}


def layer_of(module: str) -> int:
    """Index of the layer holding ``module`` (the longest matching prefix decides)."""
    best, index = -1, None
    for i, prefixes in enumerate(LAYERS):
        for prefix in prefixes:
            if (module == prefix or module.startswith(prefix + ".")) and len(prefix) > best:
                best, index = len(prefix), i
    assert index is not None, f"{module} belongs to no layer"
    return index


def imported_modules(module: str, path: Path, known: set[str]) -> set[str]:
    """The package's modules that ``module`` imports anywhere in its file."""
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join(anchor + ([base] if base else []))
            found.add(base)
            found.update(f"{base}.{a.name}" for a in node.names)
    return {m for m in found if m in known and m != module}


def import_graph() -> dict[str, set[str]]:
    mods = modules()
    return {m: imported_modules(m, p, set(mods)) for m, p in mods.items()}


def test_every_module_belongs_to_a_layer():
    for module in modules():
        layer_of(module)


def test_no_import_runs_from_a_lower_stage_up_to_a_higher_one():
    upward = [f"{m} (layer {layer_of(m)}) imports {t} (layer {layer_of(t)})"
              for m, targets in import_graph().items() for t in sorted(targets)
              if layer_of(t) > layer_of(m) and not m.startswith(t + ".")]
    assert upward == []


def test_no_import_cycles():
    graph = import_graph()
    # a package's __init__ re-exporting its own modules is not a cycle with them
    graph = {m: {t for t in ts if not t.startswith(m + ".")} for m, ts in graph.items()}
    state: dict[str, int] = {}
    cycles: list[list[str]] = []

    def visit(node: str, stack: list[str]) -> None:
        state[node] = 1
        for nxt in sorted(graph[node]):
            if state.get(nxt) == 1:
                cycles.append(stack[stack.index(nxt):] + [nxt])
            elif nxt not in state:
                visit(nxt, stack + [nxt])
        state[node] = 2

    for start in sorted(graph):
        if start not in state:
            visit(start, [start])
    assert cycles == []


@pytest.mark.parametrize("folder", sorted(p.parent.relative_to(PACKAGE).as_posix()
                                          for p in PACKAGE.rglob("__init__.py") if p.parent != PACKAGE))
def test_each_folder_says_what_it_holds_in_one_or_two_lines(folder):
    doc = ast.get_docstring(ast.parse((PACKAGE / folder / "__init__.py").read_text(encoding="utf-8")))
    assert doc, f"monitor/{folder}/__init__.py has no docstring"
    summary = doc.split("\n\n")[0]
    assert 1 <= len(summary.splitlines()) <= 2


def test_the_readme_names_the_stage_folders_in_the_data_order():
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    section = text[text.index("## How it works"):]
    positions = [section.find(f"monitor/{folder}/") for folder in STAGE_FOLDERS]
    assert -1 not in positions
    assert positions == sorted(positions)


def test_no_function_in_the_package_is_longer_than_the_limit():
    long = []
    for path in sorted(PACKAGE.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                size = node.end_lineno - node.lineno + 1
                if size > LONGEST_FUNCTION:
                    long.append(f"{path.relative_to(ROOT)}:{node.lineno} {node.name} ({size} lines)")
    assert long == []


def _named_paragraphs(path: Path) -> list[str]:
    """The headings, bold paragraph openings and italic list items of a Markdown file (what a
    citation names), lower case with single spaces."""
    text = path.read_text(encoding="utf-8")
    found = re.finditer(r"^#+\s+(.*)$|\*\*([^*]+)\*\*|^- \*([^*]+)\*", text, re.M)
    return [" ".join(next(g for g in m.groups() if g).lower().split()) for m in found]


def test_the_paragraphs_cited_by_name_exist():
    """The configuration's help, the README, the documents under docs/ and the research notes cite
    the measurement history's paragraphs (and the documentation's sections) by name: each such name
    opens a heading, a bold paragraph or an italic list item of the file cited, so that moving text
    between the files leaves no dead citation. "README" is the README with the documents it links
    under docs/ (its sections moved there)."""
    documents = sorted((ROOT / "docs").glob("*.md"))
    cited = {f"docs/{path.name}": [path] for path in documents}
    cited["README"] = [ROOT / "README.md", *documents]
    names = {key: [n for path in paths for n in _named_paragraphs(path)] for key, paths in cited.items()}
    sources = [ROOT / "README.md", *documents, PACKAGE / "config" / "schema.py",
               *sorted((ROOT / "research").glob("*/README.md"))]
    dead = []
    for path in sources:
        text = path.read_text(encoding="utf-8").replace('\\"', '"')
        for m in re.finditer(r'(docs/\w+\.md|README)(?:,|:| \(|\'s)\s*"([^"]+)"', text):
            name = " ".join(m.group(2).lower().split()).rstrip(".")
            if not any(n.startswith(name) for n in names.get(m.group(1), [])):
                dead.append(f"{path.relative_to(ROOT)}: {m.group(1)} \"{name}\"")
    assert dead == []


def _anchors(path: Path) -> set[str]:
    """The anchors GitHub gives the headings of a Markdown file (lower case, punctuation dropped,
    spaces as hyphens; a repeated heading's with -1, -2, ...)."""
    text = re.sub(r"```.*?```", "", path.read_text(encoding="utf-8"), flags=re.S)
    anchors: set[str] = set()
    counts: dict[str, int] = {}
    for heading in re.findall(r"^#+\s+(.*)$", text, flags=re.M):
        slug = re.sub(r"[^\w\- ]", "", heading.replace("`", "").strip().lower()).replace(" ", "-")
        n = counts.get(slug, 0)
        counts[slug] = n + 1
        anchors.add(f"{slug}-{n}" if n else slug)
    return anchors


def test_the_links_between_the_documents_lead_to_a_file_and_a_heading_there():
    documents = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
    dead = []
    for path in documents:
        for link in re.findall(r"\]\(([^)\s]+)\)", path.read_text(encoding="utf-8")):
            if re.match(r"\w+://", link):
                continue
            target, _, anchor = link.partition("#")
            linked = (path.parent / target).resolve() if target else path
            if not linked.exists() or (anchor and linked.suffix == ".md" and anchor not in _anchors(linked)):
                dead.append(f"{path.relative_to(ROOT)}: {link}")
    assert dead == []
