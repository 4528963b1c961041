"""The GitHub sandbox's repository routes: the repository, files, branches, pull requests and comments.

Files follow the contents API (EXTERNAL_APIS.md §3.5): base64 in 60-character lines, the blob sha
a later `PUT` must name (409 when stale, 422 when missing), one commit per write, and 403 for a
path under `.github/workflows/` without the Workflows permission. Branches are refs: 422
"Reference already exists", and a move must be a fast-forward unless forced. Pull requests
(§3.4) list without `merged`, answer it one at a time, refuse a second open one for a head
("A pull request already exists for owner:branch.") and one without commits; a `head` filter
without its owner is ignored, as GitHub does [3P]. Comments are issue comments on pull requests.
"""

from __future__ import annotations

import base64
import binascii
from typing import Any, Final

from aiohttp import web

from controller.sandbox.base import Rejection, read_json
from controller.sandbox.github.api import (
    DOCS_URL,
    GitHubApi,
    integer,
    json_object,
    required_text,
)
from controller.sandbox.github.state import (
    WORKFLOWS_DIRECTORY,
    CommentState,
    PullRequestState,
    RepoState,
    TokenState,
    commit_json,
    directory_entries,
    entry_json,
    file_json,
    git_sha,
    ref_json,
)
from controller.sandbox.github.workflows import created_matcher

REPO_PATH: Final = "/repos/{owner}/{repo}"


class RepositoryRoutes(GitHubApi):
    """The routes under `/repos/{owner}/{repo}` other than Actions."""

    def _add_repository_routes(self, router: web.UrlDispatcher) -> None:
        repo = REPO_PATH
        router.add_get(repo, self._get_repo)
        router.add_get(f"{repo}/contents/{{path:.+}}", self._get_contents)
        router.add_put(f"{repo}/contents/{{path:.+}}", self._put_contents)
        router.add_get(f"{repo}/git/ref/heads/{{branch:.+}}", self._get_ref)
        router.add_post(f"{repo}/git/refs", self._create_ref)
        router.add_patch(f"{repo}/git/refs/heads/{{branch:.+}}", self._update_ref)
        router.add_get(f"{repo}/pulls", self._list_pulls)
        router.add_post(f"{repo}/pulls", self._create_pull)
        router.add_get(f"{repo}/pulls/{{number:\\d+}}", self._get_pull)
        router.add_get(f"{repo}/pulls/{{number:\\d+}}/reviews", self._list_reviews)
        router.add_get(f"{repo}/issues/{{number:\\d+}}/comments", self._list_comments)
        router.add_get(f"{repo}/issues/comments/{{comment_id:\\d+}}", self._get_comment)
        router.add_post(f"{repo}/issues/{{number:\\d+}}/comments", self._create_comment)

    async def _get_repo(self, request: web.Request) -> web.Response:
        repo, _ = self._visible_repo(request, "metadata")
        return web.json_response(repo.as_json(self._api_url()))

    async def _get_contents(self, request: web.Request) -> web.Response:
        repo, _ = self._visible_repo(request, "contents")
        ref = request.query.get("ref")
        commit = repo.resolve(ref)
        if commit is None:
            raise Rejection(404, f"No commit found for the ref {ref}")
        path = request.match_info["path"].strip("/")
        ref_name = ref or repo.default_branch
        data = repo.file(commit, path)
        if data is not None:
            return web.json_response(file_json(repo, path, commit.tree[path], data, self._api_url(), ref=ref_name))
        entries = directory_entries(commit, path)
        if not entries:
            raise Rejection(404, "Not Found")
        listing = []
        for entry, kind in entries:
            entry_path = f"{path}/{entry}"
            sha = commit.tree.get(entry_path) or git_sha("tree", entry_path.encode())
            size = len(repo.blobs[sha]) if kind == "file" else 0
            listing.append(entry_json(repo, entry_path, sha, size, self._api_url(), ref=ref_name, kind=kind))
        return web.json_response(listing)

    async def _put_contents(self, request: web.Request) -> web.Response:
        repo, token = self._visible_repo(request, "contents", write=True)
        path = request.match_info["path"].strip("/")
        if path.startswith(WORKFLOWS_DIRECTORY) and not token.allows("workflows", write=True):
            raise Rejection(
                403,
                f"refusing to allow a GitHub App to create or update workflow `{path}` without `workflows` permission",
            )
        body = json_object(read_json(await request.read()))
        message, data = required_text(body, "message"), _base64(required_text(body, "content"))
        branch = body.get("branch") or repo.default_branch
        head = repo.branch_head(str(branch))
        if head is None:
            raise Rejection(404, f"Branch {branch} not found")
        existing = head.tree.get(path)
        if existing is not None and body.get("sha") is None:
            raise Rejection(422, 'Invalid request.\n\n"sha" wasn\'t supplied.')
        if existing is not None and body.get("sha") != existing:
            raise Rejection(409, f"{path} does not match {body.get('sha')}")
        author = self._committer(body.get("committer"), token)
        commit = repo.commit(str(branch), {path: data}, message=message, author=author, now=self.clock())
        content = entry_json(repo, path, commit.tree[path], len(data), self._api_url(), ref=str(branch))
        answer = {"content": content, "commit": commit_json(repo, commit, self._api_url())}
        return web.json_response(answer, status=200 if existing is not None else 201)

    def _committer(self, given: Any, token: TokenState) -> dict[str, str]:
        if given is None:
            login = token.installation.app.bot_login
            return {"name": login, "email": f"{login}@users.noreply.github.com"}
        if not isinstance(given, dict) or not given.get("name") or not given.get("email"):
            raise Rejection(422, 'Invalid request.\n\n"name" and "email" are required for "committer".')
        return {"name": str(given["name"]), "email": str(given["email"])}

    async def _get_ref(self, request: web.Request) -> web.Response:
        repo, _ = self._visible_repo(request, "contents")
        ref = f"refs/heads/{request.match_info['branch']}"
        if ref not in repo.refs:
            raise Rejection(404, "Not Found")
        return web.json_response(ref_json(repo, ref, repo.refs[ref], self._api_url()))

    async def _create_ref(self, request: web.Request) -> web.Response:
        repo, _ = self._visible_repo(request, "contents", write=True)
        body = json_object(read_json(await request.read()))
        ref, sha = required_text(body, "ref"), required_text(body, "sha")
        if not ref.startswith("refs/") or ref.count("/") < 2:
            raise Rejection(422, f"{ref} is not a valid ref name.")
        if sha not in repo.commits:
            raise Rejection(422, "Object does not exist")
        if ref in repo.refs:
            raise Rejection(422, "Reference already exists")
        repo.refs[ref] = sha
        return web.json_response(ref_json(repo, ref, sha, self._api_url()), status=201)

    async def _update_ref(self, request: web.Request) -> web.Response:
        repo, _ = self._visible_repo(request, "contents", write=True)
        ref = f"refs/heads/{request.match_info['branch']}"
        body = json_object(read_json(await request.read()))
        sha = required_text(body, "sha")
        if ref not in repo.refs:
            raise Rejection(422, "Reference does not exist")
        if sha not in repo.commits:
            raise Rejection(422, "Object does not exist")
        if not body.get("force") and not repo.is_ancestor(repo.refs[ref], sha):
            raise Rejection(422, "Update is not a fast forward")
        repo.refs[ref] = sha
        return web.json_response(ref_json(repo, ref, sha, self._api_url()))

    async def _list_pulls(self, request: web.Request) -> web.Response:
        repo, _ = self._visible_repo(request, "pull_requests")
        query = request.query
        state = query.get("state", "open")
        if state not in ("open", "closed", "all"):
            raise Rejection(422, "Validation Failed", body=_validation_failed("PullRequest", "state", "invalid"))
        pulls = [pull for pull in repo.pulls.values() if state == "all" or pull.state == state]
        head = query.get("head", "")
        if ":" in head:  # GitHub ignores a head without its owner [3P]
            head_owner, _, head_branch = head.partition(":")
            owner_matches = head_owner.lower() == repo.owner.lower()
            pulls = [pull for pull in pulls if owner_matches and pull.head == head_branch]
        if "base" in query:
            pulls = [pull for pull in pulls if pull.base == query["base"]]
        pulls.sort(key=lambda pull: -pull.number)
        page, headers = self._page(request, repo, pulls)
        return web.json_response([pull.as_json(repo, self._api_url(), full=False) for pull in page], headers=headers)

    async def _get_pull(self, request: web.Request) -> web.Response:
        repo, _ = self._visible_repo(request, "pull_requests")
        pull = repo.pulls.get(integer(request.match_info["number"]))
        if pull is None:
            raise Rejection(404, "Not Found")
        return web.json_response(pull.as_json(repo, self._api_url(), full=True))

    async def _create_pull(self, request: web.Request) -> web.Response:
        repo, token = self._visible_repo(request, "pull_requests", write=True)
        body = json_object(read_json(await request.read()))
        for name in ("title", "head", "base"):
            if not isinstance(body.get(name), str) or not body[name]:
                raise Rejection(422, "Validation Failed", body=_validation_failed("PullRequest", name, "missing_field"))
        head_owner, _, head = str(body["head"]).rpartition(":")
        base = str(body["base"])
        if (head_owner and head_owner.lower() != repo.owner.lower()) or repo.branch_head(head) is None:
            raise Rejection(422, "Validation Failed", body=_validation_failed("PullRequest", "head", "invalid"))
        if repo.branch_head(base) is None:
            raise Rejection(422, "Validation Failed", body=_validation_failed("PullRequest", "base", "invalid"))
        if any(p.state == "open" and p.head == head and p.base == base for p in repo.pulls.values()):
            raise Rejection(
                422,
                "Validation Failed",
                body=_custom_failure(f"A pull request already exists for {repo.owner}:{head}."),
            )
        head_sha, base_sha = repo.refs[f"refs/heads/{head}"], repo.refs[f"refs/heads/{base}"]
        if repo.is_ancestor(head_sha, base_sha):
            raise Rejection(422, "Validation Failed", body=_custom_failure(f"No commits between {base} and {head}"))
        pull = self._new_pull(
            repo,
            title=str(body["title"]),
            body=body.get("body") if isinstance(body.get("body"), str) else None,
            head=head,
            base=base,
            user=token.installation.app.bot_json(),
            draft=bool(body.get("draft", False)),
        )
        return web.json_response(pull.as_json(repo, self._api_url(), full=True), status=201)

    def _new_pull(
        self,
        repo: RepoState,
        *,
        title: str,
        body: str | None,
        head: str,
        base: str,
        user: dict[str, Any],
        draft: bool = False,
    ) -> PullRequestState:
        now = self.clock()
        pull = PullRequestState(
            number=repo.next_number,
            title=title,
            body=body,
            head=head,
            base=base,
            user=user,
            created_at=now,
            updated_at=now,
            draft=draft,
        )
        repo.next_number += 1
        repo.pulls[pull.number] = pull
        self._pull_request_event(repo, pull, "opened", sender=user)
        return pull

    def _pull_request_event(
        self, repo: RepoState, pull: PullRequestState, action: str, *, sender: dict[str, Any]
    ) -> None:
        pull_json = pull.as_json(repo, self._api_url(), full=True)
        self._emit(repo, "pull_request", {"action": action, "number": pull.number, "pull_request": pull_json}, sender)

    def _new_comment(
        self, repo: RepoState, number: int, text: str, *, user: dict[str, Any], author_association: str = "NONE"
    ) -> CommentState:
        """A comment on the pull request's conversation, its `issue_comment` webhook and the workflows it runs."""
        now = self.clock()
        comment = CommentState(
            id=next(self._ids["comment"]),
            number=number,
            body=text,
            user=user,
            created_at=now,
            updated_at=now,
            author_association=author_association,
        )
        repo.comments.setdefault(number, []).append(comment)
        payload = {
            "action": "created",
            "issue": repo.pulls[number].issue_json(repo, self._api_url()),
            "comment": comment.as_json(repo, self._api_url()),
        }
        self._emit(repo, "issue_comment", payload, user)
        self._comment_created(repo, payload, user)
        return comment

    def _comment_created(self, repo: RepoState, payload: dict[str, Any], sender: dict[str, Any]) -> None:
        """Where Actions workflows on `issue_comment` start; the Actions part of the sandbox runs them."""

    async def _list_comments(self, request: web.Request) -> web.Response:
        repo, _ = self._visible_repo(request, "issues", also="pull_requests")
        number = self._existing_number(repo, request)
        comments = repo.comments.get(number, [])
        if "since" in request.query:
            since = created_matcher(">=" + request.query["since"])
            comments = [comment for comment in comments if since(comment.updated_at)]
        page, headers = self._page(request, repo, comments)
        return web.json_response([comment.as_json(repo, self._api_url()) for comment in page], headers=headers)

    async def _get_comment(self, request: web.Request) -> web.Response:
        """One comment of the repository by its id, whichever issue or pull request it is on."""
        repo, _ = self._visible_repo(request, "issues", also="pull_requests")
        wanted = integer(request.match_info["comment_id"])
        for comments in repo.comments.values():
            for comment in comments:
                if comment.id == wanted:
                    return web.json_response(comment.as_json(repo, self._api_url()))
        raise Rejection(404, "Not Found")

    async def _create_comment(self, request: web.Request) -> web.Response:
        repo, token = self._visible_repo(request, "issues", also="pull_requests", write=True)
        number = self._existing_number(repo, request)
        body = json_object(read_json(await request.read()))
        comment = self._new_comment(repo, number, required_text(body, "body"), user=token.installation.app.bot_json())
        return web.json_response(comment.as_json(repo, self._api_url()), status=201)

    async def _list_reviews(self, request: web.Request) -> web.Response:
        """Reviews with their state in upper case, as REST answers (webhooks lower it)."""
        repo, _ = self._visible_repo(request, "pull_requests")
        reviews = repo.reviews.get(self._existing_number(repo, request), [])
        page, headers = self._page(request, repo, reviews)
        return web.json_response([review.as_json(repo, self._api_url()) for review in page], headers=headers)

    def _existing_number(self, repo: RepoState, request: web.Request) -> int:
        number = integer(request.match_info["number"])
        if number not in repo.pulls:
            raise Rejection(404, "Not Found")
        return number


def _base64(text: str) -> bytes:
    try:
        return base64.b64decode(text.replace("\n", ""), validate=True)
    except (binascii.Error, ValueError):
        raise Rejection(422, "content is not valid Base64") from None


def _validation_failed(resource: str, field: str, code: str) -> dict[str, Any]:
    return {
        "message": "Validation Failed",
        "errors": [{"resource": resource, "field": field, "code": code}],
        "documentation_url": DOCS_URL,
        "status": "422",
    }


def _custom_failure(message: str) -> dict[str, Any]:
    return {
        "message": "Validation Failed",
        "errors": [{"resource": "PullRequest", "code": "custom", "message": message}],
        "documentation_url": DOCS_URL,
        "status": "422",
    }
