import pytest

pytestmark = pytest.mark.browser


def test_a_dispatcher_signs_in_and_lands_on_the_console(daphne, browser_page, personas, settings):
    # The server process hashes with Django's default hasher, not the tests' fast one.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.PBKDF2PasswordHasher"]
    dispatcher = personas["dispatcher"]
    dispatcher.set_password("a-real-password-2026")
    dispatcher.save()
    page = browser_page(daphne)
    page.goto(f"{daphne.url}/")
    page.get_by_label("User name").fill("disp")
    page.get_by_label("Password").fill("a-real-password-2026")
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(f"{daphne.url}/dispatch/")
    assert page.get_by_role("heading", name="Dispatch console").is_visible()


def test_a_wrong_password_shows_an_error(daphne, browser_page, personas):
    page = browser_page(daphne)
    page.goto(f"{daphne.url}/signin/")
    page.get_by_label("User name").fill("disp")
    page.get_by_label("Password").fill("wrong")
    page.get_by_role("button", name="Sign in").click()
    assert page.get_by_role("alert").inner_text().startswith("That user name and password did not match")
