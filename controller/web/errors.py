"""One error shape for every 4xx and 5xx, and the one place where exceptions become HTTP answers."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web
from pydantic import BaseModel, Field, ValidationError

from controller.kube import InvalidError, KubeApiError, KubeUnavailableError, NotFoundError

logger = logging.getLogger("controller.web")

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
_KEPT_HEADERS = frozenset({"Allow", "Retry-After"})


class ErrorDetail(BaseModel):
    """One specific thing wrong with a request, e.g. a field that failed validation."""

    field: str | None = Field(default=None, description="Dotted path of the offending field, when there is one.")
    message: str = Field(description="What is wrong with it.")


class ErrorInfo(BaseModel):
    code: str = Field(description="A stable, machine-readable word, e.g. validation_failed or unauthorized.")
    message: str = Field(description="What went wrong, for people.")
    details: list[ErrorDetail] = Field(default_factory=list, description="Per-field problems, when known.")


class ErrorBody(BaseModel):
    """The body of every error response."""

    error: ErrorInfo


class ApiError(Exception):
    """An HTTP error with the project's error body; raise it from any handler."""

    def __init__(
        self,
        status: int,
        code: str,
        message: str,
        *,
        details: list[ErrorDetail] | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.details = details or []
        self.headers = headers or {}

    def to_response(self) -> web.Response:
        body = ErrorBody(error=ErrorInfo(code=self.code, message=self.message, details=self.details))
        return web.json_response(body.model_dump(mode="json"), status=self.status, headers=self.headers)


def not_found(message: str) -> ApiError:
    return ApiError(404, "not_found", message)


def validation_failed(error: ValidationError, *, prefix: str = "") -> ApiError:
    """A pydantic error as a 422 naming each field, without echoing the submitted values."""
    details = [
        ErrorDetail(
            field=prefix + ".".join(str(part) for part in issue["loc"]) or None,
            message=issue["msg"].removeprefix("Value error, "),
        )
        for issue in error.errors(include_url=False, include_input=False)
    ]
    summary = "; ".join(f"{d.field}: {d.message}" if d.field else d.message for d in details)
    return ApiError(422, "validation_failed", f"the request is invalid: {summary}", details=details)


def from_kube_error(error: KubeApiError) -> ApiError:
    """The API server's verdict relayed as is: its message is the most precise one there is."""
    if isinstance(error, InvalidError):
        details = [ErrorDetail(field=cause.field or None, message=cause.message) for cause in error.causes]
        return ApiError(422, "rejected_by_api_server", error.message, details=details)
    if isinstance(error, NotFoundError):
        return ApiError(404, "not_found", error.message)
    if isinstance(error, KubeUnavailableError):
        return ApiError(
            503,
            "kubernetes_unavailable",
            f"the Kubernetes API is unavailable: {error.message}",
            headers={"Retry-After": "5"},
        )
    return ApiError(502, "kubernetes_error", f"the Kubernetes API answered {error.status_code}: {error.message}")


@web.middleware
async def error_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Turn every failure into the error body; nothing else in the app builds error responses."""
    try:
        return await handler(request)
    except ApiError as error:
        return error.to_response()
    except KubeApiError as error:
        return from_kube_error(error).to_response()
    except web.HTTPException as error:
        if error.status < 400:
            raise
        code = error.reason.lower().replace(" ", "_")
        kept = {name: value for name, value in error.headers.items() if name in _KEPT_HEADERS}
        return ApiError(error.status, code, error.reason, headers=kept).to_response()
    except Exception:
        logger.exception("unhandled error", extra={"route": _route_of(request), "method": request.method})
        return ApiError(500, "internal_error", "the server failed to handle the request").to_response()


def _route_of(request: web.Request) -> str:
    info: Any = request.match_info.route.resource
    return str(info.canonical) if info is not None else request.path
