"""The business-hours grid of the Clínica page: one row per weekday, open or closed, with one
period and an optional second one (a lunch break), or "Sempre aberto".

The engine stores the hours as JSON (``{"mon": [["08:00", "12:00"], …]}``) and takes them typed
(``seg-sex 08:00-12:00 13:00-18:00``): :meth:`HoursGrid.typed` writes that form with the
domain's own writer (``app.domain.hours_text``), so the desk and the command line agree.
"""

from __future__ import annotations

import json

from PySide6.QtCore import QTime, Signal
from PySide6.QtWidgets import QCheckBox, QGridLayout, QLabel, QTimeEdit, QVBoxLayout, QWidget

from app.domain.hours_text import hours_text
from app.domain.tickets import WEEKDAYS
from app.ui.qtutil import named

Span = tuple[str, str]
DEFAULT_SPANS = (("08:00", "12:00"), ("13:00", "18:00"))
USUAL_WEEK = {day: list(DEFAULT_SPANS) for day in WEEKDAYS[:5]}  # offered under "Sempre aberto"


def spans_of(raw: str | None) -> dict[str, list[Span]]:
    """Stored hours as day → periods ({} when there is no rule: always open)."""
    hours = json.loads(raw) if raw and raw.strip() else {}
    return {day: [(a, b) for a, b in hours.get(day, [])] for day in WEEKDAYS if hours.get(day)}


def raw_of(days: dict[str, list[Span]]) -> str:
    """The JSON the engine stores, days in week order."""
    return json.dumps({day: [list(s) for s in days[day]] for day in WEEKDAYS if days.get(day)})


def _time(text: str) -> QTime:
    return QTime.fromString(text, "HH:mm")


class DayRow:
    """The controls of one weekday in the grid."""

    def __init__(self, day: str, label: str, words: tuple[str, ...], grid: QGridLayout) -> None:
        self.day = day
        self.open = named(QCheckBox(label), f"hoursOpen_{day}")
        self.times = [named(QTimeEdit(), f"hours_{day}_{i}") for i in range(4)]
        for edit in self.times:
            edit.setDisplayFormat("HH:mm")
        self.second = named(QCheckBox(words[2]), f"hoursSecond_{day}")
        first, until = QLabel(words[0]), QLabel(words[1])
        cells = [self.open, first, self.times[0], until, self.times[1], self.second,
                 self.times[2], QLabel(words[1]), self.times[3]]  # fmt: skip
        row = WEEKDAYS.index(day)
        for column, widget in enumerate(cells):
            grid.addWidget(widget, row, column)
        self.frozen = False
        self.open.toggled.connect(self.sync)
        self.second.toggled.connect(self.sync)

    def show(self, spans: list[Span]) -> None:
        """Fill the row from stored periods (only the first two fit)."""
        self.open.setChecked(bool(spans))
        self.second.setChecked(len(spans) > 1)
        shown = [*spans[:2], *DEFAULT_SPANS[len(spans[:2]) :]]
        for i, (start, end) in enumerate(shown):
            self.times[2 * i].setTime(_time(start))
            self.times[2 * i + 1].setTime(_time(end))
        self.sync()

    def spans(self) -> list[Span]:
        """The row's periods ([] when closed)."""
        if not self.open.isChecked():
            return []
        text = [t.time().toString("HH:mm") for t in self.times]
        periods = [(text[0], text[1])]
        return [*periods, (text[2], text[3])] if self.second.isChecked() else periods

    def sync(self) -> None:
        """Enable only what applies: the times of an open day, the second period if ticked;
        nothing while the grid is frozen ("Sempre aberto")."""
        self.open.setEnabled(not self.frozen)
        is_open = self.open.isChecked() and not self.frozen
        self.second.setEnabled(is_open)
        for i, edit in enumerate(self.times):
            edit.setEnabled(is_open and (i < 2 or self.second.isChecked()))


class HoursGrid(QWidget):
    """Seven day rows and "Sempre aberto"; ``changed`` fires on any edit."""

    changed = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        self.always = named(QCheckBox(self.tr("Sempre aberto (sem horário)")), "hoursAlways")
        layout.addWidget(self.always)
        grid = QGridLayout()
        words = (self.tr("das"), self.tr("às"), self.tr("e das"))
        self.rows = [DayRow(day, label, words, grid) for day, label in self._days()]
        grid.setColumnStretch(grid.columnCount(), 1)  # the rows stay compact, at the left
        layout.addLayout(grid)
        self.note = named(QLabel(), "hoursNote")
        self.note.setWordWrap(True)
        self.note.hide()
        layout.addWidget(self.note)
        self.always.toggled.connect(self._sync)
        self._announce_edits()

    def _days(self) -> list[tuple[str, str]]:
        labels = (self.tr("Segunda"), self.tr("Terça"), self.tr("Quarta"), self.tr("Quinta"),
                  self.tr("Sexta"), self.tr("Sábado"), self.tr("Domingo"))  # fmt: skip
        return list(zip(WEEKDAYS, labels, strict=True))

    def _announce_edits(self) -> None:
        self.always.toggled.connect(self.changed)
        for row in self.rows:
            row.open.toggled.connect(self.changed)
            row.second.toggled.connect(self.changed)
            for edit in row.times:
                edit.timeChanged.connect(self.changed)

    def set_hours(self, raw: str | None) -> None:
        """Show stored hours (None: always open; the rows then offer a usual week)."""
        days = spans_of(raw)
        self.always.setChecked(not days)
        for row in self.rows:
            row.show(days.get(row.day, []) if days else USUAL_WEEK.get(row.day, []))
        self.note.setText(
            self.tr(
                "Algum dia tem mais de dois períodos: aqui aparecem os dois primeiros, e salvar "
                "o horário guarda só esses."
            )
        )
        self.note.setVisible(any(len(spans) > 2 for spans in days.values()))
        self._sync()

    def typed(self) -> str:
        """The hours as the engine takes them (``sempre`` when always open)."""
        if self.always.isChecked():
            return "sempre"
        return hours_text(raw_of({row.day: row.spans() for row in self.rows}))

    def problem(self) -> str | None:
        """Why these hours cannot be saved, in Portuguese; None when they can."""
        if self.always.isChecked():
            return None
        if not any(row.open.isChecked() for row in self.rows):
            return self.tr('Marque ao menos um dia aberto, ou "Sempre aberto".')
        if any(start >= end for row in self.rows for start, end in row.spans()):
            return self.tr("Em cada período, o fim deve ser depois do início.")
        return None

    def _sync(self) -> None:
        for row in self.rows:
            row.frozen = self.always.isChecked()
            row.sync()
