"""Desk benchmark (issue 5): first paint, conversation switch, search, UI loop stall.

    .venv/bin/python -m tests.bench.bench_desk [--scale 1.0] [--data-dir DIR] [--rounds 5]
        [--switches 50] [--only-seed] [--json] [--keep]

A new encrypted installation (``init_installation``, super admin ``root``) is seeded the way
the messaging search benchmark seeds its store (``bench_messaging``'s helpers: SQLAlchemy core
in 50,000-row transactions, FTS trigger off, one ``rebuild``): M messages, T tickets over
2 branches and 4 queues (about a third each pending, open, closed). Then a real
``clinicdesk engine`` process serves it, and the real desk widgets (offscreen Qt on a
``qasync`` loop, as ``run_desk``) log in through the real :class:`DeskClient`:

1. first paint — from login done (token and branches in hand) to the first Aguardando rows
   painted with their data (a viewport paint event with rows, timed after it is handled);
2. switch — a real mouse click on a visible row of Aguardando (alternating rows) until the
   message view holds that ticket's messages (its ``rowsInserted``), p95 over S switches;
3. search — typing a query in the search box and Enter (the 350 ms typing debounce is
   skipped by Enter, as a user who presses it) until the results list is filled; p95;
4. stall — a ticker on the desk's loop (Qt and asyncio are one loop here) records its longest
   lateness (a) while a simulator burst arrives through a real worker and the engine, at the
   rate the engine ingests (not 1,000/s on this machine: see docs/PERFORMANCE.md), and
   (b) SYNTHETIC: ``InboundReceived`` events injected straight into the desk's EventBridge at
   ~1,000/s (the events the engine would send; each one still makes the desk re-read its
   ticket from the real engine), until the desk has caught up.

``--data-dir DIR`` keeps the seeded installation (and its machine keys) in DIR and reuses
it on the next run when it was seeded with the same counts (seeding 1M messages takes many
minutes); ``--only-seed`` stops after seeding. ``--scale`` multiplies the counts
(M=1,000,000 messages, T=100,000 tickets, burst 1,000, synthetic 5 s at 1,000/s at 1.0).
Every figure is printed with its goal and value / goal; exit code 1 only when a behaviour
check fails (no rows, a switch that never showed messages, a search that found nothing, a
burst not all seen); a missed goal is reported, not an error.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from tests.bench import common
from tests.bench.bench_messaging import (
    SEARCHES,
    SEED_CHUNK,
    _figure,
    _fts_off,
    _fts_rebuild,
    _insert_messages,
    _message_rows,
    _seed_base,
    _seed_people,
    key_dir,
    percentiles,
)

GOAL_FIRST_PAINT_MS = 300.0
GOAL_SWITCH_P95_MS = 50.0
GOAL_SEARCH_P95_MS = 100.0
GOAL_STALL_MS = 50.0
FULL = {"messages": 1_000_000, "tickets": 100_000, "burst": 1_000, "inject_s": 5.0}
MINIMUM = {"messages": 2_000, "tickets": 200, "burst": 20, "inject_s": 0.5}
INJECT_RATE = 1_000  # events per second into the bridge
SWITCHES = 50


def scaled(key: str, scale: float) -> Any:
    value = max(MINIMUM[key], FULL[key] * scale)
    return value if isinstance(FULL[key], float) else round(value)


# ---- seeding ------------------------------------------------------------------------------


async def seed_installation(data: Path, messages: int, tickets: int) -> dict[str, Any]:
    """A real installation (super admin ``root``) seeded with ``messages`` and ``tickets``."""
    from app.bootstrap import FirstAdmin
    from app.bootstrap import init_installation as init_core
    from tests.helpers.cli import PASSWORD

    core, _ = await init_core(data, FirstAdmin("root", "Bench Root", PASSWORD))
    try:
        at = datetime(2026, 1, 5, 12, tzinfo=UTC)
        counts = (max(2, messages // 100), tickets)  # 100 messages per contact, as issue 4
        started = time.perf_counter()
        branches, _u, queues = await core.store.transaction(lambda tx: _seed_base(tx, at))
        await core.store.transaction(lambda tx: _seed_people(tx, branches, queues, counts, at))
        await core.store.transaction(_fts_off)
        for start in range(0, messages, SEED_CHUNK):
            stop = min(messages, start + SEED_CHUNK)
            rows = await asyncio.to_thread(_message_rows, start, stop, counts, at)
            await core.store.transaction(lambda tx, rows=rows: _insert_messages(tx, rows))
        inserted = time.perf_counter()
        await core.store.transaction(_fts_rebuild)
        return {"messages": messages, "tickets": tickets, "contacts": counts[0],
                "insert_s": round(inserted - started, 1),
                "fts_rebuild_s": round(time.perf_counter() - inserted, 1)}  # fmt: skip
    finally:
        core.close()


# ---- the desk -----------------------------------------------------------------------------


class PaintWatch:
    """Notes when a viewport first paints with rows (timed once the paint is handled)."""

    def __init__(self, viewport: Any, has_rows: Callable[[], bool]) -> None:
        from PySide6.QtCore import QEvent, QObject

        class _Filter(QObject):
            def eventFilter(inner, obj: Any, event: Any) -> bool:  # noqa: N805
                if event.type() == QEvent.Type.Paint and self.at is None and has_rows():
                    asyncio.get_running_loop().call_soon(self._painted)
                return False

        self.at: float | None = None
        self.done = asyncio.get_running_loop().create_future()
        self._filter = _Filter()
        viewport.installEventFilter(self._filter)

    def _painted(self) -> None:
        if self.at is None:
            self.at = time.perf_counter()
            self.done.set_result(self.at)


async def first_paint(desk: Any, engine_url: str) -> tuple[Any, dict[str, Any]]:
    """Log in through the client, then open the main window; login-done → rows painted."""
    from app.ui.login import LoginResult
    from tests.helpers.cli import PASSWORD

    me = await desk.client.login("root", PASSWORD)
    branches = await desk.client.branches()
    started = time.perf_counter()
    from app.ui import main_window

    real_init = main_window.MainWindow.__init__
    watch: list[PaintWatch] = []

    def hooked(window: Any, *args: Any, **kwargs: Any) -> None:
        real_init(window, *args, **kwargs)
        view, model = window.inbox.views["pending"], window.inbox.models["pending"]
        loaded = lambda: model.rowCount() > 0 and model.cached(model.ticket_id(0)) is not None  # noqa: E731
        watch.append(PaintWatch(view.viewport(), loaded))

    main_window.MainWindow.__init__ = hooked  # type: ignore[method-assign]
    try:
        window = await desk.open_main(LoginResult(me, branches[0]))
    finally:
        main_window.MainWindow.__init__ = real_init  # type: ignore[method-assign]
    window.resize(1280, 800)
    painted = await asyncio.wait_for(watch[0].done, 60)
    rows = window.inbox.models["pending"].rowCount()
    return window, {"ms": round(1000 * (painted - started), 1), "rows_loaded": rows}


async def switches(window: Any, count: int) -> dict[str, Any]:
    """Real clicks on visible Aguardando rows (alternating) until the messages are in."""
    from PySide6.QtCore import Qt
    from PySide6.QtTest import QTest

    inbox = window.inbox
    inbox.tabs.setCurrentIndex(0)
    view, model, pane = inbox.views["pending"], inbox.models["pending"], inbox.conversation
    await window.settle()
    visible = max(2, min(model.rowCount(), view.viewport().height() // 56 - 1))
    times, empty = [], 0
    for i in range(-2, count):  # two untimed warm-up switches
        row = i % visible
        target = model.ticket_id(row)
        arrived = asyncio.get_running_loop().create_future()

        def on_rows(*_a: Any, target: Any = target, fut: Any = arrived) -> None:
            if pane.ticket is not None and pane.ticket.id == target and not fut.done():
                fut.set_result(time.perf_counter())

        pane.model.rowsInserted.connect(on_rows)
        started = time.perf_counter()
        QTest.mouseClick(view.viewport(), Qt.MouseButton.LeftButton,
                         pos=view.visualRect(model.index(row, 0)).center())  # fmt: skip
        try:
            done = await asyncio.wait_for(arrived, 30)
        except TimeoutError:
            done, empty = None, empty + 1
        pane.model.rowsInserted.disconnect(on_rows)
        if i >= 0 and done is not None:
            times.append(done - started)
        await window.settle()  # mark-read and its row refresh: not part of the next switch
    return {"switches": count, "rows_cycled": visible, "without_messages": empty,
            **percentiles(times)}  # fmt: skip


async def searches(window: Any, rounds: int) -> dict[str, Any]:
    """Type each query, press Enter, wait for the results list; p95 over every search."""
    from PySide6.QtCore import Qt
    from PySide6.QtTest import QTest

    inbox = window.inbox
    box, results = inbox.search_box, inbox.results
    every: list[float] = []
    per_query: dict[str, Any] = {}
    for label, query in SEARCHES.items():
        times, hits = [], 0
        for _ in range(rounds + 1):  # the first of each query is a warm-up
            box.clear()
            inbox._run_search()  # back to the tabs, as clearing the box does after its debounce
            for ch in query:  # one key at a time (QTest.keyClicks aborts on non-ASCII)
                box.insert(ch)
            started = time.perf_counter()
            QTest.keyClick(box, Qt.Key.Key_Return)
            await results.settle()
            times.append(time.perf_counter() - started)
            hits = results.list.count()
        every.extend(times[1:])
        per_query[label] = {"query": query, "hits": hits, **percentiles(times[1:])}
    box.clear()
    inbox._run_search()
    return {"rounds": rounds, "all": percentiles(every), "queries": per_query}


# ---- stall ---------------------------------------------------------------------------------


async def stall_burst(window: Any, desk: Any, engine: Any, sim: Any, burst: int
                      ) -> dict[str, Any]:  # fmt: skip
    """A simulator burst through a real worker and the engine; the desk's loop lateness."""
    from tests.helpers.e2e import sim_account

    # a new channel each run: a reused --data-dir keeps the previous run's one
    name = f"rajada-{os.getpid()}"
    channel = await asyncio.to_thread(engine.linked_channel, "Centro", name, sim)
    account = sim_account(sim, channel)
    seen = {"n": 0}
    desk.bridge.inboundReceived.connect(lambda *_a: seen.__setitem__("n", seen["n"] + 1))
    meter = common.StallMeter()
    meter.start()
    meter.enter("burst")
    started = time.perf_counter()
    await asyncio.to_thread(sim.post, "/control/burst", channel=account, count=burst)
    while seen["n"] < burst and time.perf_counter() - started < 600:
        await asyncio.sleep(0.05)
    elapsed = time.perf_counter() - started
    meter.enter("catch-up")
    await window.settle()
    await meter.stop()
    return {"burst": burst, "events_seen": seen["n"], "seconds": round(elapsed, 2),
            "events_per_s": round(seen["n"] / elapsed, 1), **_stall(meter, "burst")}  # fmt: skip


async def stall_injected(window: Any, desk: Any, seconds: float) -> dict[str, Any]:
    """SYNTHETIC: InboundReceived events into the EventBridge at INJECT_RATE per second."""
    model = window.inbox.models["pending"]
    ids = [model.ticket_id(r) for r in range(min(model.rowCount(), 200))]
    channel = 1
    meter = common.StallMeter()
    meter.start()
    meter.enter("inject")
    started, sent = time.perf_counter(), 0
    total = round(seconds * INJECT_RATE)
    while sent < total:
        due = min(total, round((time.perf_counter() - started) * INJECT_RATE))
        for k in range(sent, due):  # the bridge's own dispatch, as for a WebSocket frame
            desk.bridge._dispatch({"type": "InboundReceived", "ticket_id": ids[k % len(ids)],
                                   "channel_id": channel})  # fmt: skip
        sent = max(sent, due)
        await asyncio.sleep(0.005)
    injected_s = time.perf_counter() - started
    meter.enter("catch-up")
    await window.settle()
    caught_up = time.perf_counter() - started
    await meter.stop()
    return {"events": sent, "inject_s": round(injected_s, 2),
            "rate_per_s": round(sent / injected_s, 1), "caught_up_s": round(caught_up, 2),
            **_stall(meter, "inject"),
            "catch_up_stall_ms": meter.phase_ms().get("catch-up")}  # fmt: skip


def _stall(meter: common.StallMeter, phase: str) -> dict[str, Any]:
    return {"longest_stall_ms": meter.phase_ms().get(phase), "ticks": meter.ticks,
            "ticks_over_50ms": meter.over_50ms,
            "worst": [{"late_ms": round(1000 * late, 1), "at_s": round(at, 2)}
                      for late, p, at in meter.top if p == phase][:5]}  # fmt: skip


# ---- the run -------------------------------------------------------------------------------


@dataclass
class Options:
    scale: float = 1.0
    rounds: int = 5
    switches: int = SWITCHES
    data_dir: Path | None = None  # keep / reuse the seeded installation here
    only_seed: bool = False


async def seeded(options: Options, workdir: Path) -> dict[str, Any]:
    """The seeded installation in ``workdir / "data"``: reused when ``seed.json`` there
    records the same counts, else seeded now (``workdir`` is empty then)."""
    messages, tickets = scaled("messages", options.scale), scaled("tickets", options.scale)
    record = workdir / "seed.json"
    if record.exists():
        done: dict[str, Any] = json.loads(record.read_text())
        if (done["messages"], done["tickets"]) == (messages, tickets):
            return {**done, "reused": True}
        raise RuntimeError(f"{workdir} holds another seeding: {done}")
    done = await seed_installation(workdir / "data", messages, tickets)
    record.write_text(json.dumps(done))
    return done


async def run_benchmark(options: Options, workdir: Path) -> dict[str, Any]:
    """Seed, start the engine and a simulator, run the desk measurements; the report."""
    report: dict[str, Any] = {"machine": common.machine(), "scale": options.scale,
                              "errors": [], "elapsed_s": {}}  # fmt: skip
    workdir = options.data_dir or workdir
    workdir.mkdir(parents=True, exist_ok=True)
    with key_dir(workdir):
        t = time.perf_counter()
        report["seed"] = await seeded(options, workdir)
        report["elapsed_s"]["seed"] = round(time.perf_counter() - t, 1)
        if options.only_seed:
            return report
        from PySide6.QtWidgets import QApplication

        from app.ui.desk import Desk, DeskOptions
        from tests.helpers.channels import Simulator
        from tests.helpers.e2e import Engine

        _progress(f"seeded: {report['seed']}")
        sim = Simulator("--auto-pair")
        engine = await asyncio.to_thread(Engine, workdir / "data")
        app = QApplication.instance()
        desk = Desk(app, DeskOptions(engine.url))  # type: ignore[arg-type]
        window = None
        try:
            window, report["first_paint"] = await first_paint(desk, engine.url)
            _progress(f"first paint: {report['first_paint']}")
            for name, step in _steps(window, desk, engine, sim, options):
                _progress(name)
                t = time.perf_counter()
                try:
                    report[name] = await step()
                except Exception as exc:  # report the others anyway
                    report["errors"].append(f"{name}: {type(exc).__name__}: {exc}")
                report["elapsed_s"][name] = round(time.perf_counter() - t, 1)
        finally:
            if window is not None:
                window.close()
            await desk.bridge.stop()
            await desk.client.close()
            await asyncio.to_thread(engine.stop_or_kill)
            sim.stop()
    report["machine"]["load_avg_1m_at_end"] = round(os.getloadavg()[0], 2)
    report["figures"] = figures(report)
    report["checks"] = checks(report)
    return report


def _progress(what: str) -> None:
    print(f"[bench_desk {time.strftime('%H:%M:%S')}] {what}", file=sys.stderr, flush=True)


def _steps(window: Any, desk: Any, engine: Any, sim: Any, o: Options
           ) -> list[tuple[str, Callable[[], Any]]]:  # fmt: skip
    burst, inject_s = scaled("burst", o.scale), scaled("inject_s", o.scale)
    return [
        ("switch", lambda: switches(window, o.switches)),
        ("search", lambda: searches(window, o.rounds)),
        ("burst", lambda: stall_burst(window, desk, engine, sim, burst)),
        ("inject", lambda: stall_injected(window, desk, inject_s)),
    ]


def figures(report: dict[str, Any]) -> list[dict[str, Any]]:
    """Each goal of issue 5 with its value and value / goal (for the parts that ran)."""
    get = lambda *path: _dig(report, path)  # noqa: E731
    return [
        _figure("inbox first paint after login (ms)", get("first_paint", "ms"),
                GOAL_FIRST_PAINT_MS, False, "ms"),
        _figure("conversation switch p95 (ms)", get("switch", "p95_ms"), GOAL_SWITCH_P95_MS,
                False, "ms"),
        _figure("search typed -> results shown p95 (ms)", get("search", "all", "p95_ms"),
                GOAL_SEARCH_P95_MS, False, "ms"),
        _figure("UI stall, engine burst at its rate (ms)", get("burst", "longest_stall_ms"),
                GOAL_STALL_MS, False, "ms"),
        _figure("UI stall, SYNTHETIC 1,000 ev/s into bridge (ms)",
                get("inject", "longest_stall_ms"), GOAL_STALL_MS, False, "ms"),
    ]  # fmt: skip


def _dig(report: dict[str, Any], path: tuple[str, ...]) -> Any:
    value: Any = report
    for key in path:
        if not isinstance(value, dict) or key not in value:
            return None
        value = value[key]
    return value


def checks(report: dict[str, Any]) -> dict[str, bool]:
    get = lambda *path: _dig(report, path)  # noqa: E731
    return {
        "rows_painted": (get("first_paint", "rows_loaded") or 0) > 0,
        "every_switch_showed_messages": get("switch", "without_messages") == 0,
        "rare_word_found": (get("search", "queries", "rare word", "hits") or 0) > 0,
        "burst_all_seen": get("burst", "events_seen") == get("burst", "burst"),
        "injected_all": get("inject", "events") is not None,
    }


def render(report: dict[str, Any]) -> str:
    m = report["machine"]
    lines = [
        f"machine: {m['cpu']}, {m['cores']} cores, {m['ram_gib']} GiB, {m['os']}, Python "
        f"{m['python']}; load average {m.get('load_avg_1m_at_start')} at start, "
        f"{m.get('load_avg_1m_at_end')} at end",
        f"scale: {report['scale']}, seeded: {json.dumps(report.get('seed'))}",
        "",
        *common.figure_lines(report["figures"]),
    ]
    lines.append("")
    for key in ("first_paint", "switch", "search", "burst", "inject"):
        if key in report:
            lines.append(f"{key}: {json.dumps(report[key], ensure_ascii=False)}")
    lines.append(f"checks: {json.dumps(report['checks'])}")
    lines.append(f"elapsed (s): {json.dumps(report['elapsed_s'])}")
    if report["errors"]:
        lines.append(f"errors: {report['errors']}")
    return "\n".join(lines)


passed = common.passed


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m tests.bench.bench_desk", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument("--scale", type=float, default=1.0, help="multiplies every count")
    parser.add_argument("--rounds", type=int, default=5, help="searches per query")
    parser.add_argument("--switches", type=int, default=SWITCHES, help="conversation switches")
    parser.add_argument("--data-dir", type=Path, default=None,
                        help="keep (or reuse) the seeded installation in this folder")  # fmt: skip
    parser.add_argument("--only-seed", action="store_true", help="seed, then stop")
    parser.add_argument("--json", action="store_true", help="print the report as JSON")
    parser.add_argument("--keep", action="store_true", help="keep the work folder")
    args = parser.parse_args(argv)
    if args.scale <= 0 or args.rounds < 1 or args.switches < 1:
        parser.error("--scale must be > 0; --rounds and --switches ≥ 1")
    import qasync
    from PySide6.QtWidgets import QApplication

    app = QApplication.instance() or QApplication([])
    app.setQuitOnLastWindowClosed(False)  # type: ignore[attr-defined]
    workdir = Path(tempfile.mkdtemp(prefix="clinicdesk-bench-desk-"))
    loop = qasync.QEventLoop(app)
    try:
        with loop:
            options = Options(args.scale, args.rounds, args.switches, args.data_dir,
                              args.only_seed)  # fmt: skip
            report = loop.run_until_complete(run_benchmark(options, workdir))
    finally:
        if args.keep:
            print(f"work folder kept: {workdir}", file=sys.stderr)
        else:
            import shutil

            shutil.rmtree(workdir, ignore_errors=True)
    if args.only_seed:
        print(f"seeded: {json.dumps(report['seed'])}")
        return 0
    print(json.dumps(report, indent=2, ensure_ascii=False) if args.json else render(report))
    return 0 if passed(report) else 1


__all__ = ["Options", "passed", "render", "run_benchmark"]

if __name__ == "__main__":
    with contextlib.suppress(KeyboardInterrupt):
        sys.exit(main())
