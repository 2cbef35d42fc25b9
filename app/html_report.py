"""report.html: one self-contained page about a run, drawn from its output folder.

Everything is inline (PNG images as data: URLs, the style sheet in the page); there is
no script and nothing is fetched, so the page reads the same from a file:// URL with no
network. Each figure is also written to OUT/figures/<slug>.png.
"""

from __future__ import annotations

import base64
import html
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast

from pydantic import BaseModel, ConfigDict

from nnc.base.errors import DataError, brief
from nnc.base.files import make_dir, write_atomic
from nnc.figures import Figure

STYLE = """
body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",sans-serif;max-width:1100px;margin:2em auto;
padding:0 1em;color:#222}
h1{margin-bottom:.1em}h2{border-bottom:1px solid #ddd;padding-bottom:.2em;margin-top:1.6em}
.muted{color:#666}table{border-collapse:collapse;margin:.6em 0;font-size:13px}
td,th{border:1px solid #ddd;padding:3px 8px;text-align:right}th{background:#f5f5f5}
td:first-child,th:first-child,td.l{text-align:left}
.warn{background:#fff4e5;border-left:4px solid #f0a020;padding:.5em .8em;margin:.4em 0}
.ok{background:#eef8ee;border-left:4px solid #4a4;padding:.5em .8em}
figure{margin:1em 0}figure img{max-width:100%;border:1px solid #eee}
figcaption{color:#555;font-size:13px}code{background:#f4f4f4;padding:0 .25em}
"""


@dataclass
class Page:
    """What the page shows: the report and the figures drawn for it."""

    report: dict[str, Any]
    figures: list[Figure]


def write(out_dir: Path, page: Page) -> Path:
    """Write report.html and figures/*.png to ``out_dir``; returns the page's path."""
    folder = make_dir(out_dir / "figures")
    for figure in page.figures:
        write_atomic(folder / f"{figure.slug}.png", figure.png)
    path = out_dir / "report.html"
    write_atomic(path, render(page).encode())
    return path


def render(page: Page) -> str:
    r = page.report
    e = html.escape
    parts = [f"<!doctype html><html lang='en'><head><meta charset='utf-8'>"
             f"<title>nnc: {e(r['name'])}</title><style>{STYLE}</style></head><body>",
             f"<h1>{e(r['name'])}</h1>"]
    if r.get("description"):
        parts.append(f"<p>{e(r['description'])}</p>")
    parts.append(_warnings(r.get("warnings") or [], trained=r.get("train") is not None))
    parts.append(_summary(r))
    by_slug = {f.slug: f for f in page.figures}
    if "network" in by_slug:
        parts.append("<h2>Network</h2>" + _figure(by_slug.pop("network")))
    parts.append(_sizing(r))
    if by_slug:
        parts.append("<h2>Training</h2>")
    for figure in page.figures:
        if figure.slug in by_slug:
            parts.append(_figure(figure))
    parts.append(_metrics_table(r))
    parts.append("</body></html>\n")
    return "\n".join(p for p in parts if p)


def _warnings(warnings: list[dict[str, Any]], trained: bool) -> str:
    if not trained:
        return ("<section id='warnings'><h2>Warnings</h2><p class='muted'>Not trained (the "
                "spec has no data): nothing was measured.</p></section>")
    if not warnings:
        return ("<section id='warnings'><h2>Warnings</h2><p class='ok'>None: no dead or "
                "saturated units, gradients and updates in range, no sign of overfitting."
                "</p></section>")
    items = "".join(f"<div class='warn'><b>{html.escape(w['code'])}</b>"
                    + (f" at <code>{html.escape(str(w['node']))}</code>" if w.get("node") else "")
                    + f": {html.escape(w['message'])}</div>" for w in warnings)
    return f"<section id='warnings'><h2>Warnings</h2>{items}</section>"


def _summary(r: dict[str, Any]) -> str:
    train, data = r.get("train") or {}, r.get("data") or {}
    rows = [("spec", r.get("spec_file")), ("overrides", " ".join(r.get("overrides") or []) or
                                           "none"),
            ("data", f"{data.get('source')}: {data.get('train_samples')} training, "
                     f"{data.get('val_samples')} validation samples, {data.get('features')} "
                     "features" if data else "none (initial weights)"),
            ("seed", r.get("seed")),
            ("trained", f"{train.get('epochs_run')} epochs in {train.get('seconds', 0):.2f} s "
                        f"({train.get('samples_per_second', 0):,.0f} samples/s)" if train
             else "no"),
            ("final", ", ".join(f"{k} {train[k]:.4g}" for k in
                                ("train_loss", "val_loss", "train_accuracy", "val_accuracy")
                                if train.get(k) is not None) or "—"),
            ("versions", ", ".join(f"{k} {v}" for k, v in (r.get("versions") or {}).items()))]
    body = "".join(f"<tr><th>{html.escape(k)}</th><td class='l'>{html.escape(str(v))}</td></tr>"
                   for k, v in rows)
    return f"<h2>Run</h2><table>{body}</table>"


def _sizing(r: dict[str, Any]) -> str:
    nodes = (r.get("sizing") or {}).get("nodes") or []
    if not nodes:
        return ""
    columns = ("neurons", "weights", "biases", "other", "params", "macs")
    head = "".join(f"<th>{c}</th>" for c in ("node", "op", "output", *columns))
    rows = "".join("<tr>" + "".join(
        f"<td>{html.escape(str(v))}</td>" for v in
        (n["name"], n["op"], n["output_shape"], *(f"{n[c]:,}" for c in columns))) + "</tr>"
        for n in nodes)
    totals = r["params"]
    total = "<tr><th>total</th><th></th><th></th>" + "".join(
        f"<th>{totals[c]:,}</th>" for c in columns) + "</tr>"
    memory = r.get("memory") or {}
    note = (f"<p class='muted'>FLOPs per sample: {totals['flops']:,}; training memory at batch "
            f"size {memory.get('batch_size')}: {memory.get('training', 0) / 2**20:.1f} MiB.</p>")
    return f"<h2>Sizing</h2><table><tr>{head}</tr>{rows}{total}</table>{note}"


def _metrics_table(r: dict[str, Any]) -> str:
    m = r.get("metrics")
    if not m:
        return ""
    if "per_class" in m:
        names = (r.get("data") or {}).get("class_names") or \
            [str(i) for i in range(len(m["per_class"]["precision"]))]
        per = m["per_class"]
        rows = "".join(f"<tr><td>{html.escape(str(n))}</td><td>{p:.3f}</td><td>{q:.3f}</td>"
                       f"<td>{f:.3f}</td><td>{s}</td></tr>" for n, p, q, f, s in
                       zip(names, per["precision"], per["recall"], per["f1"], per["support"]))
        extra = "".join(f"<p>{label}: {m[k]:.4f}</p>" for k, label in
                        (("roc_auc", "ROC AUC"), ("average_precision", "average precision"))
                        if k in m)
        head = "".join(f"<th>{html.escape(str(n))}</th>" for n in names)
        matrix = "".join(f"<tr><th>{html.escape(str(n))}</th>" + "".join(
            f"<td>{c}</td>" for c in row) + "</tr>" for n, row in
            zip(names, m["confusion_matrix"]))
        return ("<h2>Metrics</h2><table><tr><th>class</th><th>precision</th><th>recall</th>"
                f"<th>F1</th><th>support</th></tr>{rows}</table>"
                f"<p>accuracy {m['accuracy']:.4f}, macro F1 {m['macro_f1']:.4f} on "
                f"{m['samples']} samples</p>{extra}"
                "<p class='muted'>Confusion matrix (rows: true class, columns: predicted)</p>"
                f"<table id='confusion-matrix'><tr><th></th>{head}</tr>{matrix}</table>")
    return ("<h2>Metrics</h2><table><tr><th>MAE</th><th>RMSE</th><th>R²</th></tr>"
            f"<tr><td>{m['mae']:.4g}</td><td>{m['rmse']:.4g}</td><td>{m['r2']:.4f}</td></tr>"
            "</table>")


def _figure(figure: Figure) -> str:
    data = base64.b64encode(figure.png).decode("ascii")
    return (f"<figure id='{figure.slug}'><img alt='{html.escape(figure.title)}' "
            f"src='data:image/png;base64,{data}'><figcaption><b>{html.escape(figure.title)}"
            f".</b> {html.escape(figure.caption)}</figcaption></figure>")


def draw(out_dir: Path) -> Path:
    """Draw the report of the run whose outputs are in ``out_dir``: report.json, and the
    files it lists (spec.resolved.yaml, weights.npz, val.npz, samples.npz); returns the
    page's path."""
    from nnc import figures as f
    from nnc import model_figures

    report = read_report(out_dir)
    path = out_dir / "report.json"
    try:
        drawn: list[Figure | None] = [f.network(report["graph"])] if report.get("graph") else []
        diagnostics = report.get("diagnostics")
        history = (report.get("train") or {}).get("history") or []
        metrics = report.get("metrics")
        class_names = (report.get("data") or {}).get("class_names") or \
            [str(i) for i in range(len((metrics or {}).get("confusion_matrix", [])))]
        drawn += [f.curves(history), f.activation_health(diagnostics),
                  f.histograms(diagnostics), f.gradients(diagnostics),
                  f.confusion(metrics, class_names), f.binary_curves(metrics)]
        drawn += model_figures.of_run(out_dir, report)
    except (KeyError, TypeError, IndexError, AttributeError) as e:
        raise DataError(f"not a report this version of nnc can draw (at {brief(e, 60)}): "
                        "written by another version, or edited?", file=str(path)) from None
    return write(out_dir, Page(report, [d for d in drawn if d is not None]))


class ReportFile(BaseModel):
    """What a report.json must hold for its page to be drawn (the rest is read as found)."""

    model_config = ConfigDict(extra="allow")
    name: str
    graph: dict[str, Any] | None = None
    data: dict[str, Any] | None = None
    train: dict[str, Any] | None = None
    diagnostics: dict[str, Any] | None = None
    warnings: list[dict[str, Any]] = []
    metrics: dict[str, Any] | None = None
    files: dict[str, str | None] = {}


def read_report(out_dir: Path) -> dict[str, Any]:
    """The report.json of an output folder, checked to be one nnc wrote."""
    from nnc.base.files import read_bytes

    path = out_dir / "report.json"
    try:
        data = json.loads(read_bytes(path, 256 << 20, "a report.json"))
        ReportFile.model_validate(data)
    except ValueError as e:  # not JSON, or not the shape of a report (ValidationError)
        raise DataError(f"not a report written by nnc ({brief(e, 100)})",
                        file=str(path)) from None
    return cast(dict[str, Any], data)

