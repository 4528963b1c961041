"""Uninstalling, as docs/deployment.md says to: why the resources go before the operator does.

A RunnerSession carries the operator's finalizer until the operator has destroyed its machine
(tests/operator/test_run_endings.py shows that side, with the operator running). Without an operator
the deletion waits for ever; the documented way out, for a machine already gone, lifts the finalizer.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from controller import constants
from controller.kube import RUNNER_SESSIONS, KubeClient, NotFoundError

pytestmark = pytest.mark.controlplane

SAMPLE = Path(__file__).parents[2] / "manifests" / "samples" / "runnersession.yaml"


async def test_without_an_operator_a_session_waits_until_its_finalizer_is_lifted(
    kube: KubeClient, namespace: str
) -> None:
    session = yaml.safe_load(SAMPLE.read_text())
    session["metadata"] |= {"namespace": namespace, "finalizers": [constants.FINALIZER]}
    name = session["metadata"]["name"]
    await kube.create(RUNNER_SESSIONS, namespace, session)

    await kube.delete(RUNNER_SESSIONS, namespace, name)
    waiting = await kube.get(RUNNER_SESSIONS, namespace, name)
    assert waiting["metadata"]["deletionTimestamp"]
    assert waiting["metadata"]["finalizers"] == [constants.FINALIZER]

    # kubectl -n NAMESPACE patch runnersession NAME --type merge -p '{"metadata":{"finalizers":null}}'
    await kube.merge_patch(RUNNER_SESSIONS, namespace, name, {"metadata": {"finalizers": None}})
    with pytest.raises(NotFoundError):
        await kube.get(RUNNER_SESSIONS, namespace, name)


def test_the_documented_command_is_the_one_tested() -> None:
    documented = (Path(__file__).parents[2] / "docs" / "deployment.md").read_text()
    assert """--type merge -p '{"metadata":{"finalizers":null}}'""" in documented
    assert constants.FINALIZER in documented
