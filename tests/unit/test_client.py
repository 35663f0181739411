"""``legato.client()``: a boto3 client set up for a local server."""

from __future__ import annotations

from botocore.config import Config

import legato


def test_defaults_suit_a_local_server() -> None:
    sfn = legato.client()
    assert sfn.meta.endpoint_url == "http://127.0.0.1:8083"
    assert sfn.meta.region_name == "us-east-1"
    assert sfn.meta.config.inject_host_prefix is False
    assert sfn.meta.config.retries["total_max_attempts"] == 1
    creds = sfn._request_signer._credentials
    assert (creds.access_key, creds.secret_key) == ("test", "test")


def test_keywords_override_and_config_merges() -> None:
    sfn = legato.client(
        "http://127.0.0.1:9000",
        region_name="eu-west-1",
        aws_access_key_id="AKID",
        aws_secret_access_key="secret",
        config=Config(read_timeout=7),
    )
    assert sfn.meta.endpoint_url == "http://127.0.0.1:9000"
    assert sfn.meta.region_name == "eu-west-1"
    assert sfn.meta.config.read_timeout == 7 and sfn.meta.config.inject_host_prefix is False
    assert sfn._request_signer._credentials.access_key == "AKID"


def test_the_module_is_callable_too() -> None:
    import sys

    from legato.client import client

    module = sys.modules["legato.client"]
    assert client is legato.client
    assert "client" in legato.__all__
    assert module.client().meta.service_model.service_name == "stepfunctions"
    assert module().meta.region_name == "us-east-1"  # type: ignore[operator]
