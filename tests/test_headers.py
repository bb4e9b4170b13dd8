"""The security headers: a Content-Security-Policy with no inline script, a Permissions-Policy,
no-store on everything that holds personal data, HSTS whenever TLS is in front; and no page
carries an inline script or an inline event handler."""

import re
import urllib.request
from pathlib import Path

import pytest
from django.conf import settings
from django.urls import reverse

from tests import factories

pytestmark = pytest.mark.django_db


def policy(response) -> dict[str, list[str]]:
    header = response["Content-Security-Policy"]
    return {d.split()[0]: d.split()[1:] for d in (part.strip() for part in header.split(";")) if d}


def test_pages_carry_a_csp_without_inline_script(client, personas):
    client.force_login(personas["dispatcher"])
    directives = policy(client.get(reverse("dispatch:console")))
    assert directives["script-src"] == ["'self'"]
    assert (
        "'unsafe-inline'" not in directives["style-src"] and "'unsafe-eval'" not in directives["script-src"]
    )
    assert directives["object-src"] == ["'none'"] and directives["frame-ancestors"] == ["'none'"]


def test_the_map_tile_server_is_the_one_outside_image_origin():
    from config.settings import _tile_origin

    assert _tile_origin("https://{s}.tile.example.org/{z}/{x}/{y}.png") == ["https://*.tile.example.org"]
    assert _tile_origin("") == []


@pytest.mark.parametrize(
    "role,url",
    [
        ("case_manager", "/referrals/follow-ups/"),
        ("case_manager", "/referrals/people/?q=Jane"),
        ("dispatcher", "/dispatch/"),
        ("responder", "/field/"),
        ("supervisor", "/dispatch/supervisor/data/"),
    ],
)
def test_pages_holding_personal_data_are_no_store_with_a_permissions_policy(client, personas, role, url):
    client.force_login(personas[role])
    response = client.get(url)
    assert response.status_code == 200
    assert response["Cache-Control"] == "no-store"
    assert (
        "camera=()" in response["Permissions-Policy"]
        and "geolocation=(self)" in response["Permissions-Policy"]
    )


def test_api_answers_are_no_store(cad, call_types):
    response = cad.post("/api/v1/incidents/", factories.cad_incident_body(), format="json")
    assert response.status_code == 201 and response["Cache-Control"] == "no-store"
    assert cad.get("/api/v1/incidents/")["Cache-Control"] == "no-store"
    assert cad.get("/api/v1/nothing-here/")["Cache-Control"] == "no-store"


def test_the_service_worker_keeps_its_own_cache_rule(client):
    assert client.get("/sw.js")["Cache-Control"] == "no-cache"


TEMPLATES = Path(settings.BASE_DIR) / "templates"
INLINE_SCRIPT = re.compile(r"<script(?![^>]*\bsrc=)(?![^>]*type=\"application/(?:ld\+)?json\")[^>]*>", re.I)
INLINE_HANDLER = re.compile(r"<[^>]+\son[a-z]+\s*=", re.I)


@pytest.mark.parametrize(
    "path", sorted(TEMPLATES.rglob("*.html")), ids=lambda p: str(p.relative_to(TEMPLATES))
)
def test_no_template_has_an_inline_script_or_event_handler(path):
    text = path.read_text()
    assert not INLINE_SCRIPT.search(text), INLINE_SCRIPT.search(text).group()
    assert not INLINE_HANDLER.search(text), INLINE_HANDLER.search(text).group()
    assert "style=" not in text


def hsts_from(server, proto):
    request = urllib.request.Request(f"{server.url}/signin/", headers={"X-Forwarded-Proto": proto})
    with urllib.request.urlopen(request, timeout=10) as answer:
        return answer.headers.get("Strict-Transport-Security")


def test_hsts_is_on_when_tls_is_in_front(daphne_factory):
    server = daphne_factory(BEHIND_TLS_PROXY="1")
    assert hsts_from(server, "https") == "max-age=31536000"
    assert hsts_from(server, "http") is None  # only over TLS


def test_hsts_is_off_without_tls_in_front(daphne_factory):
    assert hsts_from(daphne_factory(), "https") is None
