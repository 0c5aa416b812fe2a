"""Meta's OpenAPI spec ships with the repository (vendor/meta-openapi/); the environment may override it."""

from __future__ import annotations

from pathlib import Path

from tests.support.openapi import DEFAULT_SPEC, REPO_ROOT, SPEC_ENV, load_spec, spec_path


def test_the_path_comes_from_the_environment_or_defaults_to_the_vendored_copy() -> None:
    assert spec_path({SPEC_ENV: "/specs/meta.yaml"}) == Path("/specs/meta.yaml")
    assert spec_path({}) == spec_path({SPEC_ENV: ""}) == DEFAULT_SPEC
    assert DEFAULT_SPEC == REPO_ROOT / "vendor/meta-openapi/business-messaging-api_v23.0.yaml"


def test_the_vendored_spec_is_v23_with_its_mit_licence_beside_it() -> None:
    """The file is in the repository, so no test that validates against it can find it missing."""
    with DEFAULT_SPEC.open() as spec:
        head = [next(spec) for _ in range(5)]
    assert head[0] == "openapi: 3.1.0\n" and "  version: v23.0\n" in head
    licence = (DEFAULT_SPEC.parent / "LICENSE").read_text()
    assert licence.startswith("MIT License") and "Meta Platforms, Inc." in licence


def test_the_loaded_spec_has_the_values_meta_documents_beside_its_own() -> None:
    statuses = load_spec()["components"]["schemas"]["WhatsAppCodeVerificationStatus"]["enum"]
    assert {"VERIFIED", "NOT_VERIFIED", "EXPIRED"} <= set(statuses)
