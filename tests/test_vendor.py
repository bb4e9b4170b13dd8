"""The vendored browser libraries: the release the Makefile pins for each is committed under
static/vendor/NAME-VERSION/ with its licence, where the app and the browser tests look for it,
and nothing more of it than a page loads."""

import re
import shutil
from pathlib import Path

from django.conf import settings
from django.contrib.staticfiles import finders
from django.contrib.staticfiles.storage import ManifestStaticFilesStorage

BASE_DIR = Path(settings.BASE_DIR)
VENDOR = BASE_DIR / "static" / "vendor"


def pinned(variable: str) -> str:
    """The version `make vendor` fetches, from its one variable in the Makefile."""
    match = re.search(rf"^{variable} := (\S+)$", (BASE_DIR / "Makefile").read_text(), re.MULTILINE)
    assert match, f"the Makefile pins no {variable}"
    return match[1]


LEAFLET = f"leaflet-{pinned('LEAFLET_VERSION')}"
AXE_CORE = f"axe-core-{pinned('AXE_CORE_VERSION')}"
SHIPPED = {
    LEAFLET: {
        "LICENSE",
        "leaflet.js",
        "leaflet.css",
        "images/layers.png",
        "images/layers-2x.png",
        "images/marker-icon.png",
        "images/marker-icon-2x.png",
        "images/marker-shadow.png",
    },
    AXE_CORE: {"LICENSE", "LICENSE-3RD-PARTY.txt", "axe.min.js"},
}


def files_under(folder: Path) -> set[str]:
    return {path.relative_to(folder).as_posix() for path in folder.rglob("*") if path.is_file()}


def test_the_vendor_folder_holds_the_pinned_release_of_each_library_and_only_the_files_pages_load():
    assert {folder.name for folder in VENDOR.iterdir()} == set(SHIPPED)
    for folder, files in SHIPPED.items():
        assert files_under(VENDOR / folder) == files, folder
    total = sum(path.stat().st_size for path in VENDOR.rglob("*") if path.is_file())
    assert total < 1024 * 1024  # no source maps, sources or docs


def test_the_files_are_the_pinned_releases():
    leaflet_version = LEAFLET.removeprefix("leaflet-")
    assert f" * Leaflet {leaflet_version}, " in (VENDOR / LEAFLET / "leaflet.js").read_text()[:200]
    axe_version = AXE_CORE.removeprefix("axe-core-")
    assert (VENDOR / AXE_CORE / "axe.min.js").read_text().startswith(f"/*! axe v{axe_version}\n")


def test_each_library_carries_its_licence():
    assert (VENDOR / LEAFLET / "LICENSE").read_text().startswith("BSD 2-Clause License")
    assert (VENDOR / AXE_CORE / "LICENSE").read_text().startswith("Mozilla Public License, version 2.0")
    # axe.min.js bundles MIT-licensed code, whose notices must travel with it.
    assert "MIT License" in (VENDOR / AXE_CORE / "LICENSE-3RD-PARTY.txt").read_text()


def test_the_app_finds_leaflet_at_its_static_path():
    for name in ("leaflet.js", "leaflet.css", "images/marker-icon.png"):
        found = finders.find(f"vendor/{LEAFLET}/{name}")
        assert found and Path(found) == VENDOR / LEAFLET / name


def test_every_vendored_file_a_template_names_is_there():
    named = set()
    for template in (BASE_DIR / "templates").rglob("*.html"):
        named |= set(re.findall(r"""\{% static ['"](vendor/[^'"]+)['"] %\}""", template.read_text()))
    assert all(finders.find(name) for name in named), named


def test_the_browser_tests_inject_the_vendored_axe():
    from tests.browser.axe import AXE_SCRIPT

    assert AXE_SCRIPT == VENDOR / AXE_CORE / "axe.min.js"


def test_collectstatic_with_hashed_names_takes_the_vendored_files(tmp_path):
    # The manifest storage rewrites every url() and sourceMappingURL, and fails on one naming a
    # file that is not there (the reason `make vendor` cuts leaflet.js's source map line).
    shutil.copytree(VENDOR, tmp_path / "vendor")
    storage = ManifestStaticFilesStorage(location=tmp_path, base_url="/static/")
    names = [f"vendor/{folder}/{name}" for folder, files in SHIPPED.items() for name in files]
    processed = list(storage.post_process({name: (storage, name) for name in names}))
    assert [(name, error) for name, _hashed, error in processed if isinstance(error, Exception)] == []
    css = (tmp_path / storage.stored_name(f"vendor/{LEAFLET}/leaflet.css")).read_text()
    assert re.search(r'url\("images/marker-icon\.[0-9a-f]{12}\.png"\)', css)
