"""Outside input checked against the very schema the OpenAPI document publishes for the route: unknown
fields, wrong types (`true` is not a number), missing fields and out-of-range values are refused with 422
naming each field. Feature payloads inside the system evolve instead (decoding ignores unknown fields)."""

from __future__ import annotations

import math
import re
from datetime import date, datetime
from typing import Any

import jsonschema
import msgspec

Schema = dict[str, Any]


def strict(schema: Any) -> Any:
    """`schema` as /openapi.json publishes it: every object with declared properties refuses others (as
    `problems` does), so that a client generating requests from the document sends only what is taken."""
    if isinstance(schema, list):
        return [strict(s) for s in schema]
    if not isinstance(schema, dict):
        return schema
    out = {k: strict(v) if k in ("items", "anyOf", "oneOf", "allOf") else v for k, v in schema.items()}
    if "properties" in schema:
        out["properties"] = {name: strict(s) for name, s in schema["properties"].items()}
        out.setdefault("additionalProperties", False)
    return out


def _json_schema(schema: Any) -> Any:
    """OpenAPI 3.0's dialect as JSON Schema: `nullable` becomes a null type; examples are not constraints."""
    if isinstance(schema, list):
        return [_json_schema(s) for s in schema]
    if not isinstance(schema, dict):
        return schema
    out = {k: _json_schema(v) if k in ("items", "anyOf", "oneOf", "allOf") else v
           for k, v in schema.items() if k not in ("nullable", "example", "examples")}
    if "properties" in schema:
        out["properties"] = {name: _json_schema(s) for name, s in schema["properties"].items()}
    if schema.get("nullable") and "type" in out:
        out["type"] = [out["type"], "null"]
    return out


_VALIDATORS: dict[int, tuple[Schema, jsonschema.protocols.Validator]] = {}


def _validator(schema: Schema) -> jsonschema.protocols.Validator:
    """The validator of a route's schema, built once (schemas are module constants or built once per config)."""
    hit = _VALIDATORS.get(id(schema))
    if hit is None or hit[0] is not schema:
        hit = _VALIDATORS[id(schema)] = (schema, jsonschema.Draft202012Validator(_json_schema(strict(schema))))
    return hit[1]


def _coerced(schema: Schema, body: dict[str, Any]) -> dict[str, Any]:
    """A form's values as the types its schema declares (a form carries only text): "-7.76" for a number
    becomes -7.76; what does not parse stays text and fails the type."""
    properties = dict(schema.get("properties") or {})
    for shape in schema.get("anyOf", []) + schema.get("oneOf", []):  # the whole shapes of `variants`
        properties.update(shape.get("properties") or {})
    out = dict(body)
    for name, value in body.items():
        kind = (properties.get(name) or {}).get("type")
        try:
            if kind == "number":
                number = float(value)
                out[name] = number if math.isfinite(number) else value
            elif kind == "integer":
                out[name] = int(value)
            elif kind == "boolean" and value in ("true", "false"):
                out[name] = value == "true"
        except (TypeError, ValueError):
            pass
    return out


def problems(schema: Schema, body: Any, *, form: bool = False) -> list[str]:
    """What is wrong with `body`, a line per field ("lat: true is not a number"); empty when it fits. A form's
    text values are read as the declared types first."""
    if form and isinstance(body, dict):
        body = _coerced(schema, body)
    validator = _validator(schema)
    out: list[str] = []
    for error in sorted(validator.iter_errors(body), key=lambda e: [str(p) for p in e.absolute_path]):
        out.extend(_describe(error))
    return list(dict.fromkeys(out))


def _describe(error: jsonschema.ValidationError) -> list[str]:
    where = ".".join(str(p) for p in error.absolute_path)
    if error.validator in ("anyOf", "oneOf") and error.context:
        # of the shapes it could have had, say what is wrong against the nearest one: the fewest problems,
        # and of those, problems with values rather than with which fields are there
        shapes: dict[Any, list[jsonschema.ValidationError]] = {}
        for sub in error.context:
            shapes.setdefault(sub.schema_path[0] if sub.schema_path else 0, []).append(sub)
        nearest = min(shapes.values(), key=lambda errs: (
            len(errs), sum(e.validator in ("required", "additionalProperties") for e in errs)))
        return [line for sub in nearest for line in _describe(sub)]
    if error.validator == "additionalProperties":
        allowed = sorted(error.schema.get("properties", {}))
        patterns = [re.compile(p) for p in error.schema.get("patternProperties", {})]
        extra = sorted(k for k in error.instance if k not in allowed and not any(p.search(k) for p in patterns)) \
            if isinstance(error.instance, dict) else []
        return [f"{'.'.join(filter(None, (where, name)))}: unknown field (the fields are {', '.join(allowed)})"
                for name in extra]
    if error.validator == "type":
        wanted = error.validator_value if isinstance(error.validator_value, str) else " or ".join(
            error.validator_value)
        return [f"{where or 'the body'}: {_shown(error.instance)} is not {_article(wanted)}"]
    if error.validator == "required":
        return [f"{where + '.' if where else ''}{error.message.split(' ')[0].strip(chr(39))}: required"]
    return [f"{where or 'the body'}: {_plain(error)}"]


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
    if "pattern" in schema and not re.search(schema["pattern"], raw):
        return f"{raw[:40]!r} does not have the expected form"
    if "maxLength" in schema and len(raw) > schema["maxLength"]:
        return f"at most {schema['maxLength']} characters"
    if schema.get("format") in ("date", "date-time"):
        try:
            parsed = (date.fromisoformat if schema["format"] == "date" else datetime.fromisoformat)(raw)
        except ValueError:
            return f"{raw[:40]!r} is not an RFC 3339 {schema['format']}"
        if isinstance(parsed, datetime) and parsed.tzinfo is None:
            return f"{raw[:40]!r} has no time zone offset"
    return None
