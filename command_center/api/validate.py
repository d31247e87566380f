"""Outside input checked against the very schema the OpenAPI document publishes for the route: unknown
fields, wrong types (`true` is not a number), missing fields and out-of-range values are refused with 422
naming each field. Feature payloads inside the system evolve instead (decoding ignores unknown fields)."""

from __future__ import annotations

from functools import lru_cache
from typing import Any

import jsonschema
import msgspec

Schema = dict[str, Any]


def _json_schema(schema: Any, *, form: bool) -> Any:
    """OpenAPI 3.0's schema dialect as JSON Schema: `nullable` becomes a null type; objects refuse what they
    do not declare unless they say otherwise; a form's values are all strings."""
    if isinstance(schema, list):
        return [_json_schema(s, form=form) for s in schema]
    if not isinstance(schema, dict):
        return schema
    out = {k: _json_schema(v, form=form) if k in ("properties", "items", "anyOf", "oneOf", "allOf") else v
           for k, v in schema.items() if k not in ("nullable", "example", "examples")}
    if "properties" in out:
        out["properties"] = {name: _json_schema(s, form=form) for name, s in schema["properties"].items()}
        out.setdefault("additionalProperties", False)
    if form and out.get("type") in ("number", "integer", "boolean"):
        out = {"type": "string"}  # checked by the handler, which parses it
    if schema.get("nullable") and "type" in out:
        out["type"] = [out["type"], "null"]
    return out


@lru_cache(maxsize=256)
def _validator(frozen: bytes, form: bool) -> jsonschema.protocols.Validator:
    schema = _json_schema(msgspec.json.decode(frozen), form=form)
    return jsonschema.Draft202012Validator(schema)  # type: ignore[no-any-return]


def problems(schema: Schema, body: Any, *, form: bool = False) -> list[str]:
    """What is wrong with `body`, a line per field ("lat: true is not a number"); empty when it fits."""
    validator = _validator(msgspec.json.encode(schema, order="sorted"), form)
    out = []
    for error in sorted(validator.iter_errors(body), key=lambda e: [str(p) for p in e.absolute_path]):
        where = ".".join(str(p) for p in error.absolute_path)
        if error.validator == "additionalProperties":
            allowed = sorted(error.schema.get("properties", {}))
            extra = sorted(set(error.instance) - set(allowed)) if isinstance(error.instance, dict) else []
            for name in extra:
                out.append(f"{'.'.join(filter(None, (where, name)))}: unknown field (the fields are "
                           f"{', '.join(allowed)})")
        elif error.validator == "type":
            wanted = error.validator_value if isinstance(error.validator_value, str) else " or ".join(
                error.validator_value)
            out.append(f"{where or 'the body'}: {_shown(error.instance)} is not {_article(wanted)}")
        elif error.validator == "required":
            out.append(f"{where + '.' if where else ''}{error.message.split(' ')[0].strip(chr(39))}: required")
        else:
            out.append(f"{where or 'the body'}: {_plain(error)}")
    return out


def _article(kind: str) -> str:
    return {"integer": "an integer", "object": "an object", "array": "an array", "null": "null"}.get(
        kind, f"a {kind}")


def _shown(value: Any) -> str:
    text = msgspec.json.encode(value).decode()
    return text if len(text) <= 40 else text[:37] + "..."


def _plain(error: jsonschema.ValidationError) -> str:
    kind, limit = error.validator, error.validator_value
    if kind == "maxLength":
        return f"at most {limit:,} characters"
    if kind == "minLength":
        return f"at least {limit:,} characters"
    if kind == "enum":
        return f"{_shown(error.instance)} is not one of {', '.join(map(str, limit))}"
    if kind in ("minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum"):
        word = {"minimum": "at least", "maximum": "at most", "exclusiveMinimum": "above",
                "exclusiveMaximum": "below"}[str(kind)]
        return f"{_shown(error.instance)} must be {word} {limit}"
    if kind == "pattern":
        return f"{_shown(error.instance)} does not have the expected form"
    return str(error.message)[:200]


def query_problems(params: Any, query: Any) -> list[str]:
    """What is wrong with the query string against the route's declared query parameters: integers that are not
    whole numbers or out of their bounds, values (or comma-separated lists of values) outside their enum.
    Parameters a route does not declare (api_key, token) are the guard's business, not refused here."""
    out = []
    for param in params:
        if param.get("in") != "query" or param["name"] not in query:
            continue
        name, schema = param["name"], param.get("schema") or {}
        for raw in query.getall(name):
            kind = schema.get("type")
            if kind == "array":
                values: list[Any] = [v for v in raw.split(",") if v]
                item = schema.get("items") or {}
            else:
                values, item = [raw], schema
            for value in values:
                problem = _query_value(item, value)
                if problem:
                    out.append(f"{name}: {problem}")
    return out


def _query_value(schema: Schema, raw: str) -> str | None:
    value: Any = raw
    if schema.get("type") in ("integer", "number"):
        try:
            value = int(raw) if schema["type"] == "integer" else float(raw)
        except ValueError:
            return f"{raw[:40]!r} is not {'a whole number' if schema['type'] == 'integer' else 'a number'}"
        if "minimum" in schema and value < schema["minimum"]:
            return f"{value} is below {schema['minimum']}"
        if "maximum" in schema and value > schema["maximum"]:
            return f"{value} is above {schema['maximum']}"
    if "enum" in schema and value not in schema["enum"]:
        return f"{raw[:40]!r} is not one of {', '.join(map(str, schema['enum']))}"
    return None
