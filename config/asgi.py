import gc
import os
from concurrent.futures import ThreadPoolExecutor

import django
from asgiref.sync import ThreadSensitiveContext, sync_to_async
from django.core.handlers.asgi import ASGIHandler
from django.db import connections

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
django.setup(set_prefix=False)


class OneHopASGIHandler(ASGIHandler):
    """Django's ASGI handler, with the middleware chain and the view run in one visit to the
    request's thread.

    Django's own builds an async chain under ASGI, and our middleware is synchronous
    (WhiteNoise only so; Django's through MiddlewareMixin, which in an async chain crosses to
    the thread for each process_request and process_response; a view's process_view too): an
    API request crossed between the event loop and its thread about twenty times, each a
    wait for the loop's turn, the larger part of an assign's answer with hundreds of tablets
    on the loop (bench/push_latency.py). Here the chain is Django's synchronous one, entered
    once; an async view (healthz) runs through async_to_sync, in that thread, as under WSGI.
    The request's thread is the same one as before (asgiref's ThreadSensitiveContext, one
    per request), so its database connection is too.
    """

    # Idle request threads kept for the next requests; more than this at once are let go.
    KEEP_THREADS = 16

    def __init__(self):
        super().__init__()
        self._idle: list[ThreadPoolExecutor] = []

    def load_middleware(self, is_async=False):
        super().load_middleware(is_async=False)
        self._middleware_chain = sync_to_async(self._middleware_chain, thread_sensitive=True)

    async def __call__(self, scope, receive, send):
        """As Django's, but a request's thread is one kept from an earlier request, not a new
        thread each time (asgiref's ThreadSensitiveContext() makes one per request): with it
        the thread's database connection is kept too, as CONN_MAX_AGE or the pool says, as a
        WSGI server's threads keep theirs. Each request still has a thread to itself."""
        if scope["type"] != "http":
            return await super().__call__(scope, receive, send)
        thread = self._idle.pop() if self._idle else ThreadPoolExecutor(1, thread_name_prefix="request")
        try:
            async with ThreadSensitiveContext(executor=thread):
                await self.handle(scope, receive, send)
        finally:
            if len(self._idle) < self.KEEP_THREADS:
                self._idle.append(thread)
            else:
                thread.submit(connections.close_all)
                thread.shutdown(wait=False)


django_asgi_app = OneHopASGIHandler()

from channels.auth import AuthMiddlewareStack  # noqa: E402
from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402
from channels.security.websocket import AllowedHostsOriginValidator  # noqa: E402
from django.conf import settings  # noqa: E402

from config import collector, spans  # noqa: E402
from config.routing import websocket_urlpatterns  # noqa: E402
from dispatch.bodylimit import BodyLimit, install_daphne_body_limit  # noqa: E402
from dispatch.socket_errors import SocketErrorClose  # noqa: E402

install_daphne_body_limit()

application = ProtocolTypeRouter(
    {
        "http": BodyLimit(django_asgi_app),
        "websocket": SocketErrorClose(
            AllowedHostsOriginValidator(AuthMiddlewareStack(URLRouter(websocket_urlpatterns)))
        ),
    }
)
# Only bench/push_latency.py sets BENCH_SPANS: then each assign records where its time went.
application = spans.install(application)
# The collector's full passes once a minute, not whenever Python's rule says (config/collector.py).
application = collector.install(application, settings.GC_FULL_PASS_SECONDS)

# Everything loaded so far (Django, DRF, the app: about 110,000 objects) lives as long as the
# process: keep it out of the garbage collector's full passes. Each pass stops every socket
# of the process, and with 250 tablets connected they took 40-110 ms: most of the push
# benchmark's p99 (bench/push_latency.py).
gc.freeze()
