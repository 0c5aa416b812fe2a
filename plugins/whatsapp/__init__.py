"""Apache Airflow provider for WhatsApp Business onboarding and fleet health.

Importing this package is cheap on purpose: Airflow reads :func:`get_provider_info`
while parsing DAGs and starting every component.
"""

from __future__ import annotations

from typing import Any

from whatsapp.defaults import (
    DEFAULT_API_VERSION,
    DEFAULT_GRAPH_CONN_ID,
    DEFAULT_GRAPH_URL,
    DEFAULT_MAX_CONCURRENCY,
    DEFAULT_STORE_CONN_ID,
    DEFAULT_TIMEOUT_S,
    MAX_BATCH_SIZE,
)

__version__ = "0.1.0"

#: The connection type of the Graph connection (the hook's ``conn_type``).
GRAPH_CONN_TYPE = "whatsapp_graph"

__all__ = [
    "DEFAULT_API_VERSION",
    "DEFAULT_GRAPH_CONN_ID",
    "DEFAULT_GRAPH_URL",
    "DEFAULT_MAX_CONCURRENCY",
    "DEFAULT_STORE_CONN_ID",
    "GRAPH_CONN_TYPE",
    "__version__",
    "get_provider_info",
]


def get_provider_info() -> dict[str, Any]:
    """What ``airflow providers list`` and the connection form know about this provider."""
    return {
        "package-name": "airflow-provider-whatsapp",
        "name": "WhatsApp Business",
        "description": (
            "Onboard WhatsApp Business phone numbers through Embedded Signup and keep a fleet healthy."
        ),
        "versions": [__version__],
        "integrations": [
            {
                "integration-name": "WhatsApp Business Platform",
                "external-doc-url": "https://developers.facebook.com/docs/whatsapp/",
                "tags": ["service"],
            }
        ],
        "connection-types": [
            {
                "connection-type": GRAPH_CONN_TYPE,
                "hook-class-name": "whatsapp.hooks.graph.WhatsAppGraphHook",
                "hook-name": "WhatsApp Graph API",
                "ui-field-behaviour": {
                    "hidden-fields": ["schema", "port"],
                    "relabeling": {
                        "host": "Graph base URL",
                        "login": "Meta app ID",
                        "password": "App secret",
                    },
                    "placeholders": {
                        "host": DEFAULT_GRAPH_URL,
                        "login": "1234567890",
                        "password": "app secret (masked)",
                    },
                },
                "conn-fields": {
                    "api_version": {
                        "label": "Graph API version",
                        "description": "Versioned path prefix, e.g. v24.0",
                        "schema": {
                            "type": ["string", "null"],
                            "default": DEFAULT_API_VERSION,
                            "pattern": r"^v[0-9]+\.[0-9]+$",
                        },
                    },
                    "callback_url": {
                        "label": "Webhook callback URL",
                        "description": "Public base URL set as the phone-level webhook override",
                        "schema": {"type": ["string", "null"], "format": "url"},
                    },
                    "webhook_verify_token": {
                        "label": "Webhook verify token",
                        "description": (
                            "The Verify Token set in the Meta app's webhook settings; "
                            "GET /whatsapp/webhooks/meta answers Meta's check with it"
                        ),
                        # format "password": Airflow's form shows it as a secret and masks it.
                        "schema": {"type": ["string", "null"], "format": "password"},
                    },
                    "timeout": {
                        "label": "Timeout (s)",
                        "description": "Per-request timeout in seconds",
                        "schema": {"type": ["number", "null"], "default": DEFAULT_TIMEOUT_S, "minimum": 1},
                    },
                    "max_concurrency": {
                        "label": "Max concurrent requests",
                        "description": "Most batch requests in flight in a fleet audit, all shards together",
                        "schema": {
                            "type": ["integer", "null"],
                            "default": DEFAULT_MAX_CONCURRENCY,
                            "minimum": 1,
                        },
                    },
                    "batch_size": {
                        "label": "Batch size",
                        "description": f"Sub-requests per Graph batch (Meta allows at most {MAX_BATCH_SIZE})",
                        "schema": {
                            "type": ["integer", "null"],
                            "default": MAX_BATCH_SIZE,
                            "minimum": 1,
                            "maximum": MAX_BATCH_SIZE,
                        },
                    },
                },
            }
        ],
        "hooks": [
            {"integration-name": "WhatsApp Business Platform", "python-modules": ["whatsapp.hooks.graph"]}
        ],
        "operators": [
            {
                "integration-name": "WhatsApp Business Platform",
                "python-modules": [
                    "whatsapp.operators.onboarding",
                    "whatsapp.operators.registration",
                    "whatsapp.operators.health",
                    "whatsapp.operators.channel",
                    "whatsapp.operators.fleet",
                    "whatsapp.operators.lifecycle",
                ],
            }
        ],
        "sensors": [
            {
                "integration-name": "WhatsApp Business Platform",
                "python-modules": ["whatsapp.sensors.display_name"],
            }
        ],
        "triggers": [
            {
                "integration-name": "WhatsApp Business Platform",
                "python-modules": ["whatsapp.triggers.display_name"],
            }
        ],
        "extra-links": ["whatsapp.extra_links.WhatsAppManagerLink"],
        "plugins": [{"name": "whatsapp", "plugin-class": "whatsapp.plugin.WhatsAppPlugin"}],
    }
