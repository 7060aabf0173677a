"""One schema: every column a page reads is declared by a query it calls, and every field a chart
encodes is in the data it was given (the seed's dashboard read ``pnl`` where the data had ``PnL``)."""

from __future__ import annotations

import ast
import json
import re
from pathlib import Path

import pyarrow as pa
import pytest

from tests.ui.conftest import PAGES, ROOT
from tests.ui.seed import closed_loop_rows
from ui.frames import SCHEMAS

PAGE_DIR = ROOT / "ui" / "app_pages"
NOT_FRAMES = {
    "db_url", "has_ledger", "refresh", "settings_store", "settings_current", "effective_values",
    "section", "show", "NEG_GAMMA", "POS_GAMMA",
}  # fmt: skip
CHANNELS = {
    "X", "Y", "X2", "Y2", "Color", "Size", "Shape", "Tooltip", "Text", "Theta", "XOffset",
    "YOffset", "StrokeDash", "Opacity", "Order", "Detail", "Row", "Column", "EncodingSortField",
}  # fmt: skip


def _is_query_call(node: ast.AST) -> str | None:
    """``q.name(...)``: the query's name."""
    func = getattr(node, "func", None)
    if isinstance(node, ast.Call) and isinstance(func, ast.Attribute):
        return func.attr if isinstance(func.value, ast.Name) and func.value.id == "q" else None
    return None


def _field(text: str) -> str:
    """``"sum(cost):Q"`` -> ``cost``."""
    text = text.split(":")[0]
    m = re.fullmatch(r"\w+\((\w+)\)", text)
    return m.group(1) if m else text


def _strings(nodes: list[ast.expr | None]) -> list[str]:
    return [n.value for n in nodes if isinstance(n, ast.Constant) and isinstance(n.value, str)]


def _from_frames(expr: ast.AST, frames: set[str]) -> bool:
    """Whether ``expr`` calls a query or uses a name bound to a query's frame."""
    return any(
        _is_query_call(n) or (isinstance(n, ast.Name) and n.id in frames) for n in ast.walk(expr)
    )


def _call_reads(node: ast.Call) -> list[str]:
    """Fields named in an Altair channel, an ``.encode(...)`` or a ``column_config``."""
    func, out = node.func, []
    owner = getattr(func, "value", None)
    if isinstance(owner, ast.Name) and owner.id == "alt" and getattr(func, "attr", "") in CHANNELS:
        out += [_field(s) for s in _strings(node.args[:1])]
    if isinstance(func, ast.Attribute) and func.attr == "encode":
        for kw in node.keywords:
            out += [_field(s) for s in _strings(getattr(kw.value, "elts", [kw.value]))]
    for kw in node.keywords:
        if kw.arg in ("column_config", "column_order"):
            out += _strings(getattr(kw.value, "keys", getattr(kw.value, "elts", [])))
    return out


def page_reads(path: Path) -> tuple[set[str], dict[str, int]]:
    """The names a page uses from ``ui.queries``, and each column it reads (first line)."""
    tree = ast.parse(path.read_text())
    used = {
        n.attr for n in ast.walk(tree)
        if isinstance(n, ast.Attribute) and isinstance(n.value, ast.Name) and n.value.id == "q"
    }  # fmt: skip
    frames: set[str] = set()  # names bound to a query's frame, or to something made from one
    for node in ast.walk(tree):
        if isinstance(node, ast.Assign) and _from_frames(node.value, frames):
            frames |= {t.id for t in node.targets if isinstance(t, ast.Name)}
    reads: dict[str, int] = {}
    for node in ast.walk(tree):
        found = []
        if isinstance(node, ast.Subscript) and _from_frames(node.value, frames):
            found = _strings([node.slice])
        elif isinstance(node, ast.Call):
            found = _call_reads(node)
        for col in found:
            reads.setdefault(col, node.lineno)
    return used, reads


@pytest.mark.parametrize("page", sorted(PAGE_DIR.glob("*.py")), ids=lambda p: p.stem)
def test_every_column_a_page_reads_is_declared_by_its_queries(page):
    queries, reads = page_reads(page)
    frames = queries - NOT_FRAMES
    assert frames <= set(SCHEMAS), f"{page.name} calls undeclared queries {frames - set(SCHEMAS)}"
    declared = set().union(*(SCHEMAS[f] for f in frames)) if frames else set()
    missing = {col: line for col, line in reads.items() if col not in declared}
    assert not missing, f"{page.name} reads columns no query of it returns: {missing}"
    assert frames or page.stem == "settings"


def test_the_checker_catches_a_misspelt_column(tmp_path):
    bad = tmp_path / "bad.py"
    bad.write_text(
        "import altair as alt\nfrom ui import queries as q\n"
        'e = q.equity_curve("u")\nlast = e["PnL"].iloc[-1]\n'
        'alt.Chart(e).encode(x="closed_at:T", y=alt.Y("Equity:Q"))\n'
    )
    queries, reads = page_reads(bad)
    declared = set(SCHEMAS["equity_curve"])
    assert queries == {"equity_curve"}
    assert {c for c in reads if c not in declared} == {"PnL", "Equity"}


def _fields(node: object) -> set[str]:
    if isinstance(node, dict):
        found = {node["field"]} if isinstance(node.get("field"), str) else set()
        return found.union(*(_fields(v) for v in node.values()))
    if isinstance(node, list):
        return set().union(*(_fields(v) for v in node)) if node else set()
    return set()


def test_every_chart_field_is_in_its_data(app, ledger_url):
    closed_loop_rows(ledger_url)  # so that every chart draws
    charts = 0
    for page in PAGES:
        at = app(ledger_url, page)
        for chart in at.get("vega_lite_chart"):
            spec = json.loads(chart.proto.spec)
            blobs = [d.data.data for d in chart.proto.datasets]
            if chart.proto.HasField("data"):
                blobs.append(chart.proto.data.data)
            columns = set().union(*(pa.ipc.open_stream(b).schema.names for b in blobs))
            assert _fields(spec) <= columns, (page, _fields(spec) - columns)
            charts += 1
    assert charts >= 8
