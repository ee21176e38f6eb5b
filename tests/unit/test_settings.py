"""The settings model: what operators see of it."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from qsmon.exceptions import ConfigError
from qsmon.settings import load_settings
from tests.workers import ROOT


def test_qsmon_config_masks_every_credential() -> None:
    env = {
        **os.environ,
        "QSMON_DATABASE_URL": "postgresql://qsmon:db-pass-9876@db:5432/qsmon",
        "QSMON_PROMETHEUS_URL": "http://ops:prom-pass-5432@prometheus:9090",
        "QSMON_ALERTMANAGER_URL": "http://alertmanager:9093/?token=am-token-1098",
        "QSMON_GRAFANA_URL": "https://admin:grafana-pass-7654@grafana.example",
        "QSMON_INGEST_TOKENS": '["ingest-token-3210"]',
    }
    shown = subprocess.run(
        [sys.executable, "-m", "cli", "config"], cwd=ROOT, env=env, capture_output=True, text=True, check=True
    ).stdout
    for secret in ("db-pass-9876", "prom-pass-5432", "am-token-1098", "grafana-pass-7654", "ingest-token-3210"):
        assert secret not in shown
    assert "prometheus:9090" in shown  # where it points is still shown


class TestSecretUrls:
    def test_credentials_anywhere_in_a_url_are_masked(self) -> None:
        from qsmon.settings import SecretUrl

        shown = str(SecretUrl("https://ops:pw-1234@grafana.example:3000/proxy;key=path-secret-99?token=q-secret"))
        assert shown == "https://***@grafana.example:3000/***?***"
        assert str(SecretUrl("http://prometheus:9090")) == "http://prometheus:9090"

    def test_a_malformed_url_is_masked_whole(self) -> None:
        from qsmon.settings import SecretUrl

        assert str(SecretUrl("http://[::1:9090/x?token=abc")) == "**********"

    def test_a_database_url_the_driver_cannot_parse_names_no_password(self) -> None:
        import pytest

        from qsmon.exceptions import ConfigError
        from qsmon.storage import connect

        with pytest.raises(ConfigError) as failure:
            connect("postgresql://qsmon:S3cr%t!pw@127.0.0.1:1/qsmon")
        assert "S3cr" not in str(failure.value)
        assert "percent-encode" in str(failure.value)


class TestStrictSettings:
    def test_the_readme_documents_every_setting(self) -> None:
        readme = (ROOT / "README.md").read_text(encoding="utf-8")
        table = readme.split("<!-- settings:start")[1].split("<!-- settings:end -->")[0]
        shown = subprocess.run(
            [sys.executable, "-m", "cli", "config", "--table"], cwd=ROOT, capture_output=True, text=True, check=True
        ).stdout.strip()
        assert table.split("-->\n", 1)[1].strip() == shown  # regenerate: qsmon config --table

    def test_mistakes_are_one_line_each_without_a_traceback(self, tmp_path: Path) -> None:
        config = tmp_path / "qsmon.yml"
        config.write_text("worker_batchsize: 10\n", encoding="utf-8")
        env = {
            **os.environ,
            "QSMON_TIMEZONE": "Asia/Shangai",
            "QSMON_WORKER_BATCH_SIZE": "0",
            "QSMON_INGEST_PORT": "80000",
            "QSMON_PROMETHEUS_URL": "prometheus:9090",
            "QSMON_CONFIG_FILE": str(config),
        }
        run = subprocess.run(
            [sys.executable, "-m", "cli", "config", "--check"],
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
            check=False,
        )
        assert run.returncode == 1
        assert "Traceback" not in run.stderr
        lines = run.stderr.strip().splitlines()
        assert lines[0] == "error: invalid settings:"
        assert sorted(line.split(":")[0].strip() for line in lines[1:]) == [
            "QSMON_INGEST_PORT",
            "QSMON_PROMETHEUS_URL",
            "QSMON_TIMEZONE",
            "QSMON_WORKER_BATCHSIZE",
            "QSMON_WORKER_BATCH_SIZE",
        ]

    def test_a_secret_can_come_from_a_file(self, tmp_path: Path) -> None:
        secret = tmp_path / "db-url"
        secret.write_text("postgresql://qsmon:from-a-file@db:5432/qsmon\n", encoding="utf-8")
        env = {**os.environ, "QSMON_DATABASE_URL_FILE": str(secret)}
        env.pop("QSMON_DATABASE_URL", None)
        run = subprocess.run(
            [sys.executable, "-c", "from qsmon.settings import load_settings;print(load_settings().dsn)"],
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
            check=True,
        )
        assert run.stdout.strip() == "postgresql://qsmon:from-a-file@db:5432/qsmon"

    @pytest.mark.parametrize(
        "content",
        ['["lab-a-token-0001", "lab-b-token-0002"]\n', "# the labs' tokens\nlab-a-token-0001\n\nlab-b-token-0002\n"],
    )
    def test_several_tokens_can_come_from_a_file(self, tmp_path: Path, content: str) -> None:
        """A JSON list, as in QSMON_INGEST_TOKENS, or one a line: the file was read as one string, and refused."""
        secret = tmp_path / "ingest-tokens"
        secret.write_text(content, encoding="utf-8")
        env = {**os.environ, "QSMON_INGEST_TOKENS_FILE": str(secret)}
        env.pop("QSMON_INGEST_TOKENS", None)
        run = subprocess.run(
            [
                sys.executable,
                "-c",
                "from qsmon.settings import load_settings;"
                "print(*(t.get_secret_value() for t in load_settings().ingest_tokens))",
            ],
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
            check=True,
        )
        assert run.stdout.split() == ["lab-a-token-0001", "lab-b-token-0002"]

    @pytest.mark.parametrize("tokens", ['["lab-a-token-0001", ""]', '["short"]', '["lab-a-token 0001"]'])
    def test_an_empty_or_short_ingest_token_is_refused(self, tokens: str) -> None:
        """An empty one matched a bare "Bearer " header; a short one is a guess away."""
        run = subprocess.run(
            [sys.executable, "-m", "cli", "config"],
            cwd=ROOT,
            env={**os.environ, "QSMON_INGEST_TOKENS": tokens},
            capture_output=True,
            text=True,
            check=False,
        )
        assert run.returncode == 1
        assert "QSMON_INGEST_TOKENS: every token needs 16 characters or more" in run.stderr

    def test_a_malformed_database_url_stops_it_without_showing_the_password(self) -> None:
        env = {**os.environ, "QSMON_DATABASE_URL": "postgresql://qsmon:pa%ss@db/qsmon"}  # a bare % in the password
        run = subprocess.run(
            [sys.executable, "-m", "cli", "config"], cwd=ROOT, env=env, capture_output=True, text=True, check=False
        )
        assert run.returncode != 0
        assert "QSMON_DATABASE_URL: not a valid PostgreSQL URL" in run.stderr
        assert "pa%ss" not in run.stderr + run.stdout

    def test_a_near_miss_of_a_setting_in_the_environment_is_reported_and_other_names_are_not(
        self, tmp_path: Path
    ) -> None:
        channels = tmp_path / "channels.yml"
        channels.write_text(
            "channels:\n  - {name: duty, type: webhook, url: 'https://ops.example/q',"
            " secret_env: QSMON_INGEST_TOKEN}\n",
            encoding="utf-8",
        )
        env = {
            **os.environ,
            "QSMON_DATABSE_URL": "postgresql://elsewhere/qsmon",
            "QSMON_DUTY_ROBOT_SECRET": "a channel's secret_env",
            "qsmon_log_format": "text",
            "QSMON_CHANNELS_FILE": str(channels),
            "QSMON_INGEST_TOKEN": "near a setting, but a channel's secret",
        }
        run = subprocess.run(
            [sys.executable, "-m", "cli", "config", "--check"],
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
            check=False,
        )
        assert run.returncode == 1
        assert "QSMON_DATABSE_URL: not a qsmon setting, and ignored; did you mean QSMON_DATABASE_URL?" in run.stderr
        assert "QSMON_DUTY_ROBOT_SECRET" not in run.stderr
        assert "qsmon_log_format" not in run.stderr  # read as QSMON_LOG_FORMAT: names are not case-sensitive
        assert "QSMON_INGEST_TOKEN:" not in run.stderr  # the channels file reads it


class TestWhatOperatorsSee:
    def test_a_config_file_with_a_syntax_error_is_reported_without_its_line(
        self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        config = tmp_path / "qsmon.yaml"
        config.write_text("database_url: postgresql://qsmon:DB-PASSWORD@db/qsmon: x\n", encoding="utf-8")
        monkeypatch.setenv("QSMON_CONFIG_FILE", str(config))
        with pytest.raises(ConfigError) as failure:
            load_settings()
        assert "DB-PASSWORD" not in str(failure.value)
        assert "line 1" in str(failure.value)

    def test_a_config_file_that_is_not_there_stops_it_instead_of_every_setting_defaulting(
        self, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
    ) -> None:
        monkeypatch.setenv("QSMON_CONFIG_FILE", str(tmp_path / "missing.yaml"))
        with pytest.raises(ConfigError, match="QSMON_CONFIG_FILE: no such file"):
            load_settings()

    def test_a_plans_directory_that_is_not_there_is_refused(self, tmp_path: Path) -> None:
        with pytest.raises(ConfigError, match="QSMON_PLANS_DIR: no such directory"):
            load_settings(plans_dir=tmp_path / "nope")

    def test_the_database_a_command_reaches_is_shown_without_its_password(self) -> None:
        settings = load_settings(
            database_url="postgresql://app:s3cret-pw@db.example:6432/qsmon_prod"
            "?options=-c%20search_path%3Dx&sslmode=require"
        )
        assert settings.masked()["database_url"] == (
            "user=app host=db.example:6432 dbname=qsmon_prod password=*** (also set: options, sslmode)"
        )
        assert "s3cret" not in str(settings.masked())

    def test_a_slash_in_the_password_is_refused_without_showing_it(self) -> None:
        with pytest.raises(ConfigError) as refused:
            load_settings(database_url="postgresql://u:pa/ss-tail@db/d")
        assert "%2F" in str(refused.value)
        assert "ss-tail" not in str(refused.value)

    def test_an_unencoded_at_sign_in_the_password_is_named_without_showing_it(self) -> None:
        with pytest.raises(ConfigError) as refused:
            load_settings(database_url="postgresql://app:pa@ss-tail@db.example:5432/qsmon")
        assert "%40" in str(refused.value)
        assert "ss-tail" not in str(refused.value)
