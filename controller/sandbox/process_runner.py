"""The real runner program, started for every run the backend sandboxes start: the platform's part.

Where `SandboxRunner` plays a run's callbacks, this starts `python -m controller.runner` as a
subprocess, as GitHub Actions, a Fly Machine or a Docker container would start `ai-implement-runner`,
with what that platform gives it:

- GitHub Actions: the workflow inputs, with the `environment` input exported as variables (as the
  synced workflow does), and `ACTIONS_ID_TOKEN_REQUEST_URL` / `_TOKEN` served here, minting the
  sandbox's OIDC token for the run;
- Fly Machines: the machine's environment, and the Machines API socket (`/.fly/api`, here a socket
  per run named by `AI_IMPLEMENT_FLY_API_SOCKET`) minting the machine's OIDC token;
- Docker: the container's environment (its callback tokens included).

The coding agent is `agent_command` (the fake agent by default: the one double, at the process
border). When the backend ends the run (a cancelled workflow run, a stopped or destroyed machine, a
stopped or removed container), the process gets SIGTERM, as it would there; when the process exits,
the backend's run ends with its exit code.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import secrets
import shlex
import signal
import sys
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

from aiohttp import web

from controller.sandbox.runs import StartedRun

logger = logging.getLogger("controller.sandbox.process_runner")

FAKE_AGENT: Final = (sys.executable, "-m", "controller.sandbox.fake_agent")
WATCH_SECONDS: Final = 0.2
OUTPUT_TAIL_CHARS: Final = 20_000
KEPT_VARIABLES: Final = ("PATH", "LANG", "LC_ALL", "PYTHONPATH", "VIRTUAL_ENV", "TMPDIR")


@dataclass
class RunnerProcess:
    """One runner program started for one run, for assertions."""

    started: StartedRun
    workdir: Path
    environment: dict[str, str]
    pid: int | None = None
    exit_code: int | None = None
    output: str = ""
    terminated: bool = False
    """Whether the backend stopped it (SIGTERM) before it ended by itself."""
    finished: asyncio.Event = field(default_factory=asyncio.Event)


class ProcessRunner:
    def __init__(
        self,
        *,
        github: Any = None,
        fly: Any = None,
        docker: Any = None,
        agent_command: Sequence[str] = FAKE_AGENT,
        workroot: Path | None = None,
        environment: Mapping[str, str] | None = None,
    ) -> None:
        self.github = github
        self.fly = fly
        self.docker = docker
        self.agent_command = tuple(agent_command)
        self.workroot = workroot or Path(tempfile.mkdtemp(prefix="ai-implement-runs-"))
        self.environment = dict(environment or {})
        """Added to every run's environment (AI_IMPLEMENT_CUSTOM_DIR, AI_IMPLEMENT_STOP_GRACE_SECONDS …)."""
        self.ticket_environment: dict[str, dict[str, str]] = {}
        """Per ticket identifier: added to its runs' environment (the fake agent's FAKE_AGENT_ENDING …)."""
        self.processes: list[RunnerProcess] = []
        self._tasks: set[asyncio.Task[None]] = set()
        self._identity_tokens: dict[str, StartedRun] = {}
        self._site: web.AppRunner | None = None
        self._sockets: dict[str, web.AppRunner] = {}
        """Each Fly run's Machines API socket, by run id, while its process lives."""
        self._identity_url: str | None = None

    async def on_run_started(self, started: StartedRun) -> None:
        """The hook the backend sandboxes call."""
        task = asyncio.create_task(self._run(started), name=f"runner {started.dispatch_name}")
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def processes_of(self, dispatch_name: str) -> list[RunnerProcess]:
        return [process for process in self.processes if process.started.dispatch_name == dispatch_name]

    async def aclose(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        for socket in self._sockets.values():
            await socket.cleanup()
        if self._site is not None:
            await self._site.cleanup()

    async def _run(self, started: StartedRun) -> None:
        workdir = self.workroot / f"{started.dispatch_name}-{started.backend}-{started.run_id}"[:200]
        workdir.mkdir(parents=True, exist_ok=True)
        try:
            environment = await self._environment(started, workdir)
        except Exception as error:  # a launch the platform could not give an environment ends its run
            logger.warning("could not prepare the run of %s: %s", started.dispatch_name, error)
            self._end_backend_run(started, 1)
            return
        process = RunnerProcess(started, workdir, environment)
        self.processes.append(process)
        try:
            await self._supervise(process)
        finally:
            process.finished.set()
            self._end_backend_run(started, process.exit_code if process.exit_code is not None else 1)
            socket = self._sockets.pop(started.run_id, None)
            if socket is not None:
                await socket.cleanup()

    async def _supervise(self, run: RunnerProcess) -> None:
        child = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "controller.runner",
            cwd=run.workdir,
            env=run.environment,
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT,
            start_new_session=True,
        )
        run.pid = child.pid
        reader = asyncio.ensure_future(_read_all(child.stdout))
        try:
            while child.returncode is None:
                if not run.terminated and self._backend_ended(run.started):
                    run.terminated = True
                    with contextlib.suppress(ProcessLookupError):
                        child.send_signal(signal.SIGTERM)
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(child.wait(), WATCH_SECONDS)
        except asyncio.CancelledError:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(child.pid, signal.SIGKILL)
            await child.wait()
            raise
        finally:
            run.output = (await reader)[-OUTPUT_TAIL_CHARS:]
        run.exit_code = child.returncode
        logger.info("runner of %s exited %s", run.started.dispatch_name, run.exit_code)

    async def _environment(self, started: StartedRun, workdir: Path) -> dict[str, str]:
        base = {name: os.environ[name] for name in KEPT_VARIABLES if name in os.environ}
        given = dict(started.environment)
        if started.backend == "github-actions":
            exported = json.loads(given.get("environment") or "{}")
            if not isinstance(exported, dict):
                raise ValueError("the workflow's `environment` input is not a JSON object")
            given = {**exported, "AI_IMPLEMENT_DISPATCH": given.get("dispatch", started.dispatch_name)}
            given |= await self._actions_identity(started)
        elif started.backend == "fly-machines":
            given["AI_IMPLEMENT_FLY_API_SOCKET"] = await self._fly_socket(started)
        ticket = given.get("AI_IMPLEMENT_ISSUE", "")
        return {
            **base,
            **given,
            "HOME": str(workdir),
            "GIT_CONFIG_NOSYSTEM": "1",
            "GIT_CONFIG_GLOBAL": os.devnull,
            "AI_IMPLEMENT_WORKDIR": str(workdir / "checkout"),
            "AI_IMPLEMENT_AGENT_COMMAND": shlex.join(self.agent_command),
            **self.environment,
            **self.ticket_environment.get(ticket, {}),
        }

    async def _actions_identity(self, started: StartedRun) -> dict[str, str]:
        """What GitHub gives a job with `id-token: write`: a URL and a bearer token to ask for its OIDC token."""
        if started.identity_token is None:
            return {}
        request_token = secrets.token_urlsafe(24)
        self._identity_tokens[request_token] = started
        base = await self._identity_server()
        return {
            "ACTIONS_ID_TOKEN_REQUEST_URL": f"{base}/token?api-version=2.0",
            "ACTIONS_ID_TOKEN_REQUEST_TOKEN": request_token,
        }

    async def _identity_server(self) -> str:
        if self._identity_url is None:
            app = web.Application()
            app.router.add_get("/token", self._actions_token)
            self._site = web.AppRunner(app, access_log=None)
            await self._site.setup()
            site = web.TCPSite(self._site, "127.0.0.1", 0)
            await site.start()
            port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
            self._identity_url = f"http://127.0.0.1:{port}"
        return self._identity_url

    async def _actions_token(self, request: web.Request) -> web.Response:
        scheme, _, token = request.headers.get("Authorization", "").partition(" ")
        started = self._identity_tokens.get(token) if scheme.lower() == "bearer" else None
        audience = request.query.get("audience")
        if started is None or started.identity_token is None:
            return web.json_response({"message": "Bad credentials"}, status=401)
        if not audience:
            return web.json_response({"message": "audience is required here"}, status=400)
        return web.json_response({"value": started.identity_token(audience)})

    async def _fly_socket(self, started: StartedRun) -> str:
        """The machine's `/.fly/api`: POST /v1/tokens/oidc {"aud": …} answers the machine's token as text."""
        path = Path(tempfile.mkdtemp(prefix="fly-", dir="/tmp")) / "api.sock"  # short: socket paths are limited

        async def oidc(request: web.Request) -> web.Response:
            body = await request.json()
            audience = body.get("aud") if isinstance(body, dict) else None
            if started.identity_token is None or not isinstance(audience, str) or not audience:
                return web.Response(status=400, text="aud is required")
            return web.Response(text=started.identity_token(audience))

        app = web.Application()
        app.router.add_post("/v1/tokens/oidc", oidc)
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        await web.UnixSite(runner, str(path)).start()
        self._sockets[started.run_id] = runner  # closed when the run's process ends
        return str(path)

    def _backend_ended(self, started: StartedRun) -> bool:
        """Whether the platform ended the run: a run cancelled, a machine stopped or destroyed, a container gone."""
        try:
            if started.backend == "github-actions" and self.github is not None:
                return bool(self.github.run(int(started.run_id)).status == "completed")
            if started.backend == "fly-machines" and self.fly is not None:
                return self.fly.machine(started.run_id).state not in ("starting", "started")
            if started.backend == "local" and self.docker is not None:
                return not self.docker.container(started.run_id).running
        except (LookupError, ValueError):  # removed altogether
            return True
        return False

    def _end_backend_run(self, started: StartedRun, exit_code: int) -> None:
        with contextlib.suppress(Exception):  # the backend may have ended it already (a stop, a destroy)
            if started.backend == "github-actions" and self.github is not None:
                run = self.github.run(int(started.run_id))
                if run.status != "completed":
                    self.github.complete_run(int(started.run_id), "success" if exit_code == 0 else "failure")
            elif started.backend == "fly-machines" and self.fly is not None:
                self.fly.exit_machine(started.run_id, exit_code)
            elif (
                started.backend == "local" and self.docker is not None and self.docker.container(started.run_id).running
            ):
                self.docker.exit_container(started.run_id, exit_code)


async def _read_all(stream: asyncio.StreamReader | None) -> str:
    if stream is None:
        return ""
    data = await stream.read()
    return data.decode(errors="replace")
