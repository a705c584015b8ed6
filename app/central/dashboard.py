"""The fleet dashboard (Portuguese, for the central office staff) and the CSV export.

Jinja2 with autoescaping on: labels come from the office, but nothing typed anywhere reaches
the page unescaped. No JavaScript and no external assets.
"""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime
from pathlib import Path

from jinja2 import Environment, FileSystemLoader, select_autoescape

from app.central.fleet import ApplianceView, summarise

TEMPLATES = Path(__file__).with_name("templates")

STATE_TEXT = {
    "DISCONNECTED": "desconectado",
    "CONNECTING": "tentando reconectar",
    "QR_REQUIRED": "precisa ser conectado de novo pelo celular",
    "PAIRING": "sendo conectado pelo celular",
    "INITIALIZING": "iniciando",
    "ERROR": "com falha",
    "SUSPENDED": "pausado",
}


def state_text(state: str) -> str:
    """A channel state in plain Portuguese."""
    return STATE_TEXT.get(state, "desconectado")


def age_text(hours: float | None) -> str:
    """``3 h`` / ``2 dias`` / ``15 min``."""
    if hours is None:
        return "—"
    if hours < 1:
        return f"{max(1, round(hours * 60))} min"
    if hours < 48:
        return f"{round(hours)} h"
    return f"{round(hours / 24)} dias"


class Dashboard:
    """Renders the login page and the fleet page."""

    def __init__(self) -> None:
        self._env = Environment(
            loader=FileSystemLoader(TEMPLATES),
            autoescape=select_autoescape(default=True, default_for_string=True),
        )
        self._env.globals.update(state_text=state_text, age_text=age_text)

    def login_page(self, *, error: bool = False) -> str:
        """The login form (``error``: the last token was wrong)."""
        return self._env.get_template("login.html").render(error=error)

    def fleet_page(self, fleet: list[ApplianceView], now: float) -> str:
        """The table of appliances with the summary line."""

        def seen_text(moment: float | None) -> str:
            if moment is None:
                return "nunca"
            return f"há {age_text(max(0.0, now - moment) / 3600.0)}"

        return self._env.get_template("dashboard.html").render(
            rows=fleet,
            summary=summarise(fleet),
            now_text=datetime.fromtimestamp(now, UTC).strftime("%d/%m/%Y %H:%M"),
            seen_text=seen_text,
        )


CSV_COLUMNS = (
    "appliance_id",
    "label",
    "online",
    "last_seen",
    "last_seq",
    "channels_connected",
    "channels_total",
    "channels_disconnected",
    "backup_age_hours",
    "backup_alert",
    "messages_in_today",
    "messages_out_today",
)


def _cell(value: object) -> str:
    """A CSV cell that a spreadsheet will not run as a formula (CSV injection)."""
    text = "" if value is None else str(value)
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


def fleet_csv(fleet: list[ApplianceView]) -> str:
    """One row per appliance (header first); times are ISO 8601 UTC."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(CSV_COLUMNS)
    for a in fleet:
        last_seen = None if a.last_seen is None else datetime.fromtimestamp(a.last_seen, UTC)
        age = None if a.backup_age_h is None else f"{a.backup_age_h:.1f}"
        row = (
            a.appliance_id,
            a.label,
            "yes" if a.online else "no",
            last_seen.isoformat() if last_seen else "",
            a.last_seq,
            a.channels_total - len(a.disconnected),
            a.channels_total,
            len(a.disconnected),
            age,
            "yes" if a.backup_alert else "no",
            a.volumes.today_in,
            a.volumes.today_out,
        )
        writer.writerow([_cell(v) for v in row])
    return out.getvalue()
