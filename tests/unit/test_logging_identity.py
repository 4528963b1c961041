"""Which deployment said it: CLIENT_SLUG and FLY_APP_NAME on every log line, CLIENT_SLUG on every notification."""

from __future__ import annotations

import json
import logging
import os
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from controller.config import load_settings
from controller.httpclient import RetryPolicy
from controller.logs import JsonFormatter, configure_logging
from controller.notify import (
    DispatchKind,
    DispatchRef,
    Notification,
    NotificationKind,
    ReaperAlert,
    TicketRef,
    notifier_from_settings,
    notify_safely,
)

ROOT = Path(__file__).resolve().parents[2]
SLACK_URL = "https://hooks.slack.com/services/T0001AAAA/B0002BBBB/identitytestsecret"
CONNECTOR_URL = "https://acme.webhook.office.com/webhookb2/1f2e@3d4c/IncomingWebhook/abcdef0123/9a8b"
WORKFLOW_URL = (
    "https://prod-12.westus.logic.azure.com:443/workflows/0a1b2c/triggers/manual/paths/invoke"
    "?api-version=2016-06-01&sp=%2Ftriggers%2Fmanual%2Frun&sv=1.0&sig=s3cr3t"
)
KUBECONFIG_TEXT = """
apiVersion: v1
kind: Config
clusters: [{name: local, cluster: {server: "http://127.0.0.1:1"}}]
users: [{name: local, user: {token: not-used}}]
contexts: [{name: local, context: {cluster: local, user: local}}]
current-context: local
"""


def record(message: str = "polled", **extra: object) -> logging.LogRecord:
    made = logging.LogRecord("controller.test", logging.INFO, __file__, 1, message, None, None)
    for name, value in extra.items():
        setattr(made, name, value)
    return made


@pytest.fixture
def root_logger() -> Iterator[logging.Logger]:
    """The root logger, put back as it was: `configure_logging` replaces its handlers and quietens some loggers."""
    root = logging.getLogger()
    handlers = root.handlers[:]
    levels = {name: logging.getLogger(name).level for name in ("", "aiohttp.access", "httpx", "httpcore")}
    yield root
    root.handlers[:] = handlers
    for name, level in levels.items():
        logging.getLogger(name).setLevel(level)


# Log lines


def test_every_line_carries_the_client_and_the_fly_app() -> None:
    formatter = JsonFormatter({"client": "acme", "flyApp": "ai-implement-acme"})

    line = json.loads(formatter.format(record(dispatch="eng-42-implementation-1")))

    assert line["client"] == "acme"
    assert line["flyApp"] == "ai-implement-acme"
    assert line["dispatch"] == "eng-42-implementation-1"
    assert list(line)[:6] == ["time", "level", "logger", "message", "client", "flyApp"]


def test_an_unset_client_or_fly_app_adds_no_field() -> None:
    for identity in (None, {}, {"client": None, "flyApp": None}, {"client": "", "flyApp": ""}):
        line = json.loads(JsonFormatter(identity).format(record()))
        assert "client" not in line
        assert "flyApp" not in line

    only_fly = json.loads(JsonFormatter({"client": None, "flyApp": "ai-implement"}).format(record()))
    assert (only_fly.get("client"), only_fly["flyApp"]) == (None, "ai-implement")


def test_a_client_the_call_site_passes_wins_over_the_stamped_one() -> None:
    formatter = JsonFormatter({"client": "acme", "flyApp": "ai-implement-acme"})

    line = json.loads(formatter.format(record(client="globex")))

    assert (line["client"], line["flyApp"]) == ("globex", "ai-implement-acme")


def test_configure_logging_stamps_every_logger_of_the_process(
    root_logger: logging.Logger, capsys: pytest.CaptureFixture[str]
) -> None:
    configure_logging("INFO", client="acme", fly_app="ai-implement-acme")

    logging.getLogger("controller.operator").info("became the leader")
    logging.getLogger("kopf.objects").warning("handler retried")
    logging.getLogger("controller.web").debug("below the level")

    lines = [json.loads(line) for line in capsys.readouterr().err.splitlines()]
    assert [line["message"] for line in lines] == ["became the leader", "handler retried"]
    assert all((line["client"], line["flyApp"]) == ("acme", "ai-implement-acme") for line in lines)


def test_configure_logging_without_an_identity_stamps_nothing(
    root_logger: logging.Logger, capsys: pytest.CaptureFixture[str]
) -> None:
    configure_logging("INFO")

    logging.getLogger("controller").info("started")

    [line] = [json.loads(line) for line in capsys.readouterr().err.splitlines()]
    assert "client" not in line
    assert "flyApp" not in line


def test_the_operator_process_logs_its_client_and_fly_app_from_the_settings(tmp_path: Path, rsa_key_pem: str) -> None:
    """CLIENT_SLUG from the environment, FLY_APP_NAME too; the client file chosen is the first line."""
    (tmp_path / "clients").mkdir()
    (tmp_path / "clients" / "acme.toml").write_text('AI_IMPLEMENT_LABEL = "AI-Acme"\n')
    kubeconfig = tmp_path / "kubeconfig"
    kubeconfig.write_text(KUBECONFIG_TEXT)
    with socket.socket() as taken:
        taken.bind(("0.0.0.0", 0))  # noqa: S104 - the operator binds every interface; so must the squatter
        taken.listen()
        environment = {
            "PATH": os.environ["PATH"],
            "PYTHONPATH": str(ROOT),
            "GITHUB_APP_ID": "12345",
            "GITHUB_APP_PRIVATE_KEY": rsa_key_pem.replace("\n", "\\n"),
            "LINEAR_API_KEY": "lin_api_identity",
            "KUBECONFIG": str(kubeconfig),
            "DEDUP_DB_PATH": str(tmp_path / "dedup.sqlite"),
            "AI_IMPLEMENT_ENV": "development",
            "OPERATOR_PORT": str(taken.getsockname()[1]),
            "CLIENT_SLUG": "acme",
            "FLY_APP_NAME": "ai-implement-acme",
        }
        result = subprocess.run(
            [sys.executable, "-m", "controller.cli", "operator"],
            env=environment,
            cwd=tmp_path,
            capture_output=True,
            text=True,
            check=False,
        )

    lines = [json.loads(line) for line in result.stderr.splitlines() if line.startswith("{")]
    assert lines, result.stderr
    assert lines[0]["message"] == "client acme: settings read from clients/acme.toml"
    assert all((line["client"], line["flyApp"]) == ("acme", "ai-implement-acme") for line in lines), result.stderr


# Notifications


def every_kind() -> list[Notification]:
    ticket = TicketRef(identifier="ENG-42", title="Fix the login page", url="https://linear.app/acme/issue/ENG-42")

    def about(kind: NotificationKind, dispatch_kind: DispatchKind = "implementation") -> Notification:
        dispatch = DispatchRef(name="eng-42-1", kind=dispatch_kind, repo="acme/web", ticket=ticket)
        return Notification(kind=kind, dispatch=dispatch, error_reason="RunnerFailed")

    return [
        about(NotificationKind.DISPATCH_SUCCEEDED),
        about(NotificationKind.DISPATCH_FAILED),
        about(NotificationKind.DISPATCH_TIMED_OUT),
        about(NotificationKind.REVIEW_FAILED, "review"),
        Notification(kind=NotificationKind.REAPER_ALERT, reaper=ReaperAlert(count=12, threshold=10)),
    ]


def test_every_kind_of_notification_is_covered() -> None:
    assert {notification.kind for notification in every_kind()} == set(NotificationKind)


@pytest.mark.parametrize(
    ("notify_type", "url", "answer"),
    [("slack", SLACK_URL, "ok"), ("teams", CONNECTOR_URL, "1"), ("teams", WORKFLOW_URL, "")],
    ids=["slack", "teams-connector", "teams-workflow"],
)
async def test_every_notification_names_the_client_but_not_the_fly_app(notify_type: str, url: str, answer: str) -> None:
    """The specification reads FLY_APP_NAME for logging only; CLIENT_SLUG tells a shared channel's deployments apart."""
    sent: list[str] = []

    def webhook(request: httpx.Request) -> httpx.Response:
        sent.append(request.read().decode())
        return httpx.Response(200, text=answer)

    settings = load_settings(
        {
            "NOTIFY_TYPE": notify_type,
            "NOTIFY_WEBHOOK_URL": url,
            "CLIENT_SLUG": "acme-prod",
            "FLY_APP_NAME": "ai-implement-fly-app",
        },
        env_file=None,
    )
    notifier = notifier_from_settings(
        settings, transport=httpx.MockTransport(webhook), retry=RetryPolicy(max_attempts=1)
    )
    try:
        results = [
            await notify_safely(notifier, notification, logging.getLogger("test")) for notification in every_kind()
        ]
    finally:
        await notifier.aclose()

    assert all(result.sent for result in results)
    assert len(sent) == len(every_kind())
    for body in sent:
        assert "[acme-prod] " in body
        assert "ai-implement-fly-app" not in body
