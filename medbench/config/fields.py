"""Declaring a setting once: a dataclass field carries its help text, whether it changes results,
its command-line form and its range; flags, validation and the one-line error come from there.

A config class is a plain dataclass whose fields are made with :func:`setting`; its types
(``Literal`` for a choice, ``Annotated[..., Field(ge=0)]`` for a range) are checked by pydantic
(:func:`validate`), and any pydantic error becomes one line naming the file (or flag) and the field
(:func:`one_line`). :func:`add_arguments` turns the same fields into argparse flags.
"""

from __future__ import annotations

import argparse
import dataclasses
import types
import typing
from typing import Any, Literal

from pydantic import TypeAdapter, ValidationError

from medbench.core.errors import MedbenchError

#: what a setting can change: the model's answer to an item, or which items are scored (or how often)
AFFECTS = ("answer", "items")


def setting(
    default: Any = dataclasses.MISSING,
    help: str = "",  # noqa: A002
    *,
    affects: Literal["answer", "items"] | None = None,
    what: str | None = None,
    flag: str | bool = True,
    parse: typing.Callable[[str], Any] | None = None,
    metavar: str | None = None,
    factory: typing.Callable[[], Any] | None = None,
    repeat: bool = False,
) -> Any:
    """A declared setting. ``affects``: "answer" (runs that differ in it share no request cache and
    are different leaderboard rows), "items" (it picks which items are scored: different rows), or
    None. ``what`` says what a valid value is, for the error line. ``flag``: True for ``--name``, a
    string for another flag (a ``store_false`` switch of a True default), False for none. ``parse``
    turns the flag's text into the value (e.g. a comma-separated list). ``repeat``: the flag may be
    given several times, each adding one value to the list."""
    if affects is not None and affects not in AFFECTS:
        raise ValueError(f"affects must be one of {AFFECTS} (got {affects!r})")
    metadata = {
        "help": help,
        "affects": affects,
        "what": what,
        "flag": flag,
        "parse": parse,
        "metavar": metavar,
        "repeat": repeat,
    }
    if factory is not None:
        return dataclasses.field(default_factory=factory, metadata=metadata)
    return dataclasses.field(default=default, metadata=metadata)


def same_as(cls: type, name: str) -> Any:
    """A field declared like ``cls``'s ``name`` (default, help, range text, flag): a command that
    takes one of another config's settings declares it by reference, not again."""
    (original,) = [f for f in dataclasses.fields(cls) if f.name == name]
    if original.default_factory is not dataclasses.MISSING:
        return dataclasses.field(default_factory=original.default_factory, metadata=original.metadata)
    return dataclasses.field(default=original.default, metadata=original.metadata)


def affecting(cls: type, kind: str) -> tuple[str, ...]:
    """The names of ``cls``'s settings declared ``affects=kind``, in declaration order."""
    return tuple(f.name for f in dataclasses.fields(cls) if f.metadata.get("affects") == kind)


def flag_name(f: dataclasses.Field) -> str | None:
    """The field's flag (``--max-new-tokens``), or None for a setting without one."""
    flag = f.metadata.get("flag", True)
    if flag is False:
        return None
    return flag if isinstance(flag, str) else "--" + f.name.replace("_", "-")


def flagged(cls: type) -> tuple[str, ...]:
    """The settings that are command-line flags."""
    return tuple(f.name for f in dataclasses.fields(cls) if flag_name(f))


def _hint(cls: type, name: str) -> Any:
    hint = typing.get_type_hints(cls, include_extras=True)[name]
    while typing.get_origin(hint) is typing.Annotated:
        hint = typing.get_args(hint)[0]
    return hint


def _choices_and_type(hint: Any) -> tuple[list | None, Any]:
    """``Literal['a', 'b'] | None`` -> (['a', 'b'], str); ``int | None`` -> (None, int)."""
    if isinstance(hint, types.UnionType) or typing.get_origin(hint) is typing.Union:
        inner = [a for a in typing.get_args(hint) if a is not type(None)]
        if len(inner) == 1:
            return _choices_and_type(inner[0])
        return None, str
    if typing.get_origin(hint) is Literal:
        values = list(typing.get_args(hint))
        return values, type(values[0])
    return None, hint if hint in (int, float, str, bool) else str


def add_arguments(parser: argparse.ArgumentParser, cls: type, only: tuple[str, ...] | None = None) -> None:
    """One flag per flagged setting of ``cls`` (or of those named in ``only``: a command that takes
    a few of a config's settings), its help, type, choices and default from the field. A bool is a
    switch."""
    for f in dataclasses.fields(cls):
        flag = flag_name(f)
        if flag is None or (only is not None and f.name not in only):
            continue
        meta = f.metadata
        declared = f.default_factory() if f.default_factory is not dataclasses.MISSING else f.default
        required = declared is dataclasses.MISSING
        default = None if required else declared
        choices, kind = _choices_and_type(_hint(cls, f.name))
        # argparse formats help with %: a literal percent sign (Min-K%) is written %%
        kwargs: dict[str, Any] = {"dest": f.name, "help": (meta.get("help") or "").replace("%", "%%") or None}
        if kind is bool:
            kwargs.update(action="store_false" if default else "store_true")
        elif meta.get("repeat"):
            kwargs.update(
                action="append", type=meta.get("parse") or str, default=None, metavar=meta.get("metavar")
            )
        else:
            kwargs.update(type=meta.get("parse") or kind, default=default, metavar=meta.get("metavar"))
            if choices:
                kwargs["choices"] = choices
            if required:
                kwargs["required"] = True
        parser.add_argument(flag, **kwargs)


def from_args(cls: type, args: argparse.Namespace) -> dict[str, Any]:
    """The values of ``cls``'s flagged settings in parsed arguments (a repeatable flag never given is
    its declared default)."""
    fields = {f.name: f for f in dataclasses.fields(cls)}
    values = {name: getattr(args, name) for name in flagged(cls) if hasattr(args, name)}
    for name, value in values.items():
        f = fields[name]
        if value is None and f.metadata.get("repeat") and f.default_factory is not dataclasses.MISSING:
            values[name] = f.default_factory()
    return values


def _label(cls: type, loc: list[str], source: str | None) -> str:
    """How the error names the setting: its ``--flag`` for a run setting checked without a file,
    else ``FILE: field a.b``."""
    fields = {f.name: f for f in dataclasses.fields(cls)} if dataclasses.is_dataclass(cls) else {}
    if source is None and len(loc) == 1 and loc[0] in fields and flag_name(fields[loc[0]]):
        return flag_name(fields[loc[0]])
    if not loc:
        return source or "config"
    name = ".".join(loc)
    return f"{source}: field {name}" if source else f"field {name}"


def one_line(error: ValidationError, cls: type, source: str | None = None) -> MedbenchError:
    """The first problem of a pydantic error as one line: where, what is wrong, what was given (and
    how many more problems there are)."""
    problems = error.errors()
    first = problems[0]
    loc = [str(part) for part in first["loc"]]
    fields = {f.name: f for f in dataclasses.fields(cls)} if dataclasses.is_dataclass(cls) else {}
    field = fields.get(loc[0]) if len(loc) == 1 else None
    what = field.metadata.get("what") if field else None
    shown = "" if first["type"] == "missing" else f" (got {first.get('input')!r})"
    more = f"; and {len(problems) - 1} more problem(s)" if len(problems) > 1 else ""
    label = _label(cls, loc, source)
    if what and first["type"] != "missing":
        return MedbenchError(f"{label} must be {what}{shown}{more}")
    message = first["msg"].removeprefix("Value error, ")
    return MedbenchError(f"{label}: {message[0].lower()}{message[1:]}{shown}{more}")


def check(config: Any) -> None:
    """Every setting of a config dataclass against its declared type and range; the first problem
    is one line naming its flag (``--shots must be 0 or more (got -1)``)."""
    validate(type(config), dataclasses.asdict(config))


def validate(cls: type[Any], data: Any, source: str | None = None) -> Any:
    """``data`` checked against ``cls``'s declared types and ranges, as a ``cls``; the first problem
    is one line (:func:`one_line`)."""
    try:
        return TypeAdapter(cls).validate_python(data)
    except ValidationError as error:
        raise one_line(error, cls, source) from None
