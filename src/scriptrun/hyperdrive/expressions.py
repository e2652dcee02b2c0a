"""The ten v1 parameter expressions and how each is sampled.

Each function returns v1's JSON-able shape ``[name, [args]]`` (``choice(1, 2)`` is
``["choice", [[1, 2]]]``) and checks its arguments as v1 does, raising one
:class:`~scriptrun.errors.ConfigError` (a ``ValueError``) with a hint — also for a wrong number
of arguments, which plain Python would report as a bare ``TypeError``.

Semantics (§8.2): ``loguniform``/``qloguniform`` bounds are *exponents*; the ``q`` forms are
``round(x / q) * q``. Beyond v1: a ``q`` given as an ``int`` yields ints, so ``--batch-size 32``
reaches an ``argparse`` ``type=int`` option as ``32`` rather than ``32.0``.
"""

from __future__ import annotations

import functools
import inspect
import math
import random
from collections.abc import Callable, Sequence
from typing import Any

from scriptrun.errors import ConfigError, Problem

Expression = list  # ["uniform", [0.0, 1.0]]

NAMES = ("choice", "randint", "uniform", "quniform", "loguniform", "qloguniform",
         "normal", "qnormal", "lognormal", "qlognormal")


def _problem(name: str, message: str, hint: str | None = None) -> ConfigError:
    return ConfigError(Problem(f"{name}()", message, hint))


def _expression(*params: str) -> Callable[[Callable[..., Expression]], Callable[..., Expression]]:
    """Bind the call's arguments to ``params`` first, so a wrong count is a clear ConfigError."""
    signature = inspect.Signature([inspect.Parameter(p, inspect.Parameter.POSITIONAL_OR_KEYWORD) for p in params])

    def wrap(function: Callable[..., Expression]) -> Callable[..., Expression]:
        @functools.wraps(function)
        def checked(*args: Any, **kwargs: Any) -> Expression:
            try:
                bound = signature.bind(*args, **kwargs)
            except TypeError as exc:
                raise _problem(function.__name__, f"wrong arguments: {exc}",
                               hint=f"call it as {function.__name__}({', '.join(params)})") from None
            return function(*bound.args)

        checked.__signature__ = signature  # type: ignore[attr-defined]
        return checked

    return wrap


def _number(name: str, label: str, value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise _problem(name, f"{label} must be a finite int or float, got {value!r}")
    return value


def _q(name: str, q: Any) -> int | float:
    if isinstance(q, bool) or not isinstance(q, (int, float)) or q <= 0 or float(q) != int(q):
        raise _problem(name, f"q must be a positive integral number, got {q!r}",
                       hint="q is the rounding step: round(x / q) * q, e.g. q=1 or q=16")
    return q


def _sigma(name: str, sigma: Any) -> float:
    _number(name, "sigma", sigma)
    if sigma < 0:
        raise _problem(name, f"sigma must be >= 0, got {sigma!r}", hint="sigma is the standard deviation")
    return sigma


def choice(*options: Any) -> Expression:
    """A uniform pick among ``options``: ``choice(1, 2, 3)``, ``choice([1, 2, 3])`` or ``choice(range(n))``."""
    if len(options) == 1 and isinstance(options[0], (list, tuple, range)):
        values = list(options[0])
    elif any(isinstance(o, (list, tuple, range)) for o in options):
        raise _problem("choice", "a list or range must be the only argument of choice()",
                       hint="write choice(1, 2, 3) or choice([1, 2, 3]), not a mix")
    else:
        values = list(options)
    if not values:
        raise _problem("choice", "choice() needs at least one option", hint="e.g. choice(16, 32, 64)")
    for v in values:
        if isinstance(v, (dict, set)):
            raise _problem("choice", f"option {v!r} is not a scalar or a list",
                           hint="options are passed to the script as command-line values")
    return ["choice", [values]]


@_expression("upper")
def randint(upper: Any) -> Expression:
    """An integer in ``[0, upper)`` (no locality assumed: good for seeds)."""
    if isinstance(upper, bool) or not isinstance(upper, int) or upper <= 0:
        raise _problem("randint", f"upper must be an int > 0, got {upper!r}", hint="randint(100) gives 0..99")
    return ["randint", [upper]]


def _ordered(name: str, lo: Any, hi: Any, *, strict: bool) -> None:
    _number(name, "min_value", lo)
    _number(name, "max_value", hi)
    if lo > hi or (strict and lo == hi):
        op = "<" if strict else "<="
        raise _problem(name, f"min_value must be {op} max_value, got {name}({lo!r}, {hi!r})",
                       hint=f"swap them: {name}({hi!r}, {lo!r})" if lo > hi else "use choice() for a constant")


@_expression("min_value", "max_value")
def uniform(min_value: Any, max_value: Any) -> Expression:
    """A float uniformly in ``[min_value, max_value]``."""
    _ordered("uniform", min_value, max_value, strict=True)
    return ["uniform", [min_value, max_value]]


@_expression("min_value", "max_value", "q")
def quniform(min_value: Any, max_value: Any, q: Any) -> Expression:
    """``round(uniform(min_value, max_value) / q) * q``."""
    _ordered("quniform", min_value, max_value, strict=True)
    return ["quniform", [min_value, max_value, _q("quniform", q)]]


@_expression("min_value", "max_value")
def loguniform(min_value: Any, max_value: Any) -> Expression:
    """``exp(uniform(min_value, max_value))``: the bounds are exponents (``loguniform(-6, -1)``)."""
    _ordered("loguniform", min_value, max_value, strict=False)
    return ["loguniform", [min_value, max_value]]


@_expression("min_value", "max_value", "q")
def qloguniform(min_value: Any, max_value: Any, q: Any) -> Expression:
    """``round(exp(uniform(min_value, max_value)) / q) * q``."""
    _ordered("qloguniform", min_value, max_value, strict=False)
    return ["qloguniform", [min_value, max_value, _q("qloguniform", q)]]


@_expression("mu", "sigma")
def normal(mu: Any, sigma: Any) -> Expression:
    """A Gaussian with mean ``mu`` and standard deviation ``sigma`` (unbounded)."""
    return ["normal", [_number("normal", "mu", mu), _sigma("normal", sigma)]]


@_expression("mu", "sigma", "q")
def qnormal(mu: Any, sigma: Any, q: Any) -> Expression:
    """``round(normal(mu, sigma) / q) * q``."""
    return ["qnormal", [_number("qnormal", "mu", mu), _sigma("qnormal", sigma), _q("qnormal", q)]]


@_expression("mu", "sigma")
def lognormal(mu: Any, sigma: Any) -> Expression:
    """``exp(normal(mu, sigma))``: always positive."""
    return ["lognormal", [_number("lognormal", "mu", mu), _sigma("lognormal", sigma)]]


@_expression("mu", "sigma", "q")
def qlognormal(mu: Any, sigma: Any, q: Any) -> Expression:
    """``round(exp(normal(mu, sigma)) / q) * q``."""
    return ["qlognormal", [_number("qlognormal", "mu", mu), _sigma("qlognormal", sigma), _q("qlognormal", q)]]


FUNCTIONS: dict[str, Callable[..., Expression]] = {
    "choice": choice, "randint": randint, "uniform": uniform, "quniform": quniform, "loguniform": loguniform,
    "qloguniform": qloguniform, "normal": normal, "qnormal": qnormal, "lognormal": lognormal,
    "qlognormal": qlognormal,
}


def check_expression(path: str, value: Any) -> list[Problem]:
    """Problems with one parameter-space entry (an expression, as the functions return it)."""
    if (not isinstance(value, (list, tuple)) or len(value) != 2 or value[0] not in FUNCTIONS
            or not isinstance(value[1], (list, tuple))):
        hint = ("wrap the values in choice(...)" if isinstance(value, (list, tuple, range)) else
                "build it with an expression, e.g. uniform(0.001, 0.1) or choice(16, 32)")
        return [Problem(path, f"not a parameter expression: {value!r}", hint=hint)]
    name, args = value[0], list(value[1])
    try:
        FUNCTIONS[name](*(args if name != "choice" else args[:1]))
    except ConfigError as exc:
        return [Problem(path, p.message, p.hint) for p in exc.problems]
    return []


def _round_q(x: float, q: int | float) -> int | float:
    value = round(x / q) * q
    return int(value) if isinstance(q, int) else float(value)


def sample(expression: Sequence[Any], rng: random.Random) -> Any:
    """Draw one value of ``expression`` with ``rng``."""
    name, args = expression[0], list(expression[1])
    if name == "choice":
        return rng.choice(list(args[0]))
    if name == "randint":
        return rng.randrange(args[0])
    if name == "uniform":
        return rng.uniform(args[0], args[1])
    if name == "quniform":
        return _round_q(rng.uniform(args[0], args[1]), args[2])
    if name == "loguniform":
        return math.exp(rng.uniform(args[0], args[1]))
    if name == "qloguniform":
        return _round_q(math.exp(rng.uniform(args[0], args[1])), args[2])
    if name == "normal":
        return rng.gauss(args[0], args[1])
    if name == "qnormal":
        return _round_q(rng.gauss(args[0], args[1]), args[2])
    if name == "lognormal":
        return math.exp(rng.gauss(args[0], args[1]))
    if name == "qlognormal":
        return _round_q(math.exp(rng.gauss(args[0], args[1])), args[2])
    raise ValueError(f"unknown parameter expression {name!r}")
