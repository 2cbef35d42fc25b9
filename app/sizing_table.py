"""The sizing report as a table for the terminal."""

from __future__ import annotations

from nnc.base.machine import format_bytes
from nnc.compiler.sizing import SizingReport

COLUMNS = ("neurons", "weights", "biases", "other", "params", "macs")


def sizing_table(report: SizingReport) -> str:
    """An aligned table like Keras' model.summary(), with totals, FLOPs and memory."""
    header = ("node", "op", "output", "neurons", "weights", "biases", "other", "params",
              "MACs/sample")
    rows = [(n.name, n.op, str(list(n.shape)), *(f"{getattr(n.counts, c):,}" for c in COLUMNS))
            for n in report.nodes]
    total = ("total", "", "", *(f"{getattr(report.totals, c):,}" for c in COLUMNS))
    widths = [max(len(r[i]) for r in (header, *rows, total)) for i in range(len(header))]

    def line(cells: tuple[str, ...]) -> str:
        left = [c.ljust(w) for c, w in zip(cells[:3], widths)]
        right = [c.rjust(w) for c, w in zip(cells[3:], widths[3:])]
        return "  ".join(left + right).rstrip()

    rule = "-" * len(line(header))
    m = report.memory
    return "\n".join([
        f"model: {report.name}    input: {list(report.input_shape)}",
        rule, line(header), rule, *map(line, rows), rule, line(total), rule,
        f"FLOPs per sample: {report.totals.flops:,} (2 x MACs)",
        f"training memory at batch size {m.batch_size} (float32): "
        f"params {format_bytes(m.params)}, gradients {format_bytes(m.gradients)}, "
        f"optimizer {format_bytes(m.optimizer)}, activations {format_bytes(m.activations)}"
        + (f", best weights {format_bytes(m.best_params)}" if m.best_params else "")
        + (f", diagnostics' probe {format_bytes(m.diagnostics)}" if m.diagnostics else "")
        + f"; total {format_bytes(m.training)}",
    ])
