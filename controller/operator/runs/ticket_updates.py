"""The ticket side of a run: the in-progress marker, its release, and the closing comment.

Linear marks a ticket with the working label (AI_WORKING_LABEL); Jira moves it to the implementing
status (JIRA_IMPLEMENTING_STATUS) and, on release, back to the status it had before the run, which
the reconciler records in the Dispatch status before it moves anything. When the pull request is
merged, Linear loses the label (its GitHub integration closes the ticket) and Jira moves to a
status of the `done` category. Every call is idempotent,
so a reconciler that died half-way simply does it again.
"""

from __future__ import annotations

from typing import Protocol

from controller.resources.dispatch import IssueRef
from controller.ticketing.jira import JiraClient
from controller.ticketing.jira.errors import JiraTransitionNotAvailable
from controller.ticketing.jira.models import JiraStatus
from controller.ticketing.linear import LinearClient


class TicketGone(LookupError):
    """The ticket no longer exists (deleted, or moved out of the token's reach)."""


class TicketCannotMove(Exception):
    """The ticket's workflow offers no way to the status wanted; a person has to move it."""


class TicketUpdater(Protocol):
    async def status_of(self, issue: IssueRef) -> str:
        """The ticket's status name now."""
        ...

    async def mark_in_progress(self, issue: IssueRef) -> None: ...

    async def release(self, issue: IssueRef, status_before: str | None) -> None:
        """Remove the in-progress marker; Jira returns to `status_before` when it is known."""
        ...

    async def reset(self, issue: IssueRef, status_before: str | None) -> None:
        """Take the marker off so that the ticket can be dispatched afresh, even when `status_before` is unknown."""
        ...

    async def comment(self, issue: IssueRef, text: str, idempotency_key: str) -> None: ...

    async def complete(self, issue: IssueRef) -> None:
        """The work landed (its pull request was merged): take the marker off and close the ticket."""
        ...


class LinearTickets:
    def __init__(self, client: LinearClient) -> None:
        self._client = client

    async def status_of(self, issue: IssueRef) -> str:
        ticket = await self._client.ticket(issue.id)
        if ticket is None:
            raise TicketGone(f"Linear issue {issue.identifier} no longer exists or is not visible to the API key")
        return ticket.state_name

    async def mark_in_progress(self, issue: IssueRef) -> None:
        ticket = await self._client.ticket(issue.id)
        if ticket is None:
            raise TicketGone(f"Linear issue {issue.identifier} no longer exists or is not visible to the API key")
        await self._client.mark_in_progress(ticket)

    async def release(self, issue: IssueRef, status_before: str | None) -> None:
        ticket = await self._client.ticket(issue.id)
        if ticket is not None:
            await self._client.clear_in_progress(ticket)

    async def reset(self, issue: IssueRef, status_before: str | None) -> None:
        await self.release(issue, status_before)

    async def comment(self, issue: IssueRef, text: str, idempotency_key: str) -> None:
        await self._client.create_comment(issue.id, text, idempotency_key=idempotency_key)

    async def complete(self, issue: IssueRef) -> None:
        """Take the working label off; Linear's own GitHub integration moves the ticket to Done on merge."""
        await self.release(issue, None)


class JiraTickets:
    def __init__(self, client: JiraClient) -> None:
        self._client = client

    async def status_of(self, issue: IssueRef) -> str:
        ticket = await self._client.ticket(issue.identifier)
        if ticket is None:
            raise TicketGone(f"Jira issue {issue.identifier} no longer exists or is not visible to the token")
        return ticket.state_name

    async def mark_in_progress(self, issue: IssueRef) -> None:
        await self._client.move_to_implementing(issue.identifier)

    async def release(self, issue: IssueRef, status_before: str | None) -> None:
        """Back to where it was, unless someone moved it on in the meantime (then theirs stands)."""
        if status_before is None or status_before.casefold() == self._client.implementing_status.casefold():
            return
        ticket = await self._client.ticket(issue.identifier)
        if ticket is None or ticket.state_name.casefold() != self._client.implementing_status.casefold():
            return
        await self._client.move_to_status(issue.identifier, status_before)

    async def reset(self, issue: IssueRef, status_before: str | None) -> None:
        """Back to where it was; when that is unknown, to a to-do status the workflow offers from Implementing."""
        implementing = self._client.implementing_status.casefold()
        if status_before is not None and status_before.casefold() != implementing:
            try:
                await self.release(issue, status_before)
                return
            except JiraTransitionNotAvailable:
                pass  # no way straight back: a to-do status is the next best place
        ticket = await self._client.ticket(issue.identifier)
        if ticket is None or ticket.state_name.casefold() != implementing:
            return
        offered = await self._client.transitions(issue.identifier)
        to_do = next((t for t in offered if t.to.category is not None and t.to.category.key == "new"), None)
        if to_do is None:
            raise TicketCannotMove(
                f"Jira offers {issue.identifier} no transition from {self._client.implementing_status} to a to-do "
                "status: move it by hand"
            )
        await self._client.move_to_status(issue.identifier, to_do.to.name)

    async def comment(self, issue: IssueRef, text: str, idempotency_key: str) -> None:
        await self._client.add_comment(issue.identifier, text, idempotency_key=idempotency_key)

    async def complete(self, issue: IssueRef) -> None:
        """Move the ticket to a status of the `done` category the workflow offers from where it is."""
        offered = await self._client.transitions(issue.identifier)
        done = next((t for t in offered if _completes(t.to)), None)
        if done is None:
            raise TicketCannotMove(
                f"Jira offers {issue.identifier} no transition to a done status from where it is: close it by hand"
            )
        await self._client.move_to_status(issue.identifier, done.to.name)


def _completes(status: JiraStatus) -> bool:
    """A `done`-category status that means the work landed, not that it was dropped ("Won't Do")."""
    if status.category is None or status.category.key != "done":
        return False
    name = status.name.casefold()
    return not any(word in name for word in ("won't", "wont", "cancel", "reject", "duplicate"))


def ticket_updaters(linear: LinearClient | None, jira: JiraClient | None) -> dict[str, TicketUpdater]:
    updaters: dict[str, TicketUpdater] = {}
    if linear is not None:
        updaters["linear"] = LinearTickets(linear)
    if jira is not None:
        updaters["jira"] = JiraTickets(jira)
    return updaters
