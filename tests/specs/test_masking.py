"""Secrets-looking values are masked in previews; structure and other values stay."""

from __future__ import annotations

from deployserver.specs.masking import MASK, is_secret_key, mask_secrets


def test_secret_looking_keys() -> None:
    for key in (
        "password",
        "Password",
        "dbPassword",
        "MYSQL_PASSWORD",
        "secret",
        "clientSecret",
        "accessKey",
        "ACCESSKEY",
        "secretKey",
        "license",
        # API.md: token, and key as a whole word or suffix.
        "token",
        "licenseToken",
        "key",
        "apiKey",
        "api_key",
        "API-KEY",
        "tls.key",
    ):
        assert is_secret_key(key), key
    for key in ("passwordFile", "secretName", "accessKeyId", "host", "user", "monkey", "keys"):
        assert not is_secret_key(key), key


def test_mask_secrets_masks_scalars_and_lists_walks_maps() -> None:
    spec = {
        "chart": {"url": "https://c", "name": "w", "password": "hunter2"},
        "values": {
            "global": {
                "license": "eyJ...",
                "licenseSecret": {"name": "wandb-license", "key": "license"},
                "bucket": {"accessKey": "AK", "secretKey": "SK", "name": "b"},
                "mysql": {"dbPassword": 12345, "enabled": True},
            },
            "extra": [{"name": "x", "password": "p"}],
            "secret": ["a", "b"],
        },
    }
    assert mask_secrets(spec) == {
        "chart": {"url": "https://c", "name": "w", "password": MASK},
        "values": {
            "global": {
                "license": MASK,
                "licenseSecret": {"name": "wandb-license", "key": MASK},
                "bucket": {"accessKey": MASK, "secretKey": MASK, "name": "b"},
                "mysql": {"dbPassword": MASK, "enabled": True},
            },
            "extra": [{"name": "x", "password": MASK}],
            "secret": MASK,
        },
    }
    assert spec["chart"]["password"] == "hunter2"  # the input is left alone
