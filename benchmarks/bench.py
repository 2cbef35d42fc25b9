"""nnc's benchmarks: training and inference speed against scikit-learn, PyTorch and a
hand-written NumPy loop, start-up time, and the truth of the memory estimate.

    python benchmarks/bench.py                 # everything, 2 threads
    python benchmarks/bench.py train --rounds 5
    python benchmarks/bench.py infer startup memory

    python benchmarks/bench.py checkpoints     # what checkpointing costs by default
    python benchmarks/bench.py optimizers      # Adam against SGD

Peers are optional (`pip install -e .[bench]`); a missing one is skipped with a note.
Contenders run alternately in one process with the same thread count; only ratios
measured side by side mean anything on a shared machine. The peers and "nnc" read the
minibatches in the data's order (nnc with `train.shuffle: false` and no checkpoints,
scikit-learn with shuffle=False); "nnc default" is nnc as `nnc train` runs a spec that
says nothing more: a new random order every epoch (each minibatch gathered into the
batch buffer), checkpoints by time and one at the end, and samples/s over the whole
training loop, as nnc prints them. Prints figures, asserts nothing.
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
from threadpoolctl import threadpool_limits

sys.path.insert(0, str(Path(__file__).resolve().parent))
from handloop import HandLoop

from nnc import pipeline
from nnc.runtime.data import Dataset
from nnc.runtime.params import ParamStore
from nnc.runtime.threads import blas_threads, choose_threads
from nnc.runtime.trainer import Trainer
from nnc.spec import load_spec_text

ROOT = Path(__file__).resolve().parent.parent
NETS = [  # (sizes, batch, samples per run)
    ([3072, 100, 10], 256, 256 * 100),
    ([3072, 500, 500, 10], 256, 256 * 12),
    ([64, 100, 10], 64, 64 * 600),
]
LR, MOMENTUM, L2 = 0.01, 0.9, 1e-4


def spec_text(sizes: list[int], batch: int, epochs: int = 1, threads: int | None = None,
              shuffle: bool = True, defaults: bool = False) -> str:
    """A spec of an MLP; ``defaults``: the checkpoint and shuffle settings left unsaid."""
    layers = []
    for units in sizes[1:-1]:
        layers += [f"  - {{op: dense, units: {units}}}", "  - relu"]
    layers.append(f"  - {{op: dense, units: {sizes[-1]}}}")
    extra = "" if defaults else f", checkpoint_every: 0, shuffle: {str(shuffle).lower()}"
    extra += f", threads: {threads}" if threads else ""
    return "\n".join([
        "name: bench", f"input: [{sizes[0]}]", "layers:", *layers,
        "loss: softmax_cross_entropy",
        f"train: {{epochs: {epochs}, batch_size: {batch}, optimizer: {{sgd: {{lr: {LR}, "
        f"momentum: {MOMENTUM}}}}}, l2: {L2}{extra}}}", ""])


def data(sizes: list[int], n: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(0)
    return (rng.standard_normal((n, sizes[0])).astype(np.float32),
            rng.integers(0, sizes[-1], n).astype(np.int64))


def macs(sizes: list[int]) -> int:
    return sum(a * b for a, b in itertools.pairwise(sizes))


# ----------------------------------------------------------------------- contenders

def run_nnc(sizes, batch, x, y, threads, shuffle=False):
    """nnc's runtime as `nnc train` runs it, in the data's order like the peers here."""
    prepared = pipeline.prepare(load_spec_text(spec_text(sizes, batch, shuffle=shuffle)))
    params = ParamStore(prepared.plan).initialize(0)
    empty = x[:0]
    dataset = Dataset(x, y, empty, y[:0], empty, None, sizes[-1], "bench")
    trainer = Trainer(prepared.plan, params, dataset, prepared.spec_file.spec.train,
                      "softmax_cross_entropy")
    with blas_threads(choose_threads(prepared.plan, batch, threads)):
        start = time.perf_counter()
        trainer.run_epoch()
        return len(x) / (time.perf_counter() - start)


def run_nnc_default(sizes, batch, x, y, threads, epochs=3, text=None):
    """nnc with default settings, as `nnc train -o OUT` runs it: a new random order each
    epoch (each minibatch gathered into the batch buffer, a copy the in-order runs do not
    make), checkpoints to a folder (by time, and one at the end); samples/s as nnc prints
    them, over the whole loop. A run of a few epochs, as users train, rather than one:
    the last checkpoint is a fixed cost of a run."""
    import tempfile

    prepared = pipeline.prepare(load_spec_text(text or spec_text(sizes, batch, epochs,
                                                                 defaults=True)))
    empty = x[:0]
    dataset = Dataset(x, y, empty, y[:0], empty, None, sizes[-1], "bench")
    with tempfile.TemporaryDirectory() as out:
        trained = pipeline.train(prepared, dataset=dataset, out_dir=Path(out), threads=threads)
    return trained.result.samples_per_second


def run_hand(sizes, batch, x, y, threads):
    loop = HandLoop(sizes, batch, LR, MOMENTUM, L2)
    with threadpool_limits(threads, user_api="blas"):
        start = time.perf_counter()
        for i in range(0, len(x), batch):
            loop.step(x[i:i + batch], y[i:i + batch])
        return len(x) / (time.perf_counter() - start)


def run_sklearn(sizes, batch, x, y, threads):
    import warnings

    from sklearn.neural_network import MLPClassifier

    model = MLPClassifier(hidden_layer_sizes=tuple(sizes[1:-1]), solver="sgd", momentum=MOMENTUM,
                          nesterovs_momentum=False, alpha=L2, batch_size=batch,
                          learning_rate_init=LR, random_state=0, shuffle=False)
    with threadpool_limits(threads, user_api="blas"), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        start = time.perf_counter()
        model.partial_fit(x, y, classes=np.arange(sizes[-1]))
        return len(x) / (time.perf_counter() - start)


def run_torch(sizes, batch, x, y, threads):
    import torch

    torch.set_num_threads(threads)
    torch.manual_seed(0)
    layers = []
    for a, b in itertools.pairwise(sizes[:-1]):
        layers += [torch.nn.Linear(a, b), torch.nn.ReLU()]
    model = torch.nn.Sequential(*layers, torch.nn.Linear(sizes[-2], sizes[-1]))
    optimizer = torch.optim.SGD(model.parameters(), lr=LR, momentum=MOMENTUM, weight_decay=L2)
    loss_fn = torch.nn.CrossEntropyLoss()
    xt, yt = torch.from_numpy(x), torch.from_numpy(y)
    start = time.perf_counter()
    for i in range(0, len(x), batch):
        optimizer.zero_grad(set_to_none=True)
        loss_fn(model(xt[i:i + batch]), yt[i:i + batch]).backward()
        optimizer.step()
    return len(x) / (time.perf_counter() - start)


def available(module: str) -> bool:
    try:
        __import__(module)
        return True
    except ImportError:
        print(f"  note: {module} is not installed; skipped (pip install -e .[bench])")
        return False


def bench_train(threads: int, rounds: int) -> dict:
    contenders = {"nnc": run_nnc, "nnc default": run_nnc_default, "numpy loop": run_hand}
    if available("sklearn"):
        contenders["sklearn"] = run_sklearn
    if available("torch"):
        contenders["pytorch"] = run_torch
    results = {}
    for sizes, batch, n in NETS:
        x, y = data(sizes, n)
        for run in contenders.values():  # warm up: imports, BLAS thread pools, page faults
            run(sizes, batch, x[:batch * 4], y[:batch * 4], threads)
        speeds: dict[str, list[float]] = {k: [] for k in contenders}
        for _ in range(rounds):
            for name, run in contenders.items():
                speeds[name].append(run(sizes, batch, x, y, threads))
        median = {k: statistics.median(v) for k, v in speeds.items()}
        label = f"{'-'.join(map(str, sizes))}, batch {batch}"
        results[label] = median
        flops = 6 * macs(sizes)  # forward 2 x MACs, backward 4 x MACs per sample
        print(f"\ntraining {label} ({threads} threads, median of {rounds}):")
        for name, speed in median.items():
            ratios = "" if name.startswith("nnc") else "   " + ", ".join(
                f"{mine}/{name} = {paired(speeds[mine], speeds[name]):.2f}x"
                for mine in ("nnc", "nnc default"))
            print(f"  {name:12s} {speed:12,.0f} samples/s  {speed * flops / 1e9:7.1f} GFLOP/s"
                  + ratios)
    return results


def paired(mine: list[float], other: list[float]) -> float:
    """The median of the rounds' ratios: each round's two runs are seconds apart, so the
    machine's slow spells (common on a shared VM) divide out."""
    return statistics.median(a / b for a, b in zip(mine, other))


# ----------------------------------------------------------------------- optimizers

def bench_optimizers(threads: int, rounds: int) -> dict:
    """samples/s of `nnc train` (default settings but the optimizer) on 3072-100-10 at
    batch 256 for 3 epochs: Adam at its defaults against SGD with momentum and L2, run
    alternately."""
    sizes, batch = [3072, 100, 10], 256
    x, y = data(sizes, batch * 100)
    sgd = spec_text(sizes, batch, epochs=3, defaults=True)
    adam = sgd.replace(f"{{sgd: {{lr: {LR}, momentum: {MOMENTUM}}}}}", "{adam: {}}")
    assert adam != sgd
    run_nnc_default(sizes, batch, x[:batch * 4], y[:batch * 4], threads, text=adam)  # warm up
    speeds: dict[str, list[float]] = {"sgd": [], "adam": []}
    for _ in range(rounds):
        for name, text in (("sgd", sgd), ("adam", adam)):
            speeds[name].append(run_nnc_default(sizes, batch, x, y, threads, text=text))
    median = {k: statistics.median(v) for k, v in speeds.items()}
    ratio = paired(speeds["adam"], speeds["sgd"])
    print(f"\noptimizers: nnc train 3072-100-10, batch 256 ({threads} threads, median of "
          f"{rounds}):  sgd {median['sgd']:,.0f}  adam {median['adam']:,.0f} samples/s  "
          f"adam/sgd {ratio:.2f}")
    return {**median, "ratio": ratio}


# ---------------------------------------------------------------------- checkpoints

def bench_checkpoints(threads: int, rounds: int) -> dict:
    """Training time with default checkpointing against none at all (no output folder, no
    fingerprint of the data), in one run: the spiral for 2000 epochs
    (models/spiral-two-layer.yaml) and 3072-100-10 at batch 256."""
    print(f"\ncheckpoints: training seconds, default against none ({threads} threads, "
          f"median of {rounds}):")
    return side_by_side(
        rounds, lambda text, sets, arrays: train_seconds(text, sets, threads, arrays),
        lambda text, sets, arrays: train_seconds(text, sets, threads, arrays, checkpoints=False),
        {"spiral-two-layer, 2000 epochs": (
            (ROOT / "models/spiral-two-layer.yaml").read_text(), ["train.epochs=2000"], None)})


def side_by_side(rounds: int, default: Callable[..., float], other: Callable[..., float],
                 cases: dict[str, tuple[str, list[str], Any]] | None = None) -> dict:
    """``default`` and ``other`` measured alternately ``rounds`` times on each case (spec
    text, overrides, arrays or None), and on 3072-100-10 at batch 256 for 5 epochs;
    prints and returns their medians and ratio."""
    sizes = [3072, 100, 10]
    cases = {**(cases or {}), "3072-100-10, batch 256, 5 epochs": (
        spec_text(sizes, 256, epochs=5, defaults=True), [], data(sizes, 256 * 100))}
    results = {}
    for label, (text, overrides, arrays) in cases.items():
        default(text, overrides, arrays)  # warm up
        firsts, seconds = [], []
        for _ in range(rounds):
            firsts.append(default(text, overrides, arrays))
            seconds.append(other(text, overrides, arrays))
        a, b, ratio = statistics.median(firsts), statistics.median(seconds), \
            paired(firsts, seconds)
        results[label] = {"default": a, "none": b, "ratio": ratio}
        print(f"  {label:34s} default {a:10,.3f}   none {b:10,.3f}   default/none {ratio:.3f}")
    return results


def train_seconds(text: str, overrides: list[str], threads: int, arrays=None,
                  checkpoints: bool = True) -> float:
    """The wall time of `nnc train`'s training step, with checkpoints to a new folder (as
    `nnc train` runs it), or without any."""
    import tempfile

    prepared = pipeline.prepare(load_spec_text(text, overrides=overrides))
    dataset = None
    if arrays is not None:
        x, y = arrays
        dataset = Dataset(x, y, x[:0], y[:0], x[:0], None, int(y.max()) + 1, "bench")
    with tempfile.TemporaryDirectory() as out:
        start = time.perf_counter()
        pipeline.train(prepared, dataset=dataset, out_dir=Path(out) if checkpoints else None,
                       threads=threads)
        return time.perf_counter() - start


# ---------------------------------------------------------------------- diagnostics

def bench_diagnostics(threads: int, rounds: int) -> dict:
    """Training throughput (samples/s as nnc reports it, the whole loop) with the default
    diagnostics against none, in one run: models/digits.yaml and 3072-100-10 at batch 256."""
    print(f"\ndiagnostics: training samples/s, default against none ({threads} threads, "
          f"median of {rounds}):")
    return side_by_side(
        rounds, lambda text, sets, arrays: speed(text, sets, threads, arrays),
        lambda text, sets, arrays: speed(text, [*sets, "train.diagnostics_every=0"], threads,
                                         arrays),
        {"digits": ((ROOT / "models/digits.yaml").read_text(), [], None)})


def speed(text: str, overrides: list[str], threads: int, arrays=None) -> float:
    """Samples/s of a training run (no output folder), as nnc prints it."""
    prepared = pipeline.prepare(load_spec_text(text, overrides=overrides))
    dataset = None
    if arrays is not None:
        x, y = arrays
        dataset = Dataset(x, y, x[:0], y[:0], x[:0], None, int(y.max()) + 1, "bench")
    trained = pipeline.train(prepared, dataset=dataset, threads=threads)
    return trained.result.samples_per_second


def bench_report(rounds: int) -> dict:
    """Drawing report.html of a digits build: `nnc report OUT` as a whole process
    (matplotlib's import included) and the drawing alone, in process."""
    import tempfile

    from nnc.html_report import draw

    with tempfile.TemporaryDirectory() as folder:
        out = Path(folder)
        subprocess.run([sys.executable, "-m", "nnc.cli", "build", str(ROOT / "models/digits.yaml"),
                        "-o", str(out), "-q", "--no-report"], check=True, capture_output=True)
        process, alone = [], []
        for _ in range(rounds):
            start = time.perf_counter()
            subprocess.run([sys.executable, "-m", "nnc.cli", "report", str(out)], check=True,
                           capture_output=True)
            process.append(time.perf_counter() - start)
            start = time.perf_counter()
            draw(out)
            alone.append(time.perf_counter() - start)
    results = {"process": statistics.median(process), "drawing": statistics.median(alone)}
    print(f"\nreport of models/digits.yaml (median of {rounds}): `nnc report OUT` "
          f"{results['process']:.2f} s as a process, {results['drawing']:.2f} s drawing alone")
    return results


# ---------------------------------------------------------------------------- sweep

SWEEP = """sweep:
  metric: val_accuracy
  parameters:
    layers.0.units: {values: [32, 64, 128, 256]}
    train.l2: {values: [0.0, 0.001]}
"""


def bench_sweep(rounds: int, epochs: int = 300) -> dict:
    """The sweep engine's overhead: `nnc sweep` as a whole process (start-up, the 8 trials
    of a grid on models/digits.yaml with ``epochs`` epochs, trials.csv, best/ and
    sweep.html) on 2 workers, against the sum of the trials' training times / 2 (the
    time two workers need at best); and against the sum of the trials' whole times on
    their workers (loading the data, compiling, training, their files) / 2. Work the
    engine does beside the trials (best/ begun while the last ones run, imports) slows
    them, and their training times with them: the ratio to the CPU time of their training
    / 2 (one BLAS thread: their training time when nothing else runs) is the honest one."""
    import csv
    import tempfile

    import optuna

    ratios, wall_ratios, cpu_ratios, seconds, ideal_total = [], [], [], [], []
    with tempfile.TemporaryDirectory() as folder:
        spec = Path(folder) / "digits-sweep.yaml"
        spec.write_text((ROOT / "models/digits.yaml").read_text() + SWEEP)
        for k in range(rounds):
            out = Path(folder) / f"out{k}"
            start = time.perf_counter()
            subprocess.run([sys.executable, "-m", "nnc.cli", "sweep", str(spec), "--workers",
                            "2", "-o", str(out), "-q", "--set", f"train.epochs={epochs}"],
                           check=True, capture_output=True)
            elapsed = time.perf_counter() - start
            with (out / "trials.csv").open() as f:
                training = sum(float(r["seconds"]) for r in csv.DictReader(f))
            journal = optuna.storages.journal.JournalFileBackend(str(out / "study.journal"))
            study = optuna.load_study(study_name="nnc-sweep",
                                      storage=optuna.storages.JournalStorage(journal))
            whole = sum(t.user_attrs["wall"] for t in study.trials)
            cpu = sum(t.user_attrs["cpu"] for t in study.trials)
            seconds.append(elapsed)
            ideal_total.append(training / 2)
            ratios.append(elapsed / (training / 2))
            wall_ratios.append(elapsed / (whole / 2))
            cpu_ratios.append(elapsed / (cpu / 2))
    results = {"seconds": statistics.median(seconds), "ideal": statistics.median(ideal_total),
               "ratio": statistics.median(ratios), "ratio_to_trial_time": statistics.median(
                   wall_ratios), "ratio_to_training_cpu": statistics.median(cpu_ratios)}
    print(f"\nsweep: 8 trials of models/digits.yaml ({epochs} epochs) on 2 workers, median of "
          f"{rounds}: {results['seconds']:.1f} s as a process; the trials' training / 2: "
          f"{results['ideal']:.1f} s; ratio {results['ratio']:.2f} (to their training's CPU "
          f"time / 2: {results['ratio_to_training_cpu']:.2f}; to the trials' whole times / 2: "
          f"{results['ratio_to_trial_time']:.2f})")
    return results


# ------------------------------------------------------------------------ inference

def bench_infer(threads: int, rounds: int) -> dict:
    from nnc.compiler.onnx_export import export_onnx
    from nnc.runtime import onnx_run
    from nnc.runtime.executor import Executor

    sizes = [3072, 100, 10]
    prepared = pipeline.prepare(load_spec_text(spec_text(sizes, 256)))
    params = ParamStore(prepared.plan).initialize(0)
    model = export_onnx(prepared.graph, params.state_dict())
    sess = onnx_run.session(model, threads)
    x = np.random.default_rng(0).standard_normal((1024, 3072)).astype(np.float32)
    one = x[:1]
    executors = {b: Executor(prepared.plan, params, b, training=False) for b in (1, 1024)}
    runs = {
        "onnxruntime": lambda batch: sess.run(["scores"], {"input": batch}),
        "numpy forward": lambda batch: executors[len(batch)].forward(batch),
    }
    if available("torch"):
        import torch

        torch.set_num_threads(threads)
        net = torch.nn.Sequential(torch.nn.Linear(3072, 100), torch.nn.ReLU(),
                                  torch.nn.Linear(100, 10)).eval()

        def torch_run(batch):
            with torch.no_grad():
                return net(torch.from_numpy(batch))

        runs["pytorch eager"] = torch_run
    results = {}
    print(f"\ninference 3072-100-10 ({threads} threads, median of {rounds}):")
    with threadpool_limits(threads, user_api="blas"):
        for name, run in runs.items():
            latency, throughput = [], []
            for _ in range(rounds):
                for _ in range(50):
                    run(one)
                start = time.perf_counter()
                for _ in range(500):
                    run(one)
                latency.append((time.perf_counter() - start) / 500)
                start = time.perf_counter()
                for _ in range(20):
                    run(x)
                throughput.append(20 * len(x) / (time.perf_counter() - start))
            results[name] = (statistics.median(latency), statistics.median(throughput))
            print(f"  {name:14s} batch 1: {results[name][0] * 1e6:8.1f} us   "
                  f"batch 1024: {results[name][1]:12,.0f} samples/s")
    return results


# ------------------------------------------------------------------------- start-up

def bench_startup(rounds: int) -> dict:
    commands = {
        "nnc --help": ["--help"],
        "nnc check digits": ["check", str(ROOT / "models/digits.yaml")],
        "nnc summary modern-96m": ["summary", str(ROOT / "models/modern-96m.yaml")],
    }
    results = {}
    print(f"\nstart-up, whole process (median of {rounds}):")
    for name, args in commands.items():
        times = []
        for _ in range(rounds):
            start = time.perf_counter()
            subprocess.run([sys.executable, "-m", "nnc.cli", *args], check=True,
                           capture_output=True)
            times.append(time.perf_counter() - start)
        probe = (f"import sys, runpy; sys.argv = ['nnc', *{args!r}]\n"
                 "try:\n    runpy.run_module('nnc.cli', run_name='__main__')\n"
                 "except SystemExit:\n    pass\n"
                 "heavy = sorted(m for m in ('onnx', 'onnxruntime', 'sklearn', 'scipy', 'torch', "
                 "'matplotlib', 'optuna', 'distributed') "
                 "if m in sys.modules)\nprint(','.join(heavy), file=sys.stderr)")
        heavy = subprocess.run([sys.executable, "-c", probe], capture_output=True,
                               text=True).stderr.strip().splitlines()[-1:]
        results[name] = statistics.median(times)
        print(f"  {name:24s} {results[name]:6.3f} s   heavy modules imported: "
              f"{heavy[0] if heavy and heavy[0] else 'none'}")
    return results


# --------------------------------------------------------------------------- memory

MEMORY_PROBE = r"""
import json, sys, numpy as np
from nnc import pipeline
from nnc.runtime.data import Dataset
from nnc.runtime.params import ParamStore
from nnc.runtime.trainer import Trainer
from nnc.spec import load_spec_text
text, n = sys.argv[1], int(sys.argv[2])
prepared = pipeline.prepare(load_spec_text(text))
rng = np.random.default_rng(0)
spec = prepared.spec_file.spec
x = rng.standard_normal((n, prepared.graph.input_shape[0]), dtype=np.float32)
y = rng.integers(0, prepared.graph.output_shape[0], n)
def status(key):
    with open("/proc/self/status") as f:
        return next(int(l.split()[1]) * 1024 for l in f if l.startswith(key))
# BLAS allocates its per-thread work buffers at its first large product: not nnc's memory
a = np.ones((512, 512), np.float32)
a @ a
with open("/proc/self/clear_refs", "w") as f:
    f.write("5")  # reset the peak RSS (VmHWM) to the current RSS
base = status("VmRSS:")
trainer = Trainer(prepared.plan, ParamStore(prepared.plan).initialize(0),
                  Dataset(x, y, x[:0], y[:0], x[:0], None, None, "bench"), spec.train,
                  "softmax_cross_entropy")
trainer.run_epoch()
peak = status("VmHWM:")
print(json.dumps({"estimate": prepared.sizing.memory.training, "measured": peak - base}))
"""


def bench_memory() -> dict:
    results = {}
    print("\ntraining memory: the sizing estimate vs the measured peak RSS above the data set:")
    for sizes, batch, _ in NETS[:2]:
        text = spec_text(sizes, batch)
        out = subprocess.run([sys.executable, "-c", MEMORY_PROBE, text, str(batch * 8)],
                             capture_output=True, text=True, check=True)
        figures = json.loads(out.stdout)
        ratio = figures["measured"] / figures["estimate"]
        label = "-".join(map(str, sizes))
        results[label] = {**figures, "ratio": ratio}
        print(f"  {label:18s} estimate {figures['estimate'] / 2**20:7.1f} MiB   measured "
              f"{figures['measured'] / 2**20:7.1f} MiB   measured/estimate {ratio:.2f}")
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parts = ["train", "optimizers", "checkpoints", "diagnostics", "report", "sweep", "infer",
             "startup", "memory"]
    parser.add_argument("parts", nargs="*", metavar="PART",
                        help=f"what to measure: {', '.join(parts)} (default: everything)")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--json", type=Path, help="also write the figures to this file")
    args = parser.parse_args()
    unknown = set(args.parts) - set(parts)
    if unknown:
        parser.error(f"unknown part(s): {', '.join(sorted(unknown))}")
    args.parts = args.parts or parts
    print(f"nnc benchmarks: {os.cpu_count()} CPUs, numpy {np.__version__}")
    figures = {}
    if "train" in args.parts:
        figures["train"] = bench_train(args.threads, args.rounds)
    if "optimizers" in args.parts:
        figures["optimizers"] = bench_optimizers(args.threads, args.rounds)
    if "checkpoints" in args.parts:
        figures["checkpoints"] = bench_checkpoints(args.threads, args.rounds)
    if "diagnostics" in args.parts:
        figures["diagnostics"] = bench_diagnostics(args.threads, args.rounds)
    if "report" in args.parts:
        figures["report"] = bench_report(args.rounds)
    if "sweep" in args.parts:  # short trials, where fixed costs show, and longer ones
        figures["sweep"] = {epochs: bench_sweep(args.rounds, epochs) for epochs in (300, 1000)}
    if "infer" in args.parts:
        figures["infer"] = bench_infer(args.threads, args.rounds)
    if "startup" in args.parts:
        figures["startup"] = bench_startup(max(args.rounds, 5))
    if "memory" in args.parts:
        figures["memory"] = bench_memory()
    if args.json:
        args.json.write_text(json.dumps(figures, indent=2))


if __name__ == "__main__":
    main()
