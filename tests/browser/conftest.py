"""The admin UI in a real browser: Playwright driving Debian's Chromium against `ai-implement dev`.

One `ai-implement dev` (its own control plane, SQLite, sandboxes, the real runner) serves each
module; each test gets a fresh browser context. The network is closed, so Chromium starts with its
background networking off. Every page a test opens is watched: a console error, a failed request or
a CSP violation fails the test (`Watched.assert_clean`).
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Browser, ConsoleMessage, Page, Playwright, Request, sync_playwright

from controller.devcluster.controlplane import free_port

ADMIN_CODE = "browser-tests-access-code"
START_WITHIN_SECONDS = 120
CHROMIUM_ARGS = (
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-default-apps",
    "--disable-sync",
    "--no-first-run",
    "--no-sandbox",  # the tests may run as root, where Chromium's sandbox refuses to start
)


@dataclass(frozen=True)
class DevStack:
    base: str
    log: Path


def _chromium() -> str:
    found = shutil.which("chromium") or shutil.which("chromium-browser")
    if found is None:
        pytest.fail("Chromium is not installed: `make install` installs Debian's chromium package")
    return found


@pytest.fixture(scope="module")
def dev_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DevStack]:
    """Per module, so that it does not keep working (and taking CPU) through the rest of the suite."""
    work = tmp_path_factory.mktemp("dev")
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    environment = {**os.environ, "ADMIN_ACCESS_CODE": ADMIN_CODE, "PORT": str(port)}
    environment.pop("KUBECONFIG", None)
    log = work / "dev.log"
    with log.open("wb") as output:
        process = subprocess.Popen(
            [sys.executable, "-m", "controller.cli", "dev", "--work-dir", str(work / "work")],
            stdout=output,
            stderr=subprocess.STDOUT,
            env=environment,
        )
        try:
            _wait_until_serving(base, process, log)
            yield DevStack(base=base, log=log)
        finally:
            process.send_signal(signal.SIGINT)
            try:
                process.wait(timeout=60)
            except subprocess.TimeoutExpired:
                process.kill()


def _wait_until_serving(base: str, process: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + START_WITHIN_SECONDS
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail("ai-implement dev exited: " + log.read_text()[-3000:])
        try:
            if httpx.post(f"{base}/api/auth", json={"code": ADMIN_CODE}, timeout=2).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.5)
    pytest.fail("ai-implement dev did not serve in time: " + log.read_text()[-3000:])


@pytest.fixture(scope="module")
def playwright() -> Iterator[Playwright]:
    """Per module: Playwright's sync API runs an event loop while it lives, and the asyncio tests that
    follow in the same pytest process need none to be running."""
    with sync_playwright() as driver:
        yield driver


@pytest.fixture(scope="module")
def browser(playwright: Playwright) -> Iterator[Browser]:
    browser = playwright.chromium.launch(executable_path=_chromium(), args=list(CHROMIUM_ARGS))
    yield browser
    browser.close()


@dataclass
class Watched:
    """What went wrong on a page while a test used it."""

    page: Page
    base: str
    problems: list[str] = field(default_factory=list)

    def assert_clean(self) -> None:
        assert self.problems == [], "\n".join(self.problems)

    def sign_in(self, code: str = ADMIN_CODE) -> None:
        self.page.goto(f"{self.base}/admin")
        self.page.get_by_label("Access code").fill(code)
        self.page.get_by_role("button", name="Sign in").click()
        self.page.wait_for_load_state()


@pytest.fixture
def ui(browser: Browser, dev_stack: DevStack) -> Iterator[Watched]:
    context = browser.new_context(base_url=dev_stack.base, viewport={"width": 1400, "height": 1000})
    page = context.new_page()
    watched = Watched(page=page, base=dev_stack.base)

    def console(message: ConsoleMessage) -> None:
        if message.type == "error" or "Content Security Policy" in message.text:
            watched.problems.append(f"console {message.type}: {message.text}")

    def failed(request: Request) -> None:
        if request.failure == "net::ERR_ABORTED":  # the page moved on before it arrived: not a failure
            return
        watched.problems.append(f"request failed: {request.method} {request.url} ({request.failure})")

    page.on("console", console)
    page.on("requestfailed", failed)
    page.on("pageerror", lambda error: watched.problems.append(f"page error: {error}"))
    yield watched
    context.close()
