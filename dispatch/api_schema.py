"""The answers every endpoint may give besides its own, added to the OpenAPI schema
(drf-spectacular's postprocessing hook), so the schema describes every answer the API sends
(CONTRACT.md "Conventions"): the schemathesis step of .ci/run holds the two equal."""

ERROR = {
    "type": "object",
    "properties": {"detail": {"type": "string"}, "code": {"type": "string"}},
    "required": ["detail"],
}
CODED_ERROR = {
    "type": "object",
    "properties": {"code": {"type": "string"}, "detail": {"type": "string"}},
    "required": ["code", "detail"],
}
# DRF's shape: each field names its messages, a nested object nests them the same way.
VALIDATION_ERRORS = {"type": "object", "additionalProperties": {}}

WRITES = {"post", "put", "patch"}


def _answer(description: str, schema_name: str, headers: dict | None = None) -> dict:
    answer = {
        "description": description,
        "content": {"application/json": {"schema": {"$ref": f"#/components/schemas/{schema_name}"}}},
    }
    if headers:
        answer["headers"] = headers
    return answer


def _idempotent(operation: dict) -> bool:
    return any(
        p.get("in") == "header" and p.get("name") == "Idempotency-Key"
        for p in operation.get("parameters", [])
    )


def add_error_answers(result, generator, request, public):
    schemas = result.setdefault("components", {}).setdefault("schemas", {})
    schemas.setdefault("Error", ERROR)
    schemas.setdefault("CodedError", CODED_ERROR)
    schemas.setdefault("ValidationErrors", VALIDATION_ERRORS)
    for path, operations in result.get("paths", {}).items():
        for method, operation in operations.items():
            if method not in WRITES | {"get", "delete"}:
                continue
            answers = operation.setdefault("responses", {})
            answers.setdefault("401", _answer("No or bad credentials", "Error"))
            answers.setdefault("403", _answer("The caller's role may not do this", "Error"))
            answers.setdefault(
                "429",
                _answer(
                    "Too many requests from this caller",
                    "Error",
                    {"Retry-After": {"schema": {"type": "integer"}, "description": "Seconds to wait."}},
                ),
            )
            if "{" in path:
                answers.setdefault("404", _answer("Not found, or not visible to the caller", "Error"))
            if method in WRITES:
                answers.setdefault("400", _answer("Invalid input: {field: [messages]}", "ValidationErrors"))
                answers["400"].setdefault(
                    "content",
                    {"application/json": {"schema": {"$ref": "#/components/schemas/ValidationErrors"}}},
                )
                answers.setdefault("413", _answer("The body is over 64 KiB", "CodedError"))
                answers.setdefault("415", _answer("The body is not JSON", "Error"))
                if _idempotent(operation):
                    answers.setdefault(
                        "409", _answer("The Idempotency-Key was used for a different request", "CodedError")
                    )
            elif operation.get("parameters") and any(p.get("in") == "query" for p in operation["parameters"]):
                answers.setdefault(
                    "400", _answer("Invalid query: {parameter: [messages]}", "ValidationErrors")
                )
    return result
