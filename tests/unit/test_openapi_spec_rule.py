"""The rule for Meta's OpenAPI spec, a file outside this repository: skip without it, fail under CI."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.support.openapi import DEFAULT_SPEC, REPO_ROOT, SPEC_ENV, load_spec, missing_spec, spec_path


def test_the_path_comes_from_the_environment_or_defaults_beside_the_checkout() -> None:
    assert spec_path({SPEC_ENV: "/specs/meta.yaml"}) == Path("/specs/meta.yaml")
    assert spec_path({}) == spec_path({SPEC_ENV: ""}) == DEFAULT_SPEC
    beside_the_checkout = REPO_ROOT.parent / "shared/reference/meta-openapi"
    assert spec_path({}) == beside_the_checkout / "business-messaging-api_v23.0.yaml"


def test_a_present_spec_runs_the_tests_in_and_out_of_ci(tmp_path: Path) -> None:
    spec = tmp_path / "spec.yaml"
    spec.write_text("openapi: 3.1.0\n")
    assert missing_spec({}, spec) is None
    assert missing_spec({"CI": "true"}, spec) is None


@pytest.mark.parametrize("ci", [None, "", "false", "0"])
def test_an_absent_spec_skips_outside_ci_and_says_why(tmp_path: Path, ci: str | None) -> None:
    absent = tmp_path / "absent.yaml"
    env = {} if ci is None else {"CI": ci}
    assert missing_spec(env, absent) == (
        "skip",
        f"Meta's OpenAPI spec is a file outside this repository and is not at {absent}: "
        f"set {SPEC_ENV} to its path",
    )


@pytest.mark.parametrize("ci", ["true", "TRUE", "True"])
def test_an_absent_spec_fails_under_ci(tmp_path: Path, ci: str) -> None:
    absent = tmp_path / "absent.yaml"
    action, message = missing_spec({"CI": ci}, absent) or ("run", "")
    assert action == "fail"
    assert message.startswith("CI=true: ") and str(absent) in message and SPEC_ENV in message


def test_a_directory_is_not_a_spec(tmp_path: Path) -> None:
    assert missing_spec({}, tmp_path) is not None


def test_every_reader_of_the_spec_applies_the_rule(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """``load_spec`` (behind every validator) skips, or fails under CI, instead of a FileNotFoundError."""
    monkeypatch.setenv(SPEC_ENV, str(tmp_path / "absent.yaml"))
    monkeypatch.delenv("CI", raising=False)
    load_spec.cache_clear()
    try:
        with pytest.raises(pytest.skip.Exception, match="outside this repository"):
            load_spec()
        monkeypatch.setenv("CI", "true")
        with pytest.raises(pytest.fail.Exception, match=r"^CI=true: "):
            load_spec()
    finally:
        load_spec.cache_clear()  # the next reader parses the real spec again
