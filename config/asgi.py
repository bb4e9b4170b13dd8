import gc
import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
django_asgi_app = get_asgi_application()

from channels.auth import AuthMiddlewareStack  # noqa: E402
from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402
from channels.security.websocket import AllowedHostsOriginValidator  # noqa: E402

from config import spans  # noqa: E402
from config.routing import websocket_urlpatterns  # noqa: E402

application = ProtocolTypeRouter(
    {
        "http": django_asgi_app,
        "websocket": AllowedHostsOriginValidator(AuthMiddlewareStack(URLRouter(websocket_urlpatterns))),
    }
)
# Only bench/push_latency.py sets BENCH_SPANS: then each assign records where its time went.
application = spans.install(application)

# Everything loaded so far (Django, DRF, the app: about 110,000 objects) lives as long as the
# process: keep it out of the garbage collector's full passes. Each pass stops every socket
# of the process, and with 250 tablets connected they took 40-110 ms: most of the push
# benchmark's p99 (bench/push_latency.py).
gc.freeze()
