import os

import pytest
from django.conf import settings
from rest_framework.test import APIClient

from tests import factories

REQUIRE_SERVICES = os.environ.get("REQUIRE_SERVICES") == "1"


def skip_or_fail(reason: str):
    """Without a service a test skips, unless CI said REQUIRE_SERVICES=1: then it fails."""
    if REQUIRE_SERVICES:
        pytest.fail(f"REQUIRE_SERVICES=1 but {reason}")
    pytest.skip(reason)


@pytest.fixture
def require_postgres():
    if not settings.USING_POSTGRES:
        skip_or_fail("DATABASE_URL does not point at PostgreSQL")


@pytest.fixture
def require_redis():
    if not settings.REDIS_URL:
        skip_or_fail("REDIS_URL is not set")


@pytest.fixture(autouse=True)
def _test_settings(settings):
    settings.EVENT_CATCHUP_SECONDS = 0.5
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture
def call_types(db):
    """A small catalogue: eligible WELFARE and TRESPASS, ineligible ASSAULT."""
    return {
        "WELFARE": factories.CallTypeFactory(code="WELFARE", eligible=True),
        "TRESPASS": factories.CallTypeFactory(code="TRESPASS", eligible=True),
        "ASSAULT": factories.CallTypeFactory(code="ASSAULT", eligible=False),
    }


@pytest.fixture
def personas(db):
    """One user per role, and one with no role."""
    return {
        "responder": factories.UserFactory(username="resp", roles=["responder"]),
        "dispatcher": factories.UserFactory(username="disp", roles=["dispatcher"]),
        "police_officer": factories.UserFactory(username="cop", roles=["police_officer"]),
        "case_manager": factories.UserFactory(username="cm", roles=["case_manager"]),
        "supervisor": factories.UserFactory(username="sup", roles=["supervisor"]),
        "nobody": factories.UserFactory(username="nobody", roles=[]),
    }


@pytest.fixture
def cad(db):
    """An API client with role cad, authenticated."""
    client_obj, key = factories.api_client("cad-1", "cad")
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    api.api_client = client_obj
    return api


@pytest.fixture
def cad2(db):
    client_obj, key = factories.api_client("cad-2", "cad")
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    api.api_client = client_obj
    return api


@pytest.fixture
def police_api(db):
    client_obj, key = factories.api_client("rms-1", "police")
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    return api
