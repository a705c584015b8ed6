"""``clinicdesk simulator serve|fault|burst|scan|accounts``: the local WhatsApp simulator.

``serve`` runs the simulator in the foreground on 127.0.0.1; the other commands talk to a
running one through its control API (``--url``, default http://127.0.0.1:8766).
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from typing import TYPE_CHECKING, Any

from app.cli.output import fail, print_json
from app.domain.errors import ClinicDeskError, ErrorCode
from app.simulator.faults import FAULT_KINDS
from app.simulator.protocol import DEFAULT_PORT, DEFAULT_URL, http_url

if TYPE_CHECKING:
    Subs = argparse._SubParsersAction[argparse.ArgumentParser]

EXIT_OK, EXIT_ERROR = 0, 1
HTTP_TIMEOUT = 10.0


def add_simulator_parser(sub: Subs, _data_dir: argparse.ArgumentParser | None = None) -> None:
    """Add ``simulator`` and its actions to the top-level sub-parsers (no ``--data-dir``)."""
    sim = sub.add_parser("simulator", help="the local WhatsApp simulator (demo, tests, load)")
    actions = sim.add_subparsers(dest="action", required=True)
    _add_serve(actions)
    fault = actions.add_parser("fault", help="inject a fault (no --channel: every channel)")
    fault.add_argument("kind", choices=FAULT_KINDS)
    fault.add_argument("--channel", help="channel (account) name; default: every channel")
    fault.add_argument(
        "--seconds",
        type=float,
        help="how long (refuse, duplicate, reorder, deaf); the latency (delay); "
        "a temporary ban (ban); default: until heal / permanent ban",
    )
    _url_flags(fault)
    burst = actions.add_parser("burst", help="simulated patients send N messages to a channel")
    burst.add_argument("--channel", required=True)
    burst.add_argument("--count", type=int, required=True)
    burst.add_argument("--kind", choices=["text", "image"], default="text")
    _url_flags(burst)
    scan = actions.add_parser("scan", help="'scan' the QR (or type the code) of a pairing")
    scan.add_argument("--channel", required=True)
    _url_flags(scan)
    _url_flags(actions.add_parser("accounts", help="every account with its state and counts"))


def _add_serve(actions: Subs) -> None:
    serve = actions.add_parser("serve", help="run the simulator on 127.0.0.1 (foreground)")
    serve.add_argument("--port", type=int, default=DEFAULT_PORT, help="0 picks a free one")
    serve.add_argument("--auto-pair", action="store_true", help="accept every pairing at once")
    serve.add_argument(
        "--qr-interval", type=float, default=20.0, help="seconds per QR (the first lasts 3x)"
    )
    serve.add_argument("--qr-max", type=int, default=6, help="QR codes before pairing_timeout")
    serve.add_argument("--receipt-delay", type=float, default=0.5, help="sent→delivered→read")
    serve.add_argument("--chatty", action="store_true", help="patients chat on their own")
    serve.add_argument("--chat-interval", type=float, default=8.0)
    serve.add_argument("--reply-delay", type=float, default=2.0)
    serve.add_argument("--state-file", help="keep accounts across simulator restarts (JSON)")
    serve.add_argument("--seed", type=int, help=argparse.SUPPRESS)


def _url_flags(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--url", default=DEFAULT_URL, help=f"simulator address ({DEFAULT_URL})")
    parser.add_argument("--json", action="store_true", help="machine-readable output")


def cmd_simulator(args: argparse.Namespace) -> int:
    """Run one ``simulator`` action; returns the exit code."""
    if args.action == "serve":
        return _serve(args)
    if args.action == "fault":
        body = {"kind": args.kind, "channel": args.channel, "seconds": args.seconds}
        return _control(args, "POST", "/control/fault", body, _fault_line)
    if args.action == "burst":
        body = {"channel": args.channel, "count": args.count, "kind": args.kind}
        return _control(args, "POST", "/control/burst", body, _burst_line)
    if args.action == "scan":
        body = {"channel": args.channel}
        return _control(args, "POST", "/control/scan", body, lambda r: f"paired {r['channel']}")
    return _control(args, "GET", "/control/accounts", None, _accounts_text)


def _serve(args: argparse.Namespace) -> int:
    from pathlib import Path

    from app.simulator.hub import HubOptions
    from app.simulator.pairing import PairingTiming
    from app.simulator.server import ServeOptions, serve_async

    if args.qr_interval <= 0 or args.qr_max < 1 or not 0 <= args.port <= 65535:
        fail("--qr-interval must be > 0, --qr-max >= 1 and --port 0-65535")
        return 2
    timing = PairingTiming(args.qr_interval, 3 * args.qr_interval, args.qr_max, args.auto_pair)
    hub = HubOptions(
        timing=timing,
        receipt_delay=args.receipt_delay,
        chatty=args.chatty,
        chat_interval=args.chat_interval,
        reply_delay=args.reply_delay,
        state_file=Path(args.state_file) if args.state_file else None,
        seed=args.seed,
    )

    def ready(url: str) -> None:
        print(f"clinicdesk simulator listening on {url}", flush=True)

    try:
        asyncio.run(serve_async(ServeOptions(port=args.port, hub=hub), ready))
    except OSError as exc:
        fail(f"the simulator cannot listen on 127.0.0.1:{args.port} ({exc.strerror or exc})")
        return EXIT_ERROR
    return EXIT_OK


def _control(
    args: argparse.Namespace,
    method: str,
    path: str,
    body: dict[str, Any] | None,
    describe: Any,
) -> int:
    import httpx

    base = http_url(args.url)
    try:
        response = httpx.request(method, base + path, json=body, timeout=HTTP_TIMEOUT)
    except httpx.HTTPError as exc:
        raise ClinicDeskError(ErrorCode.SIMULATOR_UNREACHABLE, url=base) from exc
    try:
        result = response.json()
    except ValueError as exc:
        raise ClinicDeskError(ErrorCode.SIMULATOR_UNREACHABLE, url=base) from exc
    if response.status_code >= 400:
        fail(f"the simulator refused: {result.get('error', response.status_code)}")
        return EXIT_ERROR
    if args.json:
        print_json(result)
    else:
        print(describe(result))
    return EXIT_OK


def _fault_line(result: dict[str, Any]) -> str:
    names = result.get("accounts", [])
    return f"{result['kind']}: applied to {len(names)} channel(s)"


def _burst_line(result: dict[str, Any]) -> str:
    where = "delivering now" if result.get("connected") else "queued until it connects"
    return f"{result['queued']} message(s) for {result['channel']}: {where}"


def _accounts_text(result: dict[str, Any]) -> str:
    lines = [f"{len(result['accounts'])} account(s), {result['connected']} connected"]
    for account in result["accounts"]:
        state = "connected" if account["connected"] else account["status"]
        faults = ",".join(account["faults"]) or "-"
        lines.append(f"{account['name']}  {state}  pending={account['pending']}  faults={faults}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    """Stand-alone entry (``python -m app.cli.simulator_cmd serve ...``) for tests and scripts."""
    from app.cli.messages import message_for

    parser = argparse.ArgumentParser(prog="clinicdesk")
    add_simulator_parser(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(argv)
    try:
        return cmd_simulator(args)
    except ClinicDeskError as exc:
        fail(message_for(exc))
        return EXIT_ERROR
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
