import pytest

from dispatch.models import Unit
from tests import factories


@pytest.fixture
def team(personas, call_types):
    """A responder, the unit CR-1 (off duty until someone starts a shift) and a CAD's key."""
    unit = factories.UnitFactory(callsign="CR-1", status=Unit.Status.OFF_DUTY)
    _client, key = factories.api_client("cad-live", "cad")
    return {"responder": personas["responder"], "unit": unit, "cad_key": key}
