"""What every backend declares: its options (a typed dataclass) and what it can do.

A backend module under ``medbench/backends/`` defines a subclass of :class:`BackendConfig` and names it
``BACKEND``; the registry (:mod:`medbench.backends`) finds it there, the command line grows one flag per
option, and ``run``, ``suite``, ``bias`` and ``demo`` can use it. Options come from those flags or from
``--model-args KEY=VAL,...`` (strings, converted to the field's type here, with one-line errors).
Implementations (heavy imports: torch, vLLM, openai) are imported only inside :meth:`make_lm`.
"""

from __future__ import annotations

import importlib.util
import types
import typing
from dataclasses import MISSING, dataclass, fields
from typing import Any, ClassVar

from medbench.config.fields import check
from medbench.core.errors import MedbenchError


@dataclass(frozen=True)
class Capabilities:
    """What a backend can do; commands check these instead of comparing backend names."""

    loglik: bool  # scores continuations by log-likelihood (multiple choice, bias loglik mode)
    generate: bool  # generates text
    local: bool  # loads the model itself from a checkpoint folder or hub id (else: a served API)
    chat_api: bool = False  # takes chat messages only (a chat-completions API): prompts go as --chat


def option(
    default: Any = None,
    help: str = "",  # noqa: A002
    repeat: bool = False,
    answer: bool = False,
    what: str | None = None,
) -> Any:
    """A backend option: a dataclass field whose help text the command line shows. A ``repeat`` option
    (a string) may be given several times; the values arrive joined by commas. An ``answer`` option
    changes what the model answers (a dtype, a reply cap): runs that differ in it share no request
    cache and are different leaderboard rows (:func:`medbench.run.identity.answer_identity`). A
    range is declared on the field's type (``Annotated[int, Field(ge=1)]``), ``what`` says it in words
    for the one-line error, as for run settings (:mod:`medbench.config.fields`)."""
    from dataclasses import field

    return field(default=default, metadata={"help": help, "repeat": repeat, "answer": answer, "what": what})


def at_least(value, low, flag: str, what: str) -> None:
    """One line for a number below its floor (None = not given)."""
    if value is not None and value < low:
        raise MedbenchError(f"{flag} must be {what} (got {value})")


def int_or_auto(text: str) -> int | str:
    """A number, or a word such as ``auto`` that the backend reads itself."""
    return int(text) if text.strip().isdigit() else text.strip()


def _scalar(hint) -> type:
    """``int | None`` -> int; ``str`` -> str; ``int | str`` -> :func:`int_or_auto`."""
    if isinstance(hint, types.UnionType) or typing.get_origin(hint) is typing.Union:
        inner = [a for a in typing.get_args(hint) if a is not type(None)]
        if set(inner) == {int, str}:
            return int_or_auto
        (only,) = inner
        return only
    return hint


def convert(backend: str, name: str, hint, value):
    """A string option (``--model-args``) as the field's type; other values pass through."""
    kind = _scalar(hint)
    if not isinstance(value, str) or kind is str:
        return value
    try:
        if kind is bool:
            if value.lower() not in ("true", "false", "1", "0", "yes", "no"):
                raise ValueError(value)
            return value.lower() in ("true", "1", "yes")
        return kind(value)
    except ValueError:
        raise MedbenchError(
            f"backend {backend}: option {name}={value!r} is not a valid {kind.__name__}"
        ) from None


#: measured noise of a loglik MC decision margin per weights' dtype (nats). float32: the tolerance the
#: tests hold every loglik backend to against lm-eval's hf. bfloat16: the largest change of a
#: question's margin (its top two options' gap) between a bfloat16 and a float32 run of hf-fast,
#: 0.255 (SmolLM2-135M, 80 questions of cmmlu_med + ceval_med, CPU; 18 of 80 predictions flipped,
#: largest |delta log-likelihood| 0.19 as lm-eval's hf shows in issue 38). float16 keeps 3 more mantissa
#: bits than bfloat16, whose figure therefore bounds it.
MARGIN_NOISE = {"float32": 1e-3, "bfloat16": 0.26, "float16": 0.26}


class NoiseByDtype:
    """For a backend whose ``dtype`` option sets the weights' precision: the fragile margin is the
    measured noise of the dtype the run loaded (``make_lm`` records it in ``loaded_dtype``, which
    ``auto`` leaves to the checkpoint); a dtype not yet known counts as the noisiest, so that no item
    its own precision could flip is reported as settled."""

    loaded_dtype: ClassVar[str | None] = None

    @property
    def margin_noise(self) -> float:
        dtype = self.loaded_dtype or getattr(self, "dtype", None)
        return MARGIN_NOISE.get(dtype, max(MARGIN_NOISE.values()))


@dataclass
class BackendConfig:
    """Options every backend shares (none yet) and the interface the commands call."""

    name: ClassVar[str]
    summary: ClassVar[str]
    capabilities: ClassVar[Capabilities]
    #: the packages its model needs beyond medbench's light core, and the extra that installs them
    requires: ClassVar[tuple[str, ...]] = ()
    extra: ClassVar[str] = ""
    #: run-to-run noise of its log-likelihoods (nats): the tolerance the tests hold every loglik
    #: backend to against lm-eval's hf in float32; an MC item decided by less is "fragile" (a backend
    #: with a dtype option follows its dtype: :class:`NoiseByDtype`)
    margin_noise: ClassVar[float] = MARGIN_NOISE["float32"]

    @classmethod
    def options(cls) -> dict[str, tuple[type, Any, str]]:
        """Each option: (type, default, help) -- what the command line builds its flags from."""
        hints = typing.get_type_hints(cls)
        out = {}
        for f in fields(cls):
            default = None if f.default is MISSING else f.default
            out[f.name] = (_scalar(hints[f.name]), default, f.metadata.get("help", ""))
        return out

    @classmethod
    def answer_options(cls) -> list[str]:
        """The options that change a model's answers (declared ``answer=True``)."""
        return [f.name for f in fields(cls) if f.metadata.get("answer")]

    @classmethod
    def repeatable(cls) -> set[str]:
        """The options that may be given several times on the command line."""
        return {f.name for f in fields(cls) if f.metadata.get("repeat")}

    @classmethod
    def check_installed(cls) -> None:
        """One line naming the extra to install when a package the backend needs is missing (the
        light core has no torch)."""
        missing = [name for name in cls.requires if importlib.util.find_spec(name) is None]
        if missing:
            raise MedbenchError(
                f"the {cls.name} backend needs {', '.join(missing)}: pip install 'medbench[{cls.extra}]' "
                "(install the torch build you want first)"
            )

    @classmethod
    def from_options(cls, values: dict[str, Any]) -> BackendConfig:
        """The typed config from option values (strings converted), validated."""
        cls.check_installed()
        hints = typing.get_type_hints(cls)
        unknown = sorted(set(values) - set(hints))
        if unknown:
            known = ", ".join(f.name for f in fields(cls)) or "none"
            raise MedbenchError(
                f"backend {cls.name} has no option {', '.join(unknown)} (its options: {known})"
            )
        config = cls(**{k: convert(cls.name, k, hints[k], v) for k, v in values.items()})
        check(config)  # the declared types and ranges
        config.validate()
        return config

    def validate(self) -> None:
        """Reject impossible values in one line, before any model is loaded (beyond the ranges the
        fields declare: those are checked first)."""

    def resolve(self) -> None:
        """Fill in what is decided on this machine (e.g. the device) before the config is recorded."""

    def check_model(self, model: str) -> None:
        """The cheap part of :meth:`identity`, before the data is checked: a path that does not exist
        is one line at once; an alias that must be built or converted (minutes) waits for the data."""
        from medbench.models.resolve import ALIASES, resolve_model

        if self.capabilities.local and model not in ALIASES:
            resolve_model(model)

    def identity(self, model: str) -> tuple[str, dict]:
        """What to load and the fingerprint recorded in the run folder's model.json."""
        from medbench.models.resolve import fingerprint, resolve_model

        path = resolve_model(model)
        return path, fingerprint(path)

    def make_lm(self, model: str, seed: int):
        """The lm-eval ``LM`` for ``model`` (what :meth:`identity` returned)."""
        raise NotImplementedError

    def release(self, lm) -> None:
        """Free what the backend holds outside Python's reach once a run is done."""
