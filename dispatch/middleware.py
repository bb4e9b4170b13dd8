from datetime import UTC

from django.conf import settings
from django.http import JsonResponse
from django.utils import timezone


class ApiBodyLimitMiddleware:
    """For /api/: refuse bodies over 64 KiB with 413 before anything reads them, and answer in UTC."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if not request.path.startswith("/api/"):
            return self.get_response(request)
        try:
            length = int(request.META.get("CONTENT_LENGTH") or 0)
        except ValueError:
            return JsonResponse(
                {"code": "bad_content_length", "detail": "Content-Length is not a number."}, status=400
            )
        if length > settings.API_MAX_BODY_BYTES:
            return JsonResponse(
                {"code": "too_large", "detail": f"Request body is over {settings.API_MAX_BODY_BYTES} bytes."},
                status=413,
            )
        with timezone.override(UTC):
            return self.get_response(request)


class PrivacyHeadersMiddleware:
    """Every answer the app renders (pages, fragments, API answers; static files are served
    before this by WhiteNoise) is `Cache-Control: no-store` unless its view chose otherwise:
    they hold names, addresses and narratives, and a shared computer's browser cache or a
    proxy must not keep them. And the Permissions-Policy of settings.PERMISSIONS_POLICY."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        if "Cache-Control" not in response:
            response["Cache-Control"] = "no-store"
        if settings.PERMISSIONS_POLICY:
            response.setdefault("Permissions-Policy", settings.PERMISSIONS_POLICY)
        return response
