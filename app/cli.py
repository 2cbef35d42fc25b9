"""The ``nnc`` command: thin click commands over the pipeline (``nnc.pipeline``).

Each command parses its options, calls one pipeline function and prints. Errors are
handled in one place, by the group's command class: nnc's own errors are one line each
and their exit code; anything else is a bug that keeps its traceback under ``--debug``.
Heavy modules (pydantic models, NumPy, onnx, onnxruntime, scikit-learn) are imported
inside the commands that need them, so ``nnc --help`` starts fast.
"""

from __future__ import annotations

import re
import shlex
import signal
import sys
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar, TypeVar

import click

from nnc.base.errors import NncError, printable
from nnc.base.version import __version__

F = TypeVar("F", bound=Callable[..., Any])

EXIT_CODES = """\b
Exit codes: 0 ok; 1 a failed run (divergence, ONNX parity); 2 invalid input
(spec, data, files, arguments); 130/143 interrupted."""


# ------------------------------------------------------------------ error handling

class NncCommand(click.Command):
    """A command with ``--debug`` whose errors are reported the one way nnc reports them."""

    def __init__(self, *args: Any, **kwargs: Any):
        super().__init__(*args, **kwargs)
        self.params.append(click.Option(["--debug"], is_flag=True,
                                        help="Show tracebacks (for reporting bugs)."))

    def invoke(self, ctx: click.Context) -> Any:
        debug = ctx.params.pop("debug", False)
        try:
            return super().invoke(ctx)
        except NncError as e:
            if debug:
                traceback.print_exc()
            for line in e.lines():
                click.echo(line, err=True)
            sys.exit(e.exit_code)
        except KeyboardInterrupt as e:  # Ctrl-C, or a signal that stops at once (Stopped)
            signum = getattr(e, "signal", signal.SIGINT)
            click.echo(f"interrupted by {signal.Signals(signum).name}", err=True)
            sys.exit(128 + signum)
        except (click.ClickException, click.exceptions.Exit, click.exceptions.Abort):
            raise  # click's own: usage errors print themselves (exit 2)
        except Exception as e:  # a bug: say so, keep the traceback for --debug
            if debug:
                raise
            click.echo(printable(f"nnc: internal error: {type(e).__name__}: {e} (this is a "
                                 "bug; rerun with --debug for the traceback)"), err=True)
            sys.exit(1)


class NncGroup(click.Group):
    command_class = NncCommand


# ------------------------------------------------------------------ shared options

if TYPE_CHECKING:
    _IntParamType = click.ParamType[int]
else:
    _IntParamType = click.ParamType  # generic only from click 8.4 on; 8.1 is allowed


class ByteSize(_IntParamType):
    """A size like 512M, 8GiB, 1.5GB or a plain number of bytes."""

    name = "size"
    _UNITS: ClassVar[dict[str, int]] = {
        "": 1, "k": 1000, "m": 1000**2, "g": 1000**3, "t": 1000**4,
        "ki": 1024, "mi": 1024**2, "gi": 1024**3, "ti": 1024**4}

    def convert(self, value: Any, param: Any, ctx: Any) -> int:
        if isinstance(value, int):
            return value
        match = re.fullmatch(r"\s*([0-9]*\.?[0-9]+)\s*([kmgtKMGT]i?)?[bB]?\s*", str(value))
        if not match:
            self.fail(f"{value!r} is not a size (examples: 512M, 8GiB, 1000000)", param, ctx)
        number, unit = float(match.group(1)), (match.group(2) or "").lower()
        size = int(number * self._UNITS[unit])
        if size < 1:
            self.fail(f"{value!r} is less than one byte", param, ctx)
        return size


def options(*decorators: Callable[[F], F]) -> Callable[[F], F]:
    """Several click decorators as one, applied in the order written."""
    def apply(command: F) -> F:
        for decorator in reversed(decorators):
            command = decorator(command)
        return command
    return apply


# readable=False on files nnc reads: its readers say "FILE: permission denied" in one line
spec_argument = click.argument("spec", type=click.Path(path_type=Path, readable=False))
set_option = click.option(
    "--set", "overrides", multiple=True, metavar="KEY.PATH=VALUE",
    help="Override a spec field before validation (repeatable), e.g. "
         "--set layers.0.units=50 --set train.optimizer.sgd.lr=0.1 "
         "--set 'train.optimizer={adam: {lr: 0.001}}' (a YAML value replaces the field)")
max_memory_option = click.option(
    "--max-memory", type=ByteSize(), default=None, metavar="SIZE",
    help="Refuse specs whose training memory estimate exceeds SIZE (e.g. 4GiB). "
         "Default: the machine's memory (check, summary), the memory available now (train, "
         "build).")
spec_options = options(spec_argument, set_option, max_memory_option)


def _capped_threads(ctx: click.Context, param: click.Parameter, threads: int | None
                    ) -> int | None:
    """--threads, at most the machine's cores (with a note on standard error)."""
    from nnc.base.machine import capped_threads

    if threads is None:
        return None
    threads, note = capped_threads(threads)
    if note:
        click.echo(note, err=True)
    return threads


ort_threads_option = click.option(
    "--threads", type=click.IntRange(min=1, max=1024), default=None, callback=_capped_threads,
    help="onnxruntime and NumPy threads (default: onnxruntime's choice; at most the cores).")
training_options = options(
    spec_options,
    click.option("-o", "--output", "out_dir", type=click.Path(path_type=Path, file_okay=False),
                 default=None, help="Output folder (default: build/NAME/)."),
    click.option("--threads", type=click.IntRange(min=1, max=1024), default=None,
                 callback=_capped_threads,
                 help="BLAS and onnxruntime threads (default: train.threads, else chosen by "
                      "the size of a training step; at most the cores)."),
    click.option("-q", "--quiet", is_flag=True,
                 help="No progress bar (it is only drawn on a terminal anyway)."),
    click.option("--resume", is_flag=True,
                 help="Continue from the newest valid checkpoint in OUT/checkpoints (the "
                      "result is bit-identical to an uninterrupted run)."),
    click.option("--force", is_flag=True,
                 help="With --resume: resume even if training-relevant spec fields or the "
                      "data changed."),
    click.option("--no-report", "no_report", is_flag=True,
                 help="Do not draw report.html and figures/ (`nnc report OUT` draws them "
                      "later)."))


def _run_training(command: str, spec: Path, overrides: tuple[str, ...], out: Path,
                  threads: int | None, run: Callable[[Callable[[], int | None]], Any]) -> Any:
    """Run ``run(should_stop)`` with SIGINT/SIGTERM turned into a checkpoint and a clean
    stop; the error then says how to resume."""
    from nnc.base.errors import Interrupted, Problem
    from nnc.interrupts import StopOnSignal

    try:
        with StopOnSignal(defer=False) as stop:  # deferred only while training
            return run(stop)
    except Interrupted as e:
        sets = "".join(f" --set {shlex.quote(o)}" for o in overrides)
        sets += f" --threads {threads}" if threads else ""
        e.problems.append(Problem(f"checkpoint written to {out / 'checkpoints'}; resume with: "
                                  f"nnc {command} {shlex.quote(str(spec))} -o "
                                  f"{shlex.quote(str(out))}{sets} --resume"))
        raise


def _run_interruptible(again: str, run: Callable[[Callable[[], int | None]], Any]) -> Any:
    """Run ``run(should_stop)`` with SIGINT/SIGTERM turned into a clean stop; the error then
    says how to continue (the command ``again``)."""
    from nnc.base.errors import Interrupted, Problem
    from nnc.interrupts import StopOnSignal

    try:
        with StopOnSignal() as stop:
            return run(stop)
    except Interrupted as e:
        e.problems.append(Problem(f"continue with: {again}"))
        raise


def _train_verb(command: str, run: Callable[..., dict[str, Any]], spec: Path,
                overrides: tuple[str, ...], max_memory: int | None, out_dir: Path | None,
                threads: int | None, quiet: bool, resume: bool, force: bool, no_report: bool,
                sizing: bool = False) -> tuple[dict[str, Any], Path]:
    """What `nnc train` and `nnc build` share: prepare the spec, make the output folder,
    ``run`` the pipeline with progress and signals handled, print the summary and the
    warnings; returns the report and the folder."""
    from nnc import pipeline
    from nnc.progress import TerminalProgress
    from nnc.sizing_table import sizing_table

    prepared = pipeline.prepare(spec, overrides, max_memory=max_memory)
    _notes(prepared)
    out = pipeline.output_folder(out_dir, prepared)
    if sizing:
        click.echo(sizing_table(prepared.sizing))
    progress = TerminalProgress(prepared.spec_file.spec.train.epochs,
                                enabled=False if quiet else None)
    report = _run_training(command, spec, overrides, out, threads, lambda stop: run(
        prepared, out, progress, threads, resume=resume, force=force, should_stop=stop,
        html=not no_report))
    for line in _train_summary(report):
        click.echo(line)
    return report, out


def _train_summary(report: dict[str, Any]) -> list[str]:
    from nnc.insight import warning_lines

    train, lines = report.get("train"), []
    if train:
        acc = (f"; val accuracy {train['val_accuracy']:.4f}" if train["val_accuracy"] is not None
               else "") + (f", train accuracy {train['train_accuracy']:.4f}"
                           if train["train_accuracy"] is not None else "")
        loss = f"; val loss {train['val_loss']:.5g}" if train["val_loss"] is not None else ""
        lines.append(f"trained: {train['epochs_run']} epochs in {train['seconds']:.2f} s "
                     f"({train['samples_per_second']:,.0f} samples/s){acc}{loss}; "
                     f"final train loss {train['train_loss']:.5g}")
    else:
        lines.append("not trained (the spec has no data): exported the initial weights")
    m = report.get("metrics") or {}
    if "r2" in m:
        standardized = " (the losses are of the standardized targets)" if \
            (report.get("data") or {}).get("target") else ""
        lines.append(f"validation: mae {m['mae']:.6g}, rmse {m['rmse']:.6g}, r2 {m['r2']:.4f} "
                     f"in the targets' units{standardized}")
    elif "macro_f1" in m:
        auc = f", ROC AUC {m['roc_auc']:.4f}" if "roc_auc" in m else ""
        lines.append(f"validation: macro F1 {m['macro_f1']:.4f}{auc}")
    lines.append(f"params: {report['params']['params']:,}")
    return lines + warning_lines(report)


# ------------------------------------------------------------------------- commands

@click.group(cls=NncGroup, context_settings={"help_option_names": ["-h", "--help"]},
             epilog=EXIT_CODES)
@click.version_option(__version__, prog_name="nnc")
def main() -> None:
    """nnc: write a neural network once, as a YAML or JSON spec; size it, train it with
    NumPy, export it to ONNX and check that onnxruntime agrees.

    \b
    Start with:  nnc build models/digits.yaml
    Spec format: see README.md, or `nnc schema` for the JSON Schema."""


@main.command()
@spec_options
def check(spec: Path, overrides: tuple[str, ...], max_memory: int | None) -> None:
    """Validate and compile SPEC; print `ok: NAME (N params)`.

    Every problem is printed as FILE:LINE:COL: field.path: message (exit code 2)."""
    from nnc import pipeline

    prepared = pipeline.check(spec, overrides, max_memory)
    _notes(prepared)
    click.echo(f"ok: {prepared.name} ({prepared.sizing.totals.params:,} params)")


def _notes(prepared: Any) -> None:
    for note in prepared.notes:
        click.echo(printable(f"note: {note}"), err=True)


@main.command()
@spec_options
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object instead of a table.")
@click.option("--batch-size", type=click.IntRange(min=1), default=None,
              help="Batch size of the memory estimate (default: train.batch_size).")
def summary(spec: Path, overrides: tuple[str, ...], max_memory: int | None, as_json: bool,
            batch_size: int | None) -> None:
    """Print the sizing report of SPEC: per layer and in total, neurons, weights, biases,
    other parameters, MACs and FLOPs per sample, and the memory to train it.

    Computed from shapes alone: nothing is allocated, whatever the size."""
    import json

    from nnc import pipeline
    from nnc.sizing_table import sizing_table

    prepared = pipeline.prepare(spec, overrides, max_memory=max_memory, memory="machine",
                                batch_size=batch_size)
    _notes(prepared)
    report = prepared.sizing
    click.echo(json.dumps(report.to_dict(), indent=2) if as_json else sizing_table(report))


@main.command()
@training_options
def train(spec: Path, overrides: tuple[str, ...], max_memory: int | None, out_dir: Path | None,
          threads: int | None, quiet: bool, resume: bool, force: bool, no_report: bool) -> None:
    """Train SPEC with the NumPy runtime; write weights.npz, history.csv, report.json,
    report.html and spec.resolved.yaml.

    With `epochs: 0` the initial weights are written (they depend only on the spec and
    train.seed)."""
    from nnc import pipeline

    _, out = _train_verb("train", pipeline.train_to, spec, overrides, max_memory, out_dir,
                         threads, quiet, resume, force, no_report)
    click.echo(f"wrote: {out}/ weights.npz history.csv report.json spec.resolved.yaml"
               + ("" if no_report else " report.html"))


@main.command()
@training_options
def build(spec: Path, overrides: tuple[str, ...], max_memory: int | None, out_dir: Path | None,
          threads: int | None, quiet: bool, resume: bool, force: bool, no_report: bool) -> None:
    """The main job: validate SPEC, print its sizing table, train it (when it has data),
    export it to ONNX, check that onnxruntime computes what NumPy computed, and write
    model.onnx, weights.npz, report.json, report.html, summary.txt, history.csv,
    spec.resolved.yaml (and val.npz) to build/NAME/ (or -o)."""
    from nnc import pipeline

    report, out = _train_verb("build", pipeline.build, spec, overrides, max_memory, out_dir,
                              threads, quiet, resume, force, no_report, sizing=True)
    o = report["onnx"]
    click.echo(f"onnx: {o['path']} (opset {o['opset']}); onnxruntime parity ok: max abs diff "
               f"{o['max_abs_diff']:.2g} on {o['samples']} samples")
    click.echo(f"wrote: {out}/ model.onnx weights.npz report.json summary.txt history.csv "
               f"spec.resolved.yaml" + (" val.npz" if report["files"]["val"] else "")
               + ("" if no_report else " report.html"))


@main.command()
@spec_argument
@set_option
@click.option("--weights", "weights_path", required=True,
              type=click.Path(path_type=Path, readable=False),
              help="A weights.npz written by nnc train/build.")
@click.option("-o", "--output", "output", required=True, type=click.Path(path_type=Path,
              dir_okay=False), help="The .onnx file to write.")
@ort_threads_option
def export(spec: Path, overrides: tuple[str, ...], weights_path: Path, output: Path,
           threads: int | None) -> None:
    """Export SPEC with trained weights to ONNX, and check it against the NumPy runtime."""
    from nnc import pipeline

    prepared = pipeline.prepare(spec, overrides, memory="none")
    model, parity = pipeline.export(prepared, pipeline.load_trained(prepared, weights_path),
                                    output, threads, weights=weights_path)
    click.echo(f"wrote {output} (opset {model.opset_import[0].version}); onnxruntime parity ok: "
               f"max abs diff {parity.max_abs_diff:.2g} on {parity.samples} samples")


@main.command()
@click.argument("model", type=click.Path(path_type=Path, readable=False))
@click.argument("inputs", metavar="INPUT", type=click.Path(path_type=Path, readable=False))
@click.option("-o", "--output", type=click.Path(path_type=Path, dir_okay=False), default=None,
              help="Write the predictions to a .npy file (else print them, one row a line).")
@click.option("--probabilities", "what", flag_value="probabilities",
              help="Output class probabilities (the model needs a `probabilities` output).")
@click.option("--classes", "what", flag_value="classes",
              help="Output the predicted classes: their names when the model has them "
                   "(labels that were words), else their indices.")
@click.option("--label", default=None, metavar="COLUMN",
              help="CSV input: the column holding labels (reported as metrics, not used).")
@click.option("-v", "--verbose", is_flag=True,
              help="Also print the feature columns the model takes, in its order.")
@ort_threads_option
def predict(model: Path, inputs: Path, output: Path | None, what: str | None,
            label: str | None, verbose: bool, threads: int | None) -> None:
    """Run MODEL (.onnx) in onnxruntime on INPUT (.npy, .npz with `x`, or .csv) of raw
    features. A CSV with a header gives a model that knows its features' names its columns
    by name (in any order; others are ignored); without a header, by position. Inputs with
    labels (`y` in an .npz, --label for a .csv) also print metrics: accuracy and macro F1
    (and ROC AUC for two classes), or MAE, RMSE and R2."""
    from nnc import pipeline

    done = pipeline.predict(model, inputs, output, what or "scores", label, threads,
                            echo=click.echo)
    for note in done.notes:
        click.echo(printable(f"note: {note}"), err=True)
    if verbose:
        names = ", ".join(done.feature_names) if done.feature_names else \
            "(the model has no feature names: columns are taken by position)"
        click.echo(printable(f"features: {names}"), err=True)
    if output is not None:
        click.echo(f"wrote {output} ({done.rows} rows)")
    m = done.metrics
    if m is not None:
        if "accuracy" in m:
            line = f"accuracy: {m['accuracy']:.4f}, macro F1: {m['macro_f1']:.4f}" + (
                f", ROC AUC: {m['roc_auc']:.4f}" if "roc_auc" in m else "")
        else:
            line = f"mae: {m['mae']:.6g}, rmse: {m['rmse']:.6g}, r2: {m['r2']:.4f}"
        click.echo(f"{line} ({done.samples} samples)", err=output is None)


@main.command()
@spec_argument
@set_option
@click.option("-o", "--output", "out_dir", type=click.Path(path_type=Path, file_okay=False),
              default=None, help="Sweep folder (default: build/NAME/sweep/).")
@click.option("--workers", type=click.IntRange(min=1, max=1024), default=None,
              help="Trials run at once (default: one per core; with --dask, the cluster's "
                   "threads). Each trial uses one BLAS thread.")
@click.option("--dask", metavar="ADDRESS", default=None,
              help="Run the trials on the Dask cluster whose scheduler is at ADDRESS, e.g. "
                   "tcp://10.0.0.5:8786 (needs pip install 'nnc[dask]' on the workers too).")
@click.option("--resume", is_flag=True,
              help="Continue the sweep in the folder: finished trials are kept, interrupted "
                   "ones run again.")
@click.option("--dry-run", is_flag=True,
              help="Print the trials' count, memory and parameter counts, and exit.")
@click.option("-q", "--quiet", is_flag=True, help="No line per trial (only the result).")
def sweep(spec: Path, overrides: tuple[str, ...], out_dir: Path | None, workers: int | None,
          dask: str | None, resume: bool, dry_run: bool, quiet: bool) -> None:
    """Search the values the `sweep` section of SPEC lists (hyperparameters: layer sizes,
    L2, learning rate, activations, ...), one trial per set of values, and keep the best.

    \b
    Writes to build/NAME/sweep/ (or -o), as the trials end:
      trials.csv     one row per trial: its values, state, metric, epochs, seconds
      trials/NNNN/   each trial's run (report.json, weights.npz, history.csv, ...)
    and at the end: best.yaml (the best trial's spec, for `nnc build`), best/ (its
    build: model.onnx, report.html, ...) and sweep.html."""
    from nnc.sweep_workers import started_early

    with started_early(workers, dask, wanted=not dry_run) as started:  # they import while
        from nnc import sweep_driver as sweeping  # the sweep is checked
        from nnc.base.machine import cores
        from nnc.progress import SweepProgress

        loaded = sweeping.plan(spec, overrides)
        if dry_run:
            for line in sweeping.dry_run_lines(loaded, workers or cores()):
                click.echo(line)
            return
        progress = SweepProgress(loaded.sweep.metric, list(loaded.sweep.parameters), quiet)
        folder = out_dir or sweeping.default_folder(loaded)
        again = " ".join(p for p in [f"nnc sweep {shlex.quote(str(spec))}", *(
            f"--set {shlex.quote(o)}" for o in overrides), f"-o {shlex.quote(str(folder))}",
            f"--workers {workers}" if workers else "", f"--dask {shlex.quote(dask)}" if dask
            else "", "--resume"] if p)
        result = _run_interruptible(again, lambda stop: sweeping.sweep_to(
            loaded, folder, workers, dask, resume, progress, stop, started))
    counts = result.counts
    click.echo(f"trials: {counts['complete']} complete, {counts['pruned']} pruned, "
               f"{counts['failed']} failed" + (f" ({result.rerun} interrupted ones run again)"
                                               if result.rerun else ""))
    best = result.best
    if best is not None:
        values = ", ".join(f"{p} = {best[p]}" for p in loaded.sweep.parameters)
        click.echo(f"best: trial {best['number']}, {loaded.sweep.metric} "
                   f"{best[loaded.sweep.metric]:.5g} ({values})")
    click.echo(f"wrote: {folder}/ " + " ".join(result.files))


@main.command()
@click.argument("out_dir", metavar="OUT", type=click.Path(path_type=Path, readable=False))
def report(out_dir: Path) -> None:
    """Draw OUT/report.html and OUT/figures/*.png from the outputs of `nnc build` or `nnc
    train` in the folder OUT, without training again.

    The page is self-contained (images inline, nothing fetched): open it from a file."""
    from nnc import pipeline

    click.echo(f"wrote {pipeline.report(out_dir)}")


@main.command()
@click.option("-o", "--output", type=click.Path(path_type=Path, dir_okay=False), default=None,
              help="Write the schema to a file instead of standard output.")
def schema(output: Path | None) -> None:
    """Print the JSON Schema of the spec format (for editors' YAML/JSON language servers).

    \b
    In a YAML spec:  # yaml-language-server: $schema=nnc-spec.schema.json"""
    from nnc import pipeline

    text = pipeline.schema(output)
    click.echo(text, nl=False) if output is None else click.echo(f"wrote {output}")


if __name__ == "__main__":  # pragma: no cover
    main()
