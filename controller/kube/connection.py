"""Where the API server is and how to prove who we are.

Credentials come from the `kubernetes` package, which already understands every kubeconfig
variant (tokens, client certificates, CA data, exec plugins) and the in-cluster service account;
this module turns what it loaded into what an aiohttp session needs: a URL, an SSL context and an
Authorization header that is re-read per request, so that rotated and refreshed tokens are used.
"""

from __future__ import annotations

import os
import ssl
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

import yaml
from kubernetes.client import Configuration
from kubernetes.config import ConfigException, load_kube_config
from kubernetes.config.incluster_config import (
    SERVICE_CERT_FILENAME,
    SERVICE_HOST_ENV_NAME,
    SERVICE_TOKEN_FILENAME,
    InClusterConfigLoader,
)

from controller.kube.errors import KubeConfigError

KUBECONFIG_ENV: Final = "KUBECONFIG"
DEFAULT_KUBECONFIG: Final = Path(".kube") / "config"
"""Relative to the home directory, as kubectl has it."""

_AUTHORIZATION_KEY: Final = "BearerToken"
"""Where the `kubernetes` package keeps the Authorization header value, whatever its scheme."""


@dataclass(frozen=True)
class KubeConnection:
    """Everything needed to reach one API server; `source` says where it came from, for logs."""

    server: str
    """Base URL, e.g. https://10.96.0.1:443; may carry a path prefix when a proxy fronts the API."""
    ssl_context: ssl.SSLContext | None = None
    """Trusts the cluster's CA and holds the client certificate; None for a plain-HTTP server."""
    bearer_token: str | None = field(default=None, repr=False)
    """A fixed token, for connections described by hand."""
    insecure: bool = False
    """The server's certificate is not verified (kubeconfig `insecure-skip-tls-verify`)."""
    tls_server_name: str | None = None
    """The name to expect on the server's certificate when it differs from the URL's host."""
    source: str = "explicit"
    authorization_source: Callable[[], str | None] | None = field(default=None, repr=False, compare=False)
    """Gives the current Authorization header; set when the `kubernetes` package loaded the credentials."""

    def authorization_header(self) -> str | None:
        """The header for the next request, asked for each time because exec and in-cluster tokens expire."""
        if self.authorization_source is not None:
            return self.authorization_source()
        return f"Bearer {self.bearer_token}" if self.bearer_token else None


def connection_to(
    server: str,
    *,
    ca_file: str | Path | None = None,
    ca_data: str | None = None,
    client_cert_file: str | Path | None = None,
    client_key_file: str | Path | None = None,
    bearer_token: str | None = None,
    insecure: bool = False,
    tls_server_name: str | None = None,
) -> KubeConnection:
    """A connection described by hand, for tests and for tools that get credentials elsewhere."""
    uses_tls = server.startswith("https://")
    context = (
        ssl_context_for(
            ca_file=ca_file,
            ca_data=ca_data,
            client_cert_file=client_cert_file,
            client_key_file=client_key_file,
            insecure=insecure,
        )
        if uses_tls
        else None
    )
    return KubeConnection(
        server=server.rstrip("/"),
        ssl_context=context,
        bearer_token=bearer_token,
        insecure=insecure,
        tls_server_name=tls_server_name,
    )


def ssl_context_for(
    *,
    ca_file: str | Path | None = None,
    ca_data: str | None = None,
    client_cert_file: str | Path | None = None,
    client_key_file: str | Path | None = None,
    insecure: bool = False,
) -> ssl.SSLContext:
    """Trust the cluster's CA (the system's when none is given) and present a client certificate if any."""
    if (client_cert_file is None) != (client_key_file is None):
        raise KubeConfigError(
            "a client certificate needs both a certificate and a key file, "
            f"got certificate={client_cert_file!s} and key={client_key_file!s}"
        )
    try:
        context = ssl.create_default_context(cafile=str(ca_file) if ca_file is not None else None, cadata=ca_data)
        if insecure:
            context.check_hostname = False
            context.verify_mode = ssl.CERT_NONE
        if client_cert_file is not None and client_key_file is not None:
            context.load_cert_chain(str(client_cert_file), str(client_key_file))
    except (OSError, ssl.SSLError, ValueError) as error:
        raise KubeConfigError(
            f"cannot build the TLS context from CA file {ca_file!s} and "
            f"client certificate {client_cert_file!s}: {error}"
        ) from error
    return context


def connection_from_kubeconfig(path: str | Path | None, context: str | None = None) -> KubeConnection:
    """Load a kubeconfig (None: ~/.kube/config; a `:`-separated list is merged as kubectl does)."""
    paths = str(path) if path is not None else str(Path.home() / DEFAULT_KUBECONFIG)
    if not any(Path(part).expanduser().is_file() for part in paths.split(os.pathsep) if part):
        raise KubeConfigError(f"kubeconfig {paths} does not exist")
    configuration = Configuration()
    try:
        load_kube_config(config_file=paths, context=context, client_configuration=configuration, persist_config=False)
    except (ConfigException, OSError, ValueError, yaml.YAMLError) as error:
        chosen = f" (context {context})" if context else ""
        reason = " ".join(str(error).split())
        raise KubeConfigError(f"kubeconfig {paths}{chosen} is not usable: {reason}") from error
    source = f"kubeconfig {paths}" + (f" (context {context})" if context else "")
    return _connection_from_configuration(configuration, source)


def connection_in_cluster(
    environ: Mapping[str, str] | None = None,
    *,
    token_file: str | Path = SERVICE_TOKEN_FILENAME,
    ca_file: str | Path = SERVICE_CERT_FILENAME,
) -> KubeConnection:
    """Use the pod's service account: KUBERNETES_SERVICE_HOST/PORT, its token file and CA bundle."""
    configuration = Configuration()
    loader = InClusterConfigLoader(
        token_filename=str(token_file),
        cert_filename=str(ca_file),
        environ=os.environ if environ is None else environ,
    )
    try:
        loader.load_and_set(configuration)
    except (ConfigException, OSError) as error:
        raise KubeConfigError(
            f"in-cluster credentials are not usable (token {token_file}, CA {ca_file}): {error}"
        ) from error
    return _connection_from_configuration(configuration, "in-cluster service account")


def load_connection(
    kubeconfig: str | Path | None = None,
    *,
    context: str | None = None,
    environ: Mapping[str, str] | None = None,
) -> KubeConnection:
    """Choose credentials as client-go does: the file given, KUBECONFIG, in-cluster, then ~/.kube/config."""
    env = os.environ if environ is None else environ
    if kubeconfig is not None:
        return connection_from_kubeconfig(kubeconfig, context)
    if env.get(KUBECONFIG_ENV):
        return _connection_from_kubeconfig_variable(env[KUBECONFIG_ENV], context)
    if env.get(SERVICE_HOST_ENV_NAME):
        return connection_in_cluster(env)
    home = Path(env["HOME"]) if env.get("HOME") else Path.home()
    default = home / DEFAULT_KUBECONFIG
    if default.is_file():
        return connection_from_kubeconfig(default, context)
    raise KubeConfigError(
        "no Kubernetes API server configured; tried: no kubeconfig path was given, "
        f"{KUBECONFIG_ENV} is unset, {SERVICE_HOST_ENV_NAME} is unset (not in a pod), "
        f"and {default} does not exist. Pass a kubeconfig path or set {KUBECONFIG_ENV}."
    )


def _connection_from_kubeconfig_variable(paths: str, context: str | None) -> KubeConnection:
    """KUBECONFIG's files, with errors that name the variable, since that is what the user has to fix."""
    parts = [part for part in paths.split(os.pathsep) if part]
    if not any(Path(part).expanduser().is_file() for part in parts):
        missing = "does not exist" if len(parts) == 1 else "none of which exists"
        raise KubeConfigError(
            f"{KUBECONFIG_ENV}={paths} names {'a file that' if len(parts) == 1 else 'files'} "
            f"{missing}: point {KUBECONFIG_ENV} at your cluster's kubeconfig, or unset it to use the "
            "pod's service account or ~/.kube/config"
        )
    try:
        return connection_from_kubeconfig(paths, context)
    except KubeConfigError as error:
        raise KubeConfigError(f"{KUBECONFIG_ENV}={paths}: {error}") from error


def _connection_from_configuration(configuration: Any, source: str) -> KubeConnection:
    server = str(configuration.host).rstrip("/")
    insecure = not configuration.verify_ssl
    context = (
        ssl_context_for(
            ca_file=configuration.ssl_ca_cert,
            client_cert_file=configuration.cert_file,
            client_key_file=configuration.key_file,
            insecure=insecure,
        )
        if server.startswith("https://")
        else None
    )

    def current_authorization() -> str | None:
        header = configuration.get_api_key_with_prefix(_AUTHORIZATION_KEY)
        return str(header) if header else None

    return KubeConnection(
        server=server,
        ssl_context=context,
        insecure=insecure,
        tls_server_name=configuration.tls_server_name,
        source=source,
        authorization_source=current_authorization if current_authorization() else None,
    )
