"""`python -m controller.devcluster`: a local control plane with the CRDs, until Ctrl-C."""

from __future__ import annotations

import signal
import sys
import threading

from kubernetes import config

from controller.devcluster import ControlPlane, ControlPlaneError, install_crds, locate_binaries


def main() -> int:
    """Start, print how to reach it, and stop cleanly on SIGINT or SIGTERM."""
    stopped = threading.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: stopped.set())
    try:
        with ControlPlane(locate_binaries()) as plane:
            install_crds(config.new_client_from_config(config_file=str(plane.kubeconfig_path)))
            print(f"kube-apiserver ready at {plane.server_url} with the ai-implement CRDs installed")
            print(f"export KUBECONFIG={plane.kubeconfig_path}")
            print("Ctrl-C stops it and removes its data.", flush=True)
            stopped.wait()
    except ControlPlaneError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
