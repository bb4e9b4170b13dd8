"""The OpenAPI schema describes every answer: null where a timestamp may be null, the error
answers each operation may give, and a JSON 404 for an /api/ URL nothing matches. (The whole
schema is also run against a live server by schemathesis: .ci/schemathesis.)"""

import pytest
from drf_spectacular.generators import SchemaGenerator

pytestmark = pytest.mark.django_db


@pytest.fixture(scope="module")
def schema():
    return SchemaGenerator().get_schema(request=None, public=True)


@pytest.mark.parametrize(
    "component,field",
    [
        ("IncidentOut", "cancelled_at"),
        ("IncidentOut", "closed_at"),
        ("UnitOut", "status_changed_at"),
        ("UnitLocationOut", "at"),
        ("AssignmentOut", "acknowledged_at"),
        ("AssignmentOut", "cleared_at"),
        ("WebhookDeliveryOut", "delivered_at"),
    ],
)
def test_a_timestamp_that_may_be_null_is_marked_nullable(schema, component, field):
    assert schema["components"]["schemas"][component]["properties"][field].get("nullable") is True


def test_every_operation_documents_the_errors_it_may_answer(schema):
    for path, operations in schema["paths"].items():
        for method, operation in operations.items():
            codes = set(operation["responses"])
            assert {"401", "403", "429"} <= codes, (method, path, codes)
            if "{" in path:
                assert "404" in codes, (method, path)
            if method == "post":
                assert {"400", "413", "415"} <= codes, (method, path, codes)
            if any(p.get("name") == "Idempotency-Key" for p in operation.get("parameters", [])):
                assert "409" in codes, (method, path)
            assert "Retry-After" in operation["responses"]["429"]["headers"]


@pytest.mark.parametrize("path", ["/api/v1/nothing-here/", "/api/v2/incidents/", "/api/"])
def test_an_unmatched_api_url_answers_the_contracts_json_404(client, cad, path):
    for caller in (client, cad):
        response = caller.get(path)
        assert response.status_code == 404
        assert response["Content-Type"] == "application/json"
        assert response.json() == {"detail": "Not found."}


def test_an_unmatched_page_url_still_answers_the_page(client):
    response = client.get("/nothing-here/")
    assert response.status_code == 404 and response["Content-Type"].startswith("text/html")
