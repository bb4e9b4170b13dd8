"""What every API endpoint shares: strict JSON parsing, the error shapes of CONTRACT.md,
and Idempotency-Key replay."""

import hashlib
import json
import logging
from datetime import timedelta

from django.conf import settings
from django.db import IntegrityError, transaction
from django.http import Http404
from django.utils import timezone
from rest_framework import exceptions, status
from rest_framework.parsers import JSONParser
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler

from dispatch import jsonbounds
from dispatch.models import IdempotentRequest
from dispatch.services import ServiceConflict, ServiceInvalid

log = logging.getLogger(__name__)


class NotJSON(exceptions.UnsupportedMediaType):
    def __init__(self, detail):
        exceptions.APIException.__init__(self, detail=detail, code="not_json")


class StrictJSONParser(JSONParser):
    """A body that does not parse as JSON is answered 415, as CONTRACT.md says, not 400.
    JSON nested too deep is valid JSON the API refuses: 400 with the reason."""

    def parse(self, stream, media_type=None, parser_context=None):
        parser_context = parser_context or {}
        encoding = parser_context.get("encoding", settings.DEFAULT_CHARSET)
        try:
            text = (stream.read() if stream is not None else b"").decode(encoding)
            return jsonbounds.loads(text)
        except jsonbounds.JSONTooDeep as exc:
            raise exceptions.ValidationError({"non_field_errors": [str(exc)]}, code="too_deep") from exc
        except ValueError as exc:  # UnicodeDecodeError and JSONDecodeError are ValueErrors
            raise NotJSON(f"The body is not valid JSON: {exc}") from exc


def exception_handler(exc, context):
    if isinstance(exc, ServiceConflict):
        return Response({"code": exc.code, "detail": exc.detail}, status=status.HTTP_409_CONFLICT)
    if isinstance(exc, ServiceInvalid):
        return Response(exc.errors, status=status.HTTP_400_BAD_REQUEST)
    if isinstance(exc, Http404):
        exc = exceptions.NotFound()
    response = drf_exception_handler(exc, context)
    if response is None:
        return None
    if isinstance(exc, exceptions.NotAuthenticated | exceptions.AuthenticationFailed):
        # DRF answers 403 when no authenticate header is offered; the contract says 401.
        response.status_code = status.HTTP_401_UNAUTHORIZED
        response["WWW-Authenticate"] = 'Token realm="api"'
    if isinstance(exc, exceptions.UnsupportedMediaType) and isinstance(response.data, dict):
        response.data.setdefault("code", "not_json")
    return response


def _request_hash(request) -> str:
    body = json.dumps(request.data, sort_keys=True, default=str)
    return hashlib.sha256(f"{request.method} {request.path}\n{body}".encode()).hexdigest()


def idempotent(scope: str):
    """Wrap a write: with an Idempotency-Key, the first answer is stored in the same
    transaction as the change and replayed to later requests with the same key from the same
    caller. Reusing a key for a different request is a 409, never a silent second write."""

    def decorator(handler):
        def wrapped(view, request, *args, **kwargs):
            key = request.headers.get("Idempotency-Key", "").strip()
            if not key:
                return handler(view, request, *args, **kwargs)
            if len(key) > 100:
                raise exceptions.ValidationError({"Idempotency-Key": ["At most 100 characters."]})
            request_hash = _request_hash(request)
            stored = _stored_answer(request.user, key)
            if stored is not None:
                return _replay(stored, scope, request_hash)
            try:
                with transaction.atomic():
                    response = handler(view, request, *args, **kwargs)
                    if 200 <= response.status_code < 300:
                        IdempotentRequest.objects.create(
                            user=request.user,
                            key=key,
                            scope=scope,
                            request_hash=request_hash,
                            status_code=response.status_code,
                            body=json.loads(json.dumps(response.data, default=str)),
                        )
                    return response
            except IntegrityError:
                # The same key raced in from a second connection and won; answer as it did.
                stored = _stored_answer(request.user, key)
                if stored is None:
                    raise
                return _replay(stored, scope, request_hash)

        return wrapped

    return decorator


def _stored_answer(user, key):
    cutoff = timezone.now() - timedelta(hours=settings.IDEMPOTENCY_TTL_HOURS)
    # A key past its 24 hours is forgotten, so the caller may use it again.
    IdempotentRequest.objects.filter(user=user, key=key, created_at__lt=cutoff).delete()
    return IdempotentRequest.objects.filter(user=user, key=key).first()


def _replay(stored: IdempotentRequest, scope: str, request_hash: str) -> Response:
    if stored.scope != scope or stored.request_hash != request_hash:
        raise ServiceConflict(
            "idempotency_key_reused",
            "This Idempotency-Key was already used for a different request.",
        )
    response = Response(stored.body, status=stored.status_code)
    response["Idempotent-Replayed"] = "true"
    return response
