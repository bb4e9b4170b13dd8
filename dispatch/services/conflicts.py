"""What a service refuses, and how it says so."""


class ServiceConflict(Exception):
    """The request conflicts with the current state. `code` names the refusal (CONTRACT.md's
    409 codes, and the product's own); views, API views and consumers only translate it into
    an answer, and never decide a refusal themselves."""

    def __init__(self, code: str, detail: str):
        super().__init__(detail)
        self.code = code
        self.detail = detail


class ServiceInvalid(Exception):
    """The request is not valid input for this change (a 400 with {field: [message]}), found by
    the service because the rule holds on every path, not only on one form or serializer."""

    def __init__(self, field: str, message: str):
        super().__init__(message)
        self.field = field
        self.message = message

    @property
    def errors(self) -> dict[str, list[str]]:
        return {self.field: [self.message]}
