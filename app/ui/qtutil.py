"""Small Qt helpers shared by the desk's widgets, and a probe for a PySide6 bug.

PySide6 6.12.0 drops references it does not own when it calls some Python overrides from C++
(measured: one reference to ``None`` per ``data()`` override returning None, per
``paintEvent``, per qasync timer event). On Python 3.11 those singletons are ordinary
refcounted objects, so a desk running for hours would abort ("deallocating None"). 6.11.3 does
not have the bug (measured the same way), so pyproject.toml pins ``<6.12``;
:func:`none_leaks_per_call` is the probe a test runs to keep it that way (DECISIONS.md #21).
"""

from __future__ import annotations

import sys
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from PySide6.QtCore import QAbstractTableModel, QIdentityProxyModel, QModelIndex, QObject, Qt
from PySide6.QtWidgets import (
    QAbstractItemView,
    QDialog,
    QDialogButtonBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QPushButton,
    QTableWidget,
    QWidget,
)

from app.domain.errors import ClinicDeskError

T = TypeVar("T", bound=QObject)
PROBE_CALLS = 64
ERROR_STYLE = "color: #B3261E;"


def named(obj: T, name: str) -> T:
    """``obj`` with its objectName set (tests and style sheets find widgets by it)."""
    obj.setObjectName(name)
    return obj


def error_label(name: str) -> QLabel:
    """An empty, wrapping red line for what went wrong (a dialog's or a form's)."""
    label = named(QLabel(), name)
    label.setStyleSheet(ERROR_STYLE)
    label.setWordWrap(True)
    return label


async def guarded(
    buttons: QDialogButtonBox, message: QLabel, work: Awaitable[object],
    explain: Callable[[ClinicDeskError], str],
) -> bool:  # fmt: skip
    """Await a dialog's ``work`` with its buttons disabled; True when it succeeded. A core
    error is shown in ``message`` as ``explain`` words it (False: the dialog stays open)."""
    buttons.setEnabled(False)
    try:
        await work
    except ClinicDeskError as exc:
        message.setText(explain(exc))
        return False
    finally:
        buttons.setEnabled(True)
    return True


def dialog_buttons(dialog: QDialog, accept: str, cancel: str, submit: Any) -> QDialogButtonBox:
    """``accept`` calls ``submit`` (which closes the dialog once its work is done), ``cancel``
    rejects the dialog; texts come translated in the dialog's own context."""
    buttons = QDialogButtonBox()
    buttons.addButton(accept, QDialogButtonBox.ButtonRole.AcceptRole)
    buttons.addButton(cancel, QDialogButtonBox.ButtonRole.RejectRole)
    buttons.accepted.connect(submit)
    buttons.rejected.connect(dialog.reject)
    return buttons


def row_table(name: str, headers: list[str], stretch: int) -> QTableWidget:
    """A read-only table chosen a whole row at a time; column ``stretch`` takes the spare
    width, the others fit their contents (short lists an admin edits through dialogs)."""
    table = named(QTableWidget(0, len(headers)), name)
    table.setHorizontalHeaderLabels(headers)
    for column in range(len(headers)):
        fit = QHeaderView.ResizeMode.Stretch if column == stretch else None
        table.horizontalHeader().setSectionResizeMode(
            column, fit or QHeaderView.ResizeMode.ResizeToContents
        )
    table.verticalHeader().hide()
    table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
    table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
    table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
    return table


def selected_row(table: QTableWidget) -> int | None:
    """The index of the chosen row, None when none is."""
    rows = table.selectionModel().selectedRows()
    return rows[0].row() if rows else None


def button_row(*buttons: QPushButton) -> QWidget:
    """Buttons side by side at the left."""
    row = QWidget()
    line = QHBoxLayout(row)
    line.setContentsMargins(0, 0, 0, 0)
    for button in buttons:
        line.addWidget(button)
    line.addStretch(1)
    return row


class _Probe(QAbstractTableModel):
    def rowCount(self, parent: Any = None) -> int:
        return 1

    def columnCount(self, parent: Any = None) -> int:
        return 1

    def data(self, index: Any, role: int = 0) -> Any:
        return None


def none_leaks_per_call() -> int:
    """References to ``None`` lost per None-returning ``data()`` call from C++ (0: no bug)."""
    model, proxy = _Probe(), QIdentityProxyModel()
    proxy.setSourceModel(model)
    index = proxy.index(0, 0, QModelIndex())
    before = sys.getrefcount(None)
    for _ in range(PROBE_CALLS):
        proxy.data(index, Qt.ItemDataRole.DecorationRole)
    return max(0, round((before - sys.getrefcount(None)) / PROBE_CALLS))
