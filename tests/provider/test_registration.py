"""The package is a real Airflow provider: listed, valid provider info, connection form fields."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import airflow
import jsonschema

from whatsapp import get_provider_info

AIRFLOW = str(Path(sys.executable).with_name("airflow"))


def test_provider_info_is_valid_for_airflow() -> None:
    schema = json.loads((Path(airflow.__file__).parent / "provider_info.schema.json").read_text())
    jsonschema.validate(get_provider_info(), schema)


def test_airflow_lists_the_provider_and_its_connection_type() -> None:
    providers = subprocess.run(
        [AIRFLOW, "providers", "list", "-o", "json"], capture_output=True, text=True, timeout=120, check=True
    )
    assert "airflow-provider-whatsapp" in providers.stdout
    hooks = subprocess.run(
        [AIRFLOW, "providers", "hooks", "-o", "json"], capture_output=True, text=True, timeout=120, check=True
    )
    assert '"connection_type": "whatsapp_graph"' in hooks.stdout
    assert "whatsapp.hooks.graph.WhatsAppGraphHook" in hooks.stdout


def test_connection_form_shows_the_custom_fields() -> None:
    """What the Airflow 3 UI's connection form reads (the hook-meta API)."""
    from airflow.api_fastapi.core_api.services.ui.connections import HookMetaService

    (meta,) = [m for m in HookMetaService.hook_meta_data() if m.connection_type == "whatsapp_graph"]
    assert set(meta.extra_fields) == {
        "api_version",
        "callback_url",
        "timeout",
        "max_concurrency",
        "batch_size",
        "webhook_verify_token",
    }
    assert meta.extra_fields["batch_size"]["schema"]["maximum"] == 50
    # the verify token is a secret: shown as a password field and masked by Airflow
    assert meta.extra_fields["webhook_verify_token"]["schema"]["format"] == "password"
    from airflow.providers_manager import ProvidersManager

    widgets = ProvidersManager().connection_form_widgets
    assert widgets["extra__whatsapp_graph__webhook_verify_token"].is_sensitive
    assert meta.standard_fields.host.title == "Graph base URL"
    assert meta.standard_fields.password.title == "App secret"
    assert meta.standard_fields.port.hidden is True
