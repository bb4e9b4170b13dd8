from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView

from dispatch import account_views
from dispatch import views as dispatch_views
from field import views as field_views

urlpatterns = [
    path("", dispatch_views.home, name="home"),
    path("healthz", dispatch_views.healthz, name="healthz"),
    # The tablet PWA's worker must be served from the root for its scope to cover the site.
    path("sw.js", field_views.service_worker, name="service_worker"),
    path("manifest.webmanifest", field_views.manifest, name="manifest"),
    path("signin/", account_views.SignInView.as_view(), name="login"),
    path("signin/code/", account_views.signin_code, name="signin_code"),
    path("account/second-factor/", account_views.second_factor, name="second_factor"),
    path("signout/", auth_views.LogoutView.as_view(), name="logout"),
    path("dispatch/", include("dispatch.urls")),
    path("dispatch/supervisor/data/", include("dispatch.reports.urls")),
    path("field/", include("field.urls")),
    path("referrals/", include("referrals.urls")),
    path("api/v1/", include("dispatch.api_urls")),
    path("api/v1/", include("referrals.api_urls")),
    path("api/schema/", SpectacularAPIView.as_view(), name="schema"),
    # The split view serves Swagger UI's setup script as a file: the CSP allows no inline script.
    path(
        "api/docs/",
        SpectacularSwaggerSplitView.as_view(url_name="schema", template_name="api_docs.html"),
        name="api-docs",
    ),
    path("admin/", admin.site.urls),
]

handler404 = "dispatch.views.not_found"
handler500 = "dispatch.views.server_error"
