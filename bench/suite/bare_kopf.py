"""The bare kopf operator case 4 measures ours against: a create handler that writes one status field.

Run by the bench as `python -m kopf run --standalone --namespace NS bare_kopf.py`, with kopf's
defaults otherwise (its progress and diff-base annotations, its Events).
"""

from typing import Any

import kopf


@kopf.on.create("bench.ai-implement.dev", "v1", "benchitems")
async def created(patch: kopf.Patch, **_: Any) -> None:
    patch.status["seen"] = True
