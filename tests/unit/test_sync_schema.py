"""The report models cannot carry free text: every ``str`` field of app/sync/schema.py is
constrained to a short code-like pattern, except the two that are allowed to be prose."""

from __future__ import annotations

import inspect
import typing
from typing import Any

from pydantic import BaseModel

from app.sync import schema

ALLOWED_FREE_TEXT = {("Rejection", "detail"), ("EnrollAnswer", "label")}


def _models() -> list[type[BaseModel]]:
    return [
        obj
        for obj in vars(schema).values()
        if inspect.isclass(obj) and issubclass(obj, BaseModel) and obj.__module__ == schema.__name__
    ]


def _free_strings(annotation: Any, metadata: list[Any]) -> bool:
    """True when ``annotation`` can hold a ``str`` without a pattern anywhere inside it."""
    if annotation is str:
        return not any(getattr(m, "pattern", None) for m in metadata)
    origin = typing.get_origin(annotation)
    if origin is typing.Annotated:
        inner, *extra = typing.get_args(annotation)
        return _free_strings(inner, [*metadata, *extra])
    return any(_free_strings(arg, []) for arg in typing.get_args(annotation))


def test_no_unconstrained_string_fields() -> None:
    offenders = [
        (model.__name__, name)
        for model in _models()
        for name, info in model.model_fields.items()
        if _free_strings(info.annotation, list(info.metadata))
        and (model.__name__, name) not in ALLOWED_FREE_TEXT
    ]
    assert offenders == []


def test_the_walker_finds_free_text() -> None:
    class Leaky(BaseModel):
        notes: dict[str, list[str]]

    info = Leaky.model_fields["notes"]
    assert _free_strings(info.annotation, list(info.metadata))
    assert not _free_strings(schema.Code, [])


def test_models_refuse_unknown_fields() -> None:
    for model in _models():
        assert model.model_config.get("extra") == "forbid", model.__name__
