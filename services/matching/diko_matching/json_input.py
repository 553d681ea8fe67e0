"""Reading the CLI's JSON files strictly: one reader for instances and assignments.

`json.loads` keeps the last of two equal keys and accepts `NaN` and
`Infinity`; a hand-edited instance with a repeated applicant id would then
silently lose a preference list. Every CLI reader goes through `read_json`,
which rejects both and turns every failure into an `InstanceError` with a
one-line message.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, NoReturn

from diko_matching.engine.instance import InstanceError


class _DuplicateKey(ValueError):
    """A JSON object names one key twice."""


class _NotJson(ValueError):
    """NaN or ±Infinity: accepted by Python's json module, not JSON."""


def unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    """`object_pairs_hook` that refuses a key given twice in one object."""
    out: dict[str, Any] = {}
    for key, value in pairs:
        if key in out:
            raise _DuplicateKey(key)
        out[key] = value
    return out


def _no_constant(name: str) -> NoReturn:
    raise _NotJson(name)


def loads(text: str, source: str) -> Any:
    """Decode JSON text; InstanceError naming `source` and the problem otherwise."""
    try:
        return json.loads(text, object_pairs_hook=unique_keys, parse_constant=_no_constant)
    except _DuplicateKey as exc:
        key = exc.args[0]
        raise InstanceError(f"duplicate key {key!r} in one JSON object of {source}") from None
    except _NotJson as exc:
        word = exc.args[0]
        raise InstanceError(f"malformed JSON in {source}: {word} is not a JSON number") from None
    except json.JSONDecodeError as exc:
        raise InstanceError(
            f"malformed JSON in {source}: {exc.msg} at line {exc.lineno} column {exc.colno}"
        ) from None
    except RecursionError:
        raise InstanceError(f"malformed JSON in {source}: nested too deeply") from None
    except ValueError as exc:  # e.g. an integer of more than 4300 digits
        raise InstanceError(f"malformed JSON in {source}: {exc}") from None


def read_json(path: Path, what: str) -> Any:
    """Read and decode one file; `what` ("instance", "assignment") names it in errors."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise InstanceError(f"{what} file not found: {path}") from None
    except UnicodeDecodeError:
        raise InstanceError(f"cannot read {what} file {path}: not UTF-8 text") from None
    except OSError as exc:  # a directory, no permission, a name too long, ...
        reason = exc.strerror or exc.__class__.__name__
        raise InstanceError(f"cannot read {what} file {path}: {reason}") from None
    return loads(text, str(path))
