"""Validation errors in German: one sentence per pydantic error type and per rule of ours.

The contract's language policy: programs read the machine-readable parts of an error
(`code`, `details[].field`, `details[].type`), people read German text. pydantic writes
its messages in English, so every error type it can raise gets a German sentence here,
filled from the error's context (`{min_length}`, `{expected}`, …). The contract's own
rules (`contract.rules`) write German already. An error type without a German sentence
(a newer pydantic) gets a general German sentence and a warning in the log, never the
English text; a test keeps this table complete.
"""

from __future__ import annotations

import logging
import math
import re
from collections.abc import Iterable, Mapping
from typing import Any

from pydantic import ValidationError
from pydantic_core import ErrorDetails

from diko_shared.contract import rules
from diko_shared.contract.envelope import ErrorDetail

log = logging.getLogger(__name__)

_DATE = "Hier wird ein Datum in der Form JJJJ-MM-TT erwartet (z. B. 2027-08-01)."
_TIME = "Hier wird ein Zeitpunkt nach ISO 8601 mit Zeitzone erwartet (z. B. 2026-11-26T10:00:00Z)."
_NOT_HERE = "Diese Art von Wert kommt in Nachrichten von diko nicht vor."

#: German sentences by pydantic error type; `{…}` are filled from the error's context.
GERMAN: dict[str, str] = {
    # structure
    "json_invalid": "Der Inhalt ist kein gültiges JSON{where}.",
    "json_type": "Der Inhalt muss JSON-Text sein.",
    "missing": "Das Feld fehlt.",
    "extra_forbidden": "Dieses Feld gibt es in dieser Nachricht nicht.",
    "model_type": "Hier wird ein JSON-Objekt erwartet.",
    "model_attributes_type": "Hier wird ein JSON-Objekt erwartet.",
    "dataclass_type": "Hier wird ein JSON-Objekt erwartet.",
    "dataclass_exact_type": "Hier wird ein JSON-Objekt erwartet.",
    "named_tuple_type": "Hier wird eine Liste oder ein JSON-Objekt erwartet.",
    "dict_type": "Hier wird ein JSON-Objekt erwartet.",
    "frozen_dict_type": "Hier wird ein JSON-Objekt erwartet.",
    "ordered_dict_type": "Hier wird ein JSON-Objekt erwartet.",
    "counter_type": "Hier wird ein JSON-Objekt erwartet.",
    "mapping_type": "Hier wird ein JSON-Objekt erwartet.",
    "invalid_key": "Die Schlüssel eines JSON-Objekts müssen Texte sein.",
    "list_type": "Hier wird eine Liste erwartet.",
    "tuple_type": "Hier wird eine Liste erwartet.",
    "set_type": "Hier wird eine Liste erwartet.",
    "frozen_set_type": "Hier wird eine Liste erwartet.",
    "deque_type": "Hier wird eine Liste erwartet.",
    "iterable_type": "Hier wird eine Liste erwartet.",
    "iteration_error": "Die Liste konnte nicht gelesen werden.",
    "set_item_not_hashable": "Die Einträge dieser Liste müssen einfache Werte sein.",
    "too_short": "Die Liste muss mindestens {min_length} haben, nicht {actual_length}.",
    "too_long": "Die Liste darf höchstens {max_length} haben, nicht {actual_length}.",
    "none_required": "Hier wird null erwartet.",
    "frozen_field": "Dieses Feld kann nicht geändert werden.",
    "frozen_instance": "Dieser Wert kann nicht geändert werden.",
    "no_such_attribute": "Dieses Feld gibt es nicht.",
    "get_attribute_error": "Das Feld konnte nicht gelesen werden.",
    "recursion_loop": "Der Wert verweist auf sich selbst.",
    "recursion_depth_exceeded": "Der Wert ist zu tief verschachtelt.",
    "default_factory_not_called": "Der Vorgabewert fehlt, weil ein anderes Feld ungültig ist.",
    "needs_python_object": _NOT_HERE,
    "is_instance_of": _NOT_HERE,
    "is_subclass_of": _NOT_HERE,
    "callable_type": _NOT_HERE,
    "missing_sentinel_error": _NOT_HERE,
    "ellipsis_error": _NOT_HERE,
    "arguments_type": "Hier werden Argumente als Liste oder JSON-Objekt erwartet.",
    "missing_argument": "Das Argument fehlt.",
    "unexpected_keyword_argument": "Dieses Argument gibt es nicht.",
    "missing_keyword_only_argument": "Das Argument fehlt.",
    "unexpected_positional_argument": "Es gibt zu viele Argumente.",
    "missing_positional_only_argument": "Das Argument fehlt.",
    "multiple_argument_values": "Das Argument ist mehrfach angegeben.",
    "union_tag_invalid": "Die Art {tag} ist unbekannt; erlaubt ist {expected_tags}.",
    "union_tag_not_found": "Die Angabe der Art ({discriminator}) fehlt.",
    # text
    "string_type": "Hier wird ein Text (eine JSON-Zeichenkette) erwartet.",
    "string_unicode": "Der Text ist kein gültiges Unicode.",
    "string_too_short": "Der Text muss mindestens {min_length} lang sein.",
    "string_too_long": "Der Text darf höchstens {max_length} lang sein.",
    "string_pattern_mismatch": "Der Text hat nicht die verlangte Form (Muster {pattern}).",
    "string_not_ascii": "Der Text darf nur ASCII-Zeichen enthalten.",
    "enum": "Der Wert muss {expected} sein.",
    "literal_error": "Der Wert muss {expected} sein.",
    "value_error": "Der Wert ist ungültig.",
    "assertion_error": "Der Wert ist ungültig.",
    "bytes_type": "Hier werden Bytes erwartet.",
    "bytes_too_short": "Die Daten müssen mindestens {min_length} Byte lang sein.",
    "bytes_too_long": "Die Daten dürfen höchstens {max_length} Byte lang sein.",
    "bytes_invalid_encoding": "Die Daten sind nicht in der Kodierung {encoding}.",
    "url_type": "Hier wird eine URL erwartet.",
    "url_parsing": "Der Text ist keine gültige URL.",
    "url_syntax_violation": "Der Text ist keine gültige URL.",
    "url_too_long": "Die URL darf höchstens {max_length} lang sein.",
    "url_scheme": "Die URL muss mit {expected_schemes} beginnen.",
    "uuid_type": "Hier wird eine UUID erwartet.",
    "uuid_parsing": "Der Text ist keine gültige UUID.",
    "uuid_version": "Hier wird eine UUID der Version {expected_version} erwartet.",
    # numbers
    "bool_type": "Hier wird true oder false erwartet.",
    "bool_parsing": "Hier wird true oder false erwartet.",
    "int_type": "Hier wird eine ganze Zahl erwartet.",
    "int_parsing": "Hier wird eine ganze Zahl erwartet.",
    "int_parsing_size": "Die Zahl ist zu groß.",
    "int_from_float": "Hier wird eine ganze Zahl erwartet, ohne Nachkommastellen.",
    "float_type": "Hier wird eine Zahl erwartet.",
    "float_parsing": "Hier wird eine Zahl erwartet.",
    "finite_number": "Die Zahl muss endlich sein.",
    "greater_than": "Die Zahl muss größer als {gt} sein.",
    "greater_than_equal": "Die Zahl muss mindestens {ge} sein.",
    "less_than": "Die Zahl muss kleiner als {lt} sein.",
    "less_than_equal": "Die Zahl darf höchstens {le} sein.",
    "multiple_of": "Die Zahl muss ein Vielfaches von {multiple_of} sein.",
    "decimal_type": "Hier wird eine Dezimalzahl erwartet.",
    "decimal_parsing": "Hier wird eine Dezimalzahl erwartet.",
    "decimal_max_digits": "Die Zahl darf höchstens {max_digits} haben.",
    "decimal_max_places": "Die Zahl darf höchstens {decimal_places} nach dem Komma haben.",
    "decimal_whole_digits": "Die Zahl darf höchstens {whole_digits} vor dem Komma haben.",
    "fraction_type": "Hier wird ein Bruch erwartet.",
    "fraction_parsing": "Der Text ist kein gültiger Bruch.",
    "complex_type": _NOT_HERE,
    "complex_str_parsing": _NOT_HERE,
    # dates and times
    "date_type": _DATE,
    "date_parsing": _DATE,
    "date_from_datetime_parsing": _DATE,
    "date_from_datetime_inexact": "Hier wird ein Datum ohne Uhrzeit erwartet (z. B. 2027-08-01).",
    "date_past": "Das Datum muss in der Vergangenheit liegen.",
    "date_future": "Das Datum muss in der Zukunft liegen.",
    "time_type": "Hier wird eine Uhrzeit erwartet, z. B. 10:00:00.",
    "time_parsing": "Hier wird eine Uhrzeit erwartet, z. B. 10:00:00.",
    "datetime_type": _TIME,
    "datetime_parsing": _TIME,
    "datetime_object_invalid": _TIME,
    "datetime_from_date_parsing": _TIME,
    "datetime_past": "Der Zeitpunkt muss in der Vergangenheit liegen.",
    "datetime_future": "Der Zeitpunkt muss in der Zukunft liegen.",
    "timezone_naive": "Der Zeitpunkt darf keine Zeitzone haben.",
    "timezone_aware": "Der Zeitpunkt braucht eine Zeitzone, z. B. Z für UTC oder +01:00.",
    "timezone_offset": "Der Zeitpunkt braucht die Zeitzone {tz_expected}, nicht {tz_actual}.",
    "time_delta_type": "Hier wird eine Dauer erwartet, z. B. PT30M.",
    "time_delta_parsing": "Hier wird eine Dauer erwartet, z. B. PT30M.",
    # the contract's own rules
    **rules.MESSAGES,
}

#: Context values that are counts of something: `{min_length}` becomes „3 Zeichen“.
_COUNTED = {
    "string_too_short": ("Zeichen", "Zeichen"),
    "string_too_long": ("Zeichen", "Zeichen"),
    "url_too_long": ("Zeichen", "Zeichen"),
    "too_short": ("Eintrag", "Einträge"),
    "too_long": ("Eintrag", "Einträge"),
    "decimal_max_digits": ("Ziffer", "Ziffern"),
    "decimal_max_places": ("Ziffer", "Ziffern"),
    "decimal_whole_digits": ("Ziffer", "Ziffern"),
}
_COUNT_KEYS = ("min_length", "max_length", "max_digits", "decimal_places", "whole_digits")
_WHERE = re.compile(r"line (\d+) column (\d+)")
FALLBACK = "Der Wert ist ungültig."


def german(error: ErrorDetails | Mapping[str, Any]) -> str:
    """The German sentence for one pydantic error."""
    type_ = error["type"]
    template = GERMAN.get(type_)
    if template is None:
        log.warning("no German text for the validation error type %r", type_)
        return FALLBACK
    context = {key: _shown(value) for key, value in (error.get("ctx") or {}).items()}
    if type_ == "string_too_short" and context.get("min_length") == "1":
        return "Der Text darf nicht leer sein."
    if type_ in _COUNTED:
        one, many = _COUNTED[type_]
        for key in _COUNT_KEYS:
            if key in context:
                context[key] = f"{context[key]} {one if context[key] == '1' else many}"
    if type_ == "json_invalid":
        found = _WHERE.search(str((error.get("ctx") or {}).get("error", "")))
        context["where"] = f" (Zeile {found[1]}, Spalte {found[2]})" if found else ""
    try:
        return template.format(**context)
    except (KeyError, IndexError):
        log.warning("the German text of %r lacks context: %r", type_, context)
        return template.split("{")[0].rstrip(" (:") + "."


def details(
    errors: Iterable[ErrorDetails], prefix: tuple[str | int, ...] = ()
) -> list[ErrorDetail]:
    """One `ErrorDetail` per error: the field's path, a German sentence and the type."""
    return [
        ErrorDetail(field=field_path((*prefix, *e["loc"])), problem=german(e), type=e["type"])
        for e in errors
    ]


def of(exc: ValidationError, prefix: tuple[str | int, ...] = ()) -> list[ErrorDetail]:
    """`details` of a pydantic `ValidationError`."""
    return details(exc.errors(include_url=False), prefix)


def field_path(loc: Iterable[str | int]) -> str:
    """`data.contacts.0.email`; `(body)` for an error of the whole body (machine-readable)."""
    return ".".join(str(part) for part in loc) or "(body)"


def _shown(value: Any) -> str:
    """A context value as German text shows it: `'a', 'b' oder 'c'`, `2,5`, `0`."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and math.isfinite(value):
        return str(int(value)) if value.is_integer() else f"{value:g}".replace(".", ",")
    text = str(value)
    if " or " in text:
        head, _, last = text.rpartition(" or ")
        return f"{head} oder {last}"
    return text
