"""Starting and stopping etcd and kube-apiserver on loopback, with a kubeconfig for clients.

The same code backs the pytest fixture, `make control-plane` and `ai-implement dev`, so what
the tests exercise is what a newcomer runs.
"""

from __future__ import annotations

import base64
import contextlib
import secrets
import shutil
import signal
import socket
import ssl
import subprocess
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from types import TracebackType
from typing import IO, Self

import httpx
import yaml

from controller.devcluster.binaries import ControlPlaneBinaries
from controller.devcluster.errors import ControlPlaneError
from controller.devcluster.pki import service_account_keys, serving_certificates

LOOPBACK = "127.0.0.1"
ADMIN_USER = "ai-implement-admin"


def free_port() -> int:
    """A loopback port nobody listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind((LOOPBACK, 0))
        port: int = probe.getsockname()[1]
        return port


class ControlPlane:
    """etcd and kube-apiserver as child processes in one temporary directory.

    Use as a context manager: everything is stopped and removed on exit, also after errors.
    """

    def __init__(
        self,
        binaries: ControlPlaneBinaries,
        *,
        work_dir: Path | None = None,
        start_timeout: float = 90.0,
    ) -> None:
        self._binaries = binaries
        self._owns_work_dir = work_dir is None
        self.work_dir = work_dir or Path(tempfile.mkdtemp(prefix="ai-implement-control-plane-"))
        self._start_timeout = start_timeout
        self._processes: list[subprocess.Popen[bytes]] = []
        self._logs: list[IO[bytes]] = []
        self._token = secrets.token_urlsafe(32)
        self.api_port = 0
        self.etcd_port = 0

    @property
    def server_url(self) -> str:
        return f"https://{LOOPBACK}:{self.api_port}"

    @property
    def kubeconfig_path(self) -> Path:
        return self.work_dir / "kubeconfig"

    @property
    def ca_path(self) -> Path:
        return self.work_dir / "pki" / "ca.crt"

    def __enter__(self) -> Self:
        try:
            self.start()
        except BaseException:
            self.stop()
            raise
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    def start(self) -> None:
        """Start etcd, then the API server, and return once the API server is ready."""
        pki = self.work_dir / "pki"
        pki.mkdir(parents=True, exist_ok=True)
        self._write_credentials(pki)
        self._start_etcd()
        self._wait_until(self._etcd_healthy, "etcd", self._processes[-1], "etcd.log")
        self._start_api_server(pki)
        self._wait_until(self._api_server_ready, "kube-apiserver", self._processes[-1], "kube-apiserver.log")
        self._write_kubeconfig()

    def stop(self) -> None:
        """Stop the API server before etcd (it hangs on shutdown without its store), then clean up."""
        for process in reversed(self._processes):
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        self._processes.clear()
        for log in self._logs:
            log.close()
        self._logs.clear()
        if self._owns_work_dir:
            shutil.rmtree(self.work_dir, ignore_errors=True)

    def _write_credentials(self, pki: Path) -> None:
        ca, server = serving_certificates()
        sa = service_account_keys()
        files = {
            "ca.crt": ca.public,
            "ca.key": ca.private,
            "apiserver.crt": server.public,
            "apiserver.key": server.private,
            "sa.pub": sa.public,
            "sa.key": sa.private,
        }
        for name, content in files.items():
            (pki / name).write_bytes(content)
            (pki / name).chmod(0o600)
        tokens = pki / "tokens.csv"
        tokens.write_text(f'{self._token},{ADMIN_USER},{ADMIN_USER},"system:masters"\n')
        tokens.chmod(0o600)

    def _spawn(self, args: list[str], log_name: str) -> None:
        log = (self.work_dir / log_name).open("wb")
        self._logs.append(log)
        process = subprocess.Popen(  # noqa: S603 - fixed binaries and arguments
            args, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )
        self._processes.append(process)

    def _start_etcd(self) -> None:
        self.etcd_port = free_port()
        peer_port = free_port()
        client_url = f"http://{LOOPBACK}:{self.etcd_port}"
        peer_url = f"http://{LOOPBACK}:{peer_port}"
        self._spawn(
            [
                str(self._binaries.etcd),
                "--name=default",
                f"--data-dir={self.work_dir / 'etcd'}",
                f"--listen-client-urls={client_url}",
                f"--advertise-client-urls={client_url}",
                f"--listen-peer-urls={peer_url}",
                f"--initial-advertise-peer-urls={peer_url}",
                f"--initial-cluster=default={peer_url}",
                "--unsafe-no-fsync=true",
                "--log-level=warn",
            ],
            "etcd.log",
        )

    def _start_api_server(self, pki: Path) -> None:
        self.api_port = free_port()
        self._spawn(
            [
                str(self._binaries.kube_apiserver),
                f"--etcd-servers=http://{LOOPBACK}:{self.etcd_port}",
                f"--bind-address={LOOPBACK}",
                f"--advertise-address={LOOPBACK}",
                f"--secure-port={self.api_port}",
                f"--cert-dir={self.work_dir / 'certs'}",
                f"--tls-cert-file={pki / 'apiserver.crt'}",
                f"--tls-private-key-file={pki / 'apiserver.key'}",
                f"--token-auth-file={pki / 'tokens.csv'}",
                "--authorization-mode=RBAC",
                "--service-account-issuer=https://kubernetes.default.svc.cluster.local",
                f"--service-account-key-file={pki / 'sa.pub'}",
                f"--service-account-signing-key-file={pki / 'sa.key'}",
                "--service-cluster-ip-range=10.96.0.0/24",
                "--allow-privileged=true",
                "--enable-priority-and-fairness=false",
                "--disable-admission-plugins=ServiceAccount",
                "--v=1",
            ],
            "kube-apiserver.log",
        )

    def _etcd_healthy(self) -> bool:
        response = httpx.get(f"http://{LOOPBACK}:{self.etcd_port}/health", timeout=2)
        return response.status_code == 200

    def _api_server_ready(self) -> bool:
        response = httpx.get(
            f"{self.server_url}/readyz",
            headers={"Authorization": f"Bearer {self._token}"},
            verify=ssl.create_default_context(cafile=str(self.ca_path)),
            timeout=2,
        )
        return response.status_code == 200

    def _wait_until(
        self, ready: Callable[[], bool], name: str, process: subprocess.Popen[bytes], log_name: str
    ) -> None:
        deadline = time.monotonic() + self._start_timeout
        while time.monotonic() < deadline:
            if process.poll() is not None:
                raise ControlPlaneError(f"{name} exited with {process.returncode}:\n{self._log_tail(log_name)}")
            with contextlib.suppress(httpx.HTTPError):
                if ready():
                    return
            time.sleep(0.2)
        raise ControlPlaneError(f"{name} was not ready after {self._start_timeout:.0f}s:\n{self._log_tail(log_name)}")

    def _log_tail(self, log_name: str) -> str:
        path = self.work_dir / log_name
        return path.read_text(errors="replace")[-4000:] if path.exists() else ""

    def _write_kubeconfig(self) -> None:
        ca_data = base64.b64encode(self.ca_path.read_bytes()).decode()
        config = {
            "apiVersion": "v1",
            "kind": "Config",
            "clusters": [
                {
                    "name": "ai-implement-dev",
                    "cluster": {"server": self.server_url, "certificate-authority-data": ca_data},
                }
            ],
            "users": [{"name": ADMIN_USER, "user": {"token": self._token}}],
            "contexts": [
                {
                    "name": "ai-implement-dev",
                    "context": {"cluster": "ai-implement-dev", "user": ADMIN_USER, "namespace": "default"},
                }
            ],
            "current-context": "ai-implement-dev",
        }
        self.kubeconfig_path.write_text(yaml.safe_dump(config, sort_keys=False))
        self.kubeconfig_path.chmod(0o600)
