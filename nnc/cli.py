"""The ``nnc`` command: thin click commands over the library.

Heavy modules (pydantic models, NumPy, onnx, onnxruntime, scikit-learn) are imported
inside the commands that need them, so ``nnc --help`` starts fast.
"""

from __future__ import annotations

import functools
import json
import os
import re
import sys
import traceback
from pathlib import Path
from typing import Any, Callable

import click

from nnc import __version__
from nnc.errors import NncError

EXIT_CODES = """\b
Exit codes: 0 ok; 1 a failed run (divergence, ONNX parity); 2 invalid input
(spec, data, files, arguments); 130/143 interrupted."""


# ------------------------------------------------------------------ shared options

class ByteSize(click.ParamType):
    """A size like 512M, 8GiB, 1.5GB or a plain number of bytes."""

    name = "size"
    _UNITS = {"": 1, "k": 1000, "m": 1000**2, "g": 1000**3, "t": 1000**4,
              "ki": 1024, "mi": 1024**2, "gi": 1024**3, "ti": 1024**4}

    def convert(self, value: Any, param: Any, ctx: Any) -> int:
        if isinstance(value, int):
            return value
        match = re.fullmatch(r"\s*([0-9]*\.?[0-9]+)\s*([kmgtKMGT]i?)?[bB]?\s*", str(value))
        if not match:
            self.fail(f"{value!r} is not a size (examples: 512M, 8GiB, 1000000)", param, ctx)
        number, unit = float(match.group(1)), (match.group(2) or "").lower()
        return int(number * self._UNITS[unit])


def machine_memory() -> int:
    """Total physical memory in bytes (the default --max-memory)."""
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):
        return 1 << 62


spec_argument = click.argument("spec", type=click.Path(path_type=Path, dir_okay=True))
set_option = click.option(
    "--set", "overrides", multiple=True, metavar="KEY.PATH=VALUE",
    help="Override a spec field before validation (repeatable), e.g. "
         "--set layers.0.units=50 --set train.optimizer.sgd.lr=0.1")
max_memory_option = click.option(
    "--max-memory", type=ByteSize(), default=None, metavar="SIZE",
    help="Refuse specs whose training memory estimate exceeds SIZE (e.g. 4GiB). "
         "Default: the machine's total memory.")


def reports_errors(command: Callable) -> Callable:
    """Add --debug; print nnc's own errors as one line each and exit with their code."""

    @click.option("--debug", is_flag=True, help="Show tracebacks (for reporting bugs).")
    @functools.wraps(command)
    def wrapper(*args: Any, debug: bool = False, **kwargs: Any) -> Any:
        try:
            return command(*args, **kwargs)
        except NncError as e:
            if debug:
                traceback.print_exc()
            for line in e.lines():
                click.echo(line, err=True)
            sys.exit(e.exit_code)
        except KeyboardInterrupt:
            click.echo("interrupted", err=True)
            sys.exit(130)
        except Exception as e:  # a bug: say so, keep the traceback for --debug
            if debug:
                raise
            click.echo(f"nnc: internal error: {type(e).__name__}: {e} (this is a bug; rerun "
                       "with --debug for the traceback)", err=True)
            sys.exit(1)

    return wrapper


def _load_graph(spec: Path, overrides: tuple[str, ...], max_memory: int | None = None):
    """Load, validate and compile a spec; refuse it if training would not fit in memory."""
    from nnc import api
    from nnc.compiler.sizing import check_memory

    spec_file = api.load(spec, overrides)
    graph = api.compile(spec_file)
    report = api.summarize(graph)
    check_memory(report.memory, max_memory or machine_memory(), str(spec))
    return spec_file, graph, report


# ------------------------------------------------------------------------- commands

@click.group(context_settings={"help_option_names": ["-h", "--help"]}, epilog=EXIT_CODES)
@click.version_option(__version__, prog_name="nnc")
def main() -> None:
    """nnc: write a neural network once, as a YAML or JSON spec; size it, train it with
    NumPy, export it to ONNX and check that onnxruntime agrees.

    \b
    Start with:  nnc build models/digits.yaml
    Spec format: see README.md, or `nnc schema` for the JSON Schema."""


@main.command()
@spec_argument
@set_option
@max_memory_option
@reports_errors
def check(spec: Path, overrides: tuple[str, ...], max_memory: int | None) -> None:
    """Validate and compile SPEC; print `ok: NAME (N params)`.

    Every problem is printed as FILE:LINE:COL: field.path: message (exit code 2)."""
    _, graph, report = _load_graph(spec, overrides, max_memory)
    click.echo(f"ok: {graph.name} ({report.totals.params:,} params)")


@main.command()
@spec_argument
@set_option
@max_memory_option
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object instead of a table.")
@click.option("--batch-size", type=click.IntRange(min=1), default=None,
              help="Batch size of the memory estimate (default: train.batch_size).")
@reports_errors
def summary(spec: Path, overrides: tuple[str, ...], max_memory: int | None, as_json: bool,
            batch_size: int | None) -> None:
    """Print the sizing report of SPEC: per layer and in total, neurons, weights, biases,
    other parameters, MACs and FLOPs per sample, and the memory to train it.

    Computed from shapes alone: nothing is allocated, whatever the size."""
    from nnc import api
    from nnc.compiler.sizing import check_memory
    from nnc.report import sizing_table

    spec_file = api.load(spec, overrides)
    report = api.summarize(api.compile(spec_file), batch_size)
    click.echo(json.dumps(report.to_dict(), indent=2) if as_json else sizing_table(report))
    check_memory(report.memory, max_memory or machine_memory(), str(spec))


@main.command()
@click.option("-o", "--output", type=click.Path(path_type=Path, dir_okay=False), default=None,
              help="Write the schema to a file instead of standard output.")
@reports_errors
def schema(output: Path | None) -> None:
    """Print the JSON Schema of the spec format (for editors' YAML/JSON language servers).

    \b
    In a YAML spec:  # yaml-language-server: $schema=nnc-spec.schema.json"""
    from nnc.spec.schema import spec_json_schema

    text = json.dumps(spec_json_schema(), indent=2) + "\n"
    if output is None:
        click.echo(text, nl=False)
    else:
        from nnc.files import write_atomic

        write_atomic(output, text.encode())
        click.echo(f"wrote {output}")


if __name__ == "__main__":  # pragma: no cover
    main()
