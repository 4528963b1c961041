"""The last read of each target repository's default branch (GET /api/admin/template-status, GET /api/models).

Only the operator's leader reads the repositories (and a sync through the API, which reads one
anyway); the API answers from these rows, so that no admin page waits on GitHub. One row per
repository and branch, however many mappings name it: each mapping's template state is decided
from the row and its own rendering when it is asked for.
"""

from collections.abc import Iterable, Sequence
from typing import Any

from sqlalchemy import RowMapping, delete, select

from controller.store.base import StoreBase
from controller.store.records import CheckedFile, RepositoryCheck
from controller.store.tables import RepositoryCheckRow
from controller.store.timestamps import as_utc
from controller.store.vocabulary import JsonValue

_KEY = ("owner", "repo", "branch")


class RepositoryChecks(StoreBase):
    """Record a repository's check, list them all, and forget those of repositories no mapping names."""

    async def record_repository_check(self, check: RepositoryCheck) -> bool:
        """Keep `check` as the repository's last one, unless a later check is stored already; whether it was.

        The leader's pass and a sync through the API may read the same repository at once: the one
        that read last wins, whichever writes last.
        """
        values = _row_values(check)
        upsert = self._insert(RepositoryCheckRow).values(**values)
        statement = upsert.on_conflict_do_update(
            index_elements=list(_KEY),
            set_={column: upsert.excluded[column] for column in values if column not in _KEY},
            where=RepositoryCheckRow.checked_at <= upsert.excluded.checked_at,
        )
        async with self._transaction() as session:
            return await self._rows_affected(session, statement) == 1

    async def repository_checks(self) -> Sequence[RepositoryCheck]:
        """Every stored check, by owner, repository and branch.

        Read as plain rows rather than ORM objects: the admin listings read all of them per request.
        """
        table = RepositoryCheckRow.__table__
        query = select(table).order_by(table.c.owner, table.c.repo, table.c.branch)
        async with self._transaction() as session:
            result = await session.execute(query)
            return [_check(row._mapping) for row in result]

    async def forget_repository_checks(self, keys: Iterable[tuple[str, str, str]]) -> int:
        """Drop the checks of these (owner, repo, branch): repositories no mapping names any more."""
        forgotten = 0
        async with self._transaction() as session:
            for owner, repo, branch in keys:
                statement = delete(RepositoryCheckRow).where(
                    RepositoryCheckRow.owner == owner,
                    RepositoryCheckRow.repo == repo,
                    RepositoryCheckRow.branch == branch,
                )
                forgotten += await self._rows_affected(session, statement)
        return forgotten


def _row_values(check: RepositoryCheck) -> dict[str, Any]:
    return {
        "owner": check.owner,
        "repo": check.repo,
        "branch": check.branch,
        "checked_at": as_utc(check.checked_at),
        "files": {path: _file_json(found) for path, found in check.files.items()},
        "implementation_model": check.implementation_model,
        "implementation_model_reason": check.implementation_model_reason,
        "planning_model": check.planning_model,
        "planning_model_reason": check.planning_model_reason,
        "error": check.error,
    }


def _file_json(found: CheckedFile | None) -> JsonValue:
    if found is None:
        return None
    return {"sha256": found.sha256, "templateVersion": found.template_version}


def _file_of(stored: JsonValue) -> CheckedFile | None:
    if not isinstance(stored, dict):
        return None
    version = stored.get("templateVersion")
    return CheckedFile(sha256=str(stored["sha256"]), template_version=version if type(version) is int else None)


def _check(row: RowMapping) -> RepositoryCheck:
    return RepositoryCheck(
        owner=row["owner"],
        repo=row["repo"],
        branch=row["branch"],
        checked_at=row["checked_at"],
        files={path: _file_of(stored) for path, stored in row["files"].items()},
        implementation_model=row["implementation_model"],
        implementation_model_reason=row["implementation_model_reason"],
        planning_model=row["planning_model"],
        planning_model_reason=row["planning_model_reason"],
        error=row["error"],
    )
