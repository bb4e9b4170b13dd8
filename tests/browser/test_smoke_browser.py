import pytest

from tests.browser.axe import VENDOR, assert_accessible

pytestmark = pytest.mark.browser


def test_a_dispatcher_signs_in_and_lands_on_the_console(daphne, browser_page, personas, settings):
    # The server process hashes with Django's default hasher, not the tests' fast one.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.PBKDF2PasswordHasher"]
    dispatcher = personas["dispatcher"]
    dispatcher.set_password("a-real-password-2026")
    dispatcher.save()
    page = browser_page(daphne)
    page.goto(f"{daphne.url}/")
    assert_accessible(page, "the sign-in page")
    page.get_by_label("User name").fill("disp")
    page.get_by_label("Password").fill("a-real-password-2026")
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(f"{daphne.url}/dispatch/")
    assert page.get_by_role("heading", name="Dispatch console").is_visible()
    assert_accessible(page, "the empty dispatcher console")


def test_a_wrong_password_shows_an_error(daphne, browser_page, personas):
    page = browser_page(daphne)
    page.goto(f"{daphne.url}/signin/")
    page.get_by_label("User name").fill("disp")
    page.get_by_label("Password").fill("wrong")
    page.get_by_role("button", name="Sign in").click()
    assert page.get_by_role("alert").inner_text().startswith("That user name and password did not match")
    assert_accessible(page, "the sign-in page with an error")


def test_the_vendored_leaflet_loads_from_the_app_and_draws_a_marker_with_its_own_icon(daphne, browser_page):
    # Nothing includes Leaflet yet; the console's map will, with these two tags.
    (leaflet,) = VENDOR.glob("leaflet-*")
    static = f"{daphne.url}/static/vendor/{leaflet.name}"
    page = browser_page(daphne)
    failed = []
    page.on("response", lambda response: response.ok or failed.append(f"{response.status} {response.url}"))
    page.on("requestfailed", lambda request: failed.append(f"failed {request.url}"))
    page.goto(f"{daphne.url}/signin/")
    page.add_style_tag(url=f"{static}/leaflet.css")
    page.add_script_tag(url=f"{static}/leaflet.js")
    drawn = page.evaluate("""() => {
      const box = Object.assign(document.createElement("div"), { id: "map" });
      box.style.cssText = "width: 400px; height: 300px";
      document.querySelector("main").append(box);
      const marker = L.marker([39.74, -104.99]).addTo(L.map(box).setView([39.74, -104.99], 13));
      const icon = marker.getElement();
      return new Promise((resolve) => {
        const done = () => resolve({ version: L.version, src: icon.src, width: icon.naturalWidth });
        if (icon.complete) done();
        icon.addEventListener("load", done);
        icon.addEventListener("error", done);
      });
    }""")
    assert drawn["version"] == leaflet.name.removeprefix("leaflet-")
    # The default icon's folder is found from leaflet.css: the two travel together.
    assert f"/static/vendor/{leaflet.name}/images/marker-icon" in drawn["src"]
    assert drawn["width"] > 0, failed
    assert failed == []


def test_the_csp_refuses_an_inline_script_and_the_tests_hear_of_it(daphne, browser_page):
    page = browser_page(daphne)
    page.goto(f"{daphne.url}/signin/")
    page.evaluate("""() => {
      const script = document.createElement("script");
      script.textContent = "window.injected = true";
      document.body.append(script);
    }""")
    page.wait_for_timeout(200)
    assert page.evaluate("window.injected === undefined")  # it did not run
    assert any("script-src" in v for v in browser_page.csp_violations), browser_page.csp_violations
    browser_page.csp_violations.clear()  # provoked on purpose: not a failure of this page
