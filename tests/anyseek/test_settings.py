"""Settings: the ``ANYSEEK_`` prefix, nesting with ``__``, errors naming the variable, masking."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from anyseek.cli import main
from anyseek.errors import SettingsError
from anyseek.settings import load_settings


@pytest.fixture
def env(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    """A monkeypatch over an environment with no ``ANYSEEK_*`` variables."""
    for key in list(os.environ):
        if key.startswith("ANYSEEK_") and key != "ANYSEEK_REQUIRE_SERVICES":
            monkeypatch.delenv(key)
    return monkeypatch


def test_prefixed_and_nested_variables_are_read(env: pytest.MonkeyPatch, tmp_path: Path) -> None:
    env.setenv("ANYSEEK_DATA_DIR", str(tmp_path))
    env.setenv("ANYSEEK_STORE__BACKEND", "qdrant")
    env.setenv("ANYSEEK_MODEL__BATCH_SIZE", "8")
    env.setenv("ANYSEEK_API__API_KEYS", '["k1", "k2"]')
    env.setenv("DATA_DIR", "/not/ours")  # without the prefix: ignored

    settings = load_settings()

    assert settings.data_dir == tmp_path
    assert settings.store.backend == "qdrant"
    assert settings.model.batch_size == 8
    assert [key.get_secret_value() for key in settings.api.api_keys] == ["k1", "k2"]
    assert settings.effective_database_url == f"sqlite:///{tmp_path / 'anyseek.db'}"
    assert settings.effective_store.path == str(tmp_path / "qdrant")


def test_defaults_without_any_variable(env: pytest.MonkeyPatch) -> None:
    settings = load_settings()

    assert settings.data_dir == Path.home() / ".anyseek"
    assert settings.store.backend == "faiss" and settings.broker_url == ""
    assert settings.model.source == "builtin" and settings.api.api_keys == []


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("ANYSEEK_STORE__BACKEND", "nope"),
        ("ANYSEEK_MODEL__BATCH_SIZE", "0"),
        ("ANYSEEK_MODEL__DEVICE", "tpu"),
        ("ANYSEEK_API__PORT", "http"),
        ("ANYSEEK_API__API_KEYS", "not-json"),
    ],
)
def test_invalid_values_name_the_variable(
    env: pytest.MonkeyPatch, variable: str, value: str
) -> None:
    env.setenv(variable, value)

    with pytest.raises(SettingsError, match=variable):
        load_settings()


def test_a_bad_value_through_the_cli_is_one_line(
    env: pytest.MonkeyPatch, capsys: pytest.CaptureFixture
) -> None:
    env.setenv("ANYSEEK_API__API_KEYS", "just-a-key")

    code = main(["config", "show"])
    err = capsys.readouterr().err

    assert code == 1
    assert err.count("\n") == 1 and err.startswith("error: invalid settings: ANYSEEK_API__API_KEYS")


def test_config_show_masks_secrets(
    env: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    env.setenv("ANYSEEK_DATA_DIR", str(tmp_path))
    env.setenv("ANYSEEK_DATABASE_URL", "postgresql+psycopg://app:db-secret@db.example:5432/app")
    env.setenv("ANYSEEK_BROKER_URL", "amqp://guest:broker-secret@mq.example:5672//")
    env.setenv("ANYSEEK_RESULT_BACKEND", "redis://:redis-secret@cache.example:6379/0")
    env.setenv("ANYSEEK_API__API_KEYS", '["api-secret-1", "api-secret-2"]')
    env.setenv("ANYSEEK_STORE__QDRANT_API_KEY", "qdrant-secret")

    code = main(["config", "show"])
    out = capsys.readouterr().out

    assert code == 0
    for secret in ["db-secret", "broker-secret", "redis-secret", "api-secret", "qdrant-secret"]:
        assert secret not in out
    shown = json.loads(out)
    assert shown["database_url"] == "postgresql+psycopg://app:**********@db.example:5432/app"
    assert shown["broker_url"] == "amqp://guest:**********@mq.example:5672//"
    assert shown["result_backend"].endswith("@cache.example:6379/0")
    assert len(shown["api"]["api_keys"]) == 2
    assert shown["data_dir"] == str(tmp_path)
    assert shown["store"]["path"] == str(tmp_path / "faiss")


def test_config_show_keeps_urls_without_password(
    env: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    env.setenv("ANYSEEK_DATA_DIR", str(tmp_path))
    env.setenv("ANYSEEK_BROKER_URL", "redis://cache.example:6379/0")

    assert main(["config", "show"]) == 0
    shown = json.loads(capsys.readouterr().out)

    assert shown["broker_url"] == "redis://cache.example:6379/0"
    assert shown["database_url"] == f"sqlite:///{tmp_path / 'anyseek.db'}"


@pytest.mark.parametrize("value", ["auto", "float32", "bfloat16"])
def test_the_precision_of_gallery_vectors_is_a_setting(env: pytest.MonkeyPatch, value: str) -> None:
    assert load_settings().model.precision == "auto"  # unset: chosen by a timed matmul
    env.setenv("ANYSEEK_MODEL__PRECISION", value)
    assert load_settings().model.precision == value


@pytest.mark.parametrize(
    ("variables", "said"),
    [
        ({"ANYSEEK_MODEL__PRECISION": "bf16"}, r"ANYSEEK_MODEL__PRECISION: .*'auto', 'float32'"),
        ({"ANYSEEK_MODEL__PRECISION": "float16"}, r"ANYSEEK_MODEL__PRECISION: .*'bfloat16'"),
        (
            {"ANYSEEK_MODEL__PRECISION": "float32", "ANYSEEK_MODEL__DTYPE": "bfloat16"},
            r"ANYSEEK_MODEL__PRECISION=float32 cannot hold with ANYSEEK_MODEL__DTYPE=bfloat16",
        ),
    ],
)
def test_a_bad_precision_is_refused_with_the_choices(
    env: pytest.MonkeyPatch, capsys: pytest.CaptureFixture, variables: dict[str, str], said: str
) -> None:
    for name, value in variables.items():
        env.setenv(name, value)
    with pytest.raises(SettingsError, match=said):
        load_settings()
    assert main(["config", "show"]) == 1
    assert capsys.readouterr().err.count("\n") == 1  # one line, no traceback
