"""Validate Graph request and response bodies against Meta's OpenAPI spec (v23.0, MIT).

The spec is vendored in ``vendor/meta-openapi/`` (see its README.md); ``$WHATSAPP_OPENAPI_SPEC``
points the tests at another copy instead. It is 1 MB of YAML, so it is parsed once (libyaml)
and every validator is cached. ``$ref``s resolve inside the spec's own ``components`` through
jsonschema's ``referencing``.

The spec's enums are narrower than what Meta documents and returns (docs/meta-sources.md, and
Meta's reference of the phone-number node:
https://developers.facebook.com/docs/graph-api/reference/whats-app-business-account-to-number-current-status/):
it has no ``CONNECTED`` phone status in the ``phone_numbers`` listing, no ``NOT_VERIFIED``/``EXPIRED``
verification status and no ``UNKNOWN`` quality.
:data:`DOCUMENTED_ENUM_VALUES` adds exactly those values and nothing else, so every other
constraint of the spec still applies.
"""

from __future__ import annotations

import functools
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import jsonschema
import yaml
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

REPO_ROOT = Path(__file__).resolve().parents[2]
SPEC_ENV = "WHATSAPP_OPENAPI_SPEC"
DEFAULT_SPEC = REPO_ROOT / "vendor/meta-openapi/business-messaging-api_v23.0.yaml"
_SPEC_URI = "urn:meta-openapi:business-messaging-api"

#: schema name -> (JSON pointer inside it, extra enum values Meta documents).
DOCUMENTED_ENUM_VALUES: dict[str, list[tuple[tuple[str, ...], tuple[str, ...]]]] = {
    "WhatsAppPhoneNumberStatus": [
        ((), ("CONNECTED", "FLAGGED", "RATE_LIMITED", "DISCONNECTED", "UNVERIFIED", "UNKNOWN")),
    ],
    "WhatsAppCodeVerificationStatus": [((), ("NOT_VERIFIED", "EXPIRED"))],
    "WhatsAppPhoneNumberQualityRating": [((), ("UNKNOWN",))],
    "PhoneNumberInfo": [
        (("properties", "code_verification_status"), ("NOT_VERIFIED", "EXPIRED")),
        (("properties", "quality_rating"), ("UNKNOWN",)),
    ],
}


def spec_path(env: Mapping[str, str]) -> Path:
    """``$WHATSAPP_OPENAPI_SPEC``, or the vendored copy when unset or empty."""
    return Path(env.get(SPEC_ENV) or DEFAULT_SPEC)


@functools.cache
def load_spec() -> dict[str, Any]:
    """The parsed spec with the documented enum values added (parsed once per process)."""
    with spec_path(os.environ).open("rb") as handle:
        spec = yaml.load(handle, Loader=yaml.CSafeLoader)
    schemas = spec["components"]["schemas"]
    for name, widenings in DOCUMENTED_ENUM_VALUES.items():
        for pointer, values in widenings:
            node = schemas[name]
            for key in pointer:
                node = node[key]
            node["enum"] = [*node["enum"], *(v for v in values if v not in node["enum"])]
    return spec


@functools.cache
def _registry() -> Registry:
    resource = Resource.from_contents(load_spec(), default_specification=DRAFT202012)
    return Registry().with_resource(_SPEC_URI, resource)


def _operation(method: str, path_template: str) -> dict[str, Any]:
    paths = load_spec()["paths"]
    if path_template not in paths:
        raise AssertionError(f"the OpenAPI spec defines no path {path_template!r}")
    operation = paths[path_template].get(method.lower())
    if operation is None:
        raise AssertionError(f"the OpenAPI spec defines no {method.upper()} {path_template}")
    return operation


def _pointer(*parts: str) -> str:
    return "/".join(p.replace("~", "~0").replace("/", "~1") for p in parts)


@functools.cache
def _validator(pointer: str) -> jsonschema.protocols.Validator:
    """A validator for the schema at ``pointer`` in the spec, its ``$ref``s resolvable."""
    schema = {"$ref": f"{_SPEC_URI}#/{pointer}"}
    cls = jsonschema.validators.validator_for({"$schema": "https://json-schema.org/draft/2020-12/schema"})
    return cls(schema, registry=_registry(), format_checker=cls.FORMAT_CHECKER)


def _check(label: str, pointer: str, body: Any) -> None:
    error = jsonschema.exceptions.best_match(_validator(pointer).iter_errors(body))
    if error is not None:
        where = "/".join(str(p) for p in error.absolute_path) or "(root)"
        raise AssertionError(f"{label} does not match the OpenAPI spec at {where}: {error.message}")


def validate_request(method: str, path_template: str, body: Any) -> None:
    """Raise AssertionError (naming the path and the schema error) unless ``body`` fits."""
    operation = _operation(method, path_template)
    content = (operation.get("requestBody") or {}).get("content") or {}
    if "application/json" not in content:
        raise AssertionError(f"{method.upper()} {path_template} defines no JSON request body")
    pointer = _pointer("paths", path_template, method.lower(), "requestBody", "content", "application/json")
    _check(f"request body of {method.upper()} {path_template}", f"{pointer}/schema", body)


def validate_response(method: str, path_template: str, status: int, body: Any) -> None:
    """Raise AssertionError unless ``body`` fits the spec's schema for that status code."""
    responses = _operation(method, path_template)["responses"]
    key = str(status) if str(status) in responses else "default"
    if key not in responses:
        raise AssertionError(f"{method.upper()} {path_template} defines no response for HTTP {status}")
    content = responses[key].get("content") or {}
    if "application/json" not in content:
        raise AssertionError(f"{method.upper()} {path_template} HTTP {status} defines no JSON body")
    pointer = _pointer(
        "paths", path_template, method.lower(), "responses", key, "content", "application/json"
    )
    _check(f"HTTP {status} answer of {method.upper()} {path_template}", f"{pointer}/schema", body)
