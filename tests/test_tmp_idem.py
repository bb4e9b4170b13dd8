import uuid
from tests.test_incidents_api import post, body
def test_x(cad, call_types):
    a = body(); b = body()
    print("BODIES", a == b, {k: (a[k], b[k]) for k in a if a[k] != b[k]})
