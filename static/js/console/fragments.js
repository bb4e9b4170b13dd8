// Server-rendered fragments, fetched and parsed as the page needs them.

/** The first element of an HTML fragment (table rows parse correctly inside a template). */
export function parseFragment(html) {
  const template = document.createElement("template");
  template.innerHTML = html.trim();
  return template.content.firstElementChild;
}

/**
 * GET a fragment's HTML, or null when the answer is not one (signed out and sent to sign in,
 * a server error): the page keeps what it shows rather than swap in something else.
 */
export async function fetchFragment(url) {
  let response;
  try {
    // X-Background: a refresh after a live event is not use of the session (the idle lock).
    response = await fetch(url, { headers: { "HX-Request": "true", "X-Background": "1" }, credentials: "same-origin" });
  } catch {
    return null;
  }
  if (!response.ok || response.redirected) return null;
  return response.text();
}

/** Let htmx wire the forms and buttons of an element the page has just put in. */
export function activate(element) {
  window.htmx?.process(element);
}

/**
 * Someone typing or choosing in an element keeps it until they leave it: a refresh must not
 * wipe a half-written override reason or move the unit they picked. Typed text not yet sent
 * keeps it too.
 */
export function inUse(element) {
  if (!element) return false;
  const active = document.activeElement;
  if (active && element.contains(active) && active.matches("input, textarea, select")) return true;
  for (const field of element.querySelectorAll("input[type=text], textarea")) {
    if (field.value !== field.defaultValue) return true;
  }
  return false;
}

/**
 * Remember where the keyboard is inside `current`, to put it back on the same control in the
 * element that replaces it (same id), else on that element's `fallbackSelector`.
 */
export function focusKeeper(current, fallbackSelector) {
  const active = document.activeElement;
  if (!current || !active || !current.contains(active)) return () => {};
  return (fresh) => {
    const same = active.id ? fresh.querySelector(`#${CSS.escape(active.id)}`) : null;
    (same || fresh.querySelector(fallbackSelector))?.focus({ preventScroll: true });
  };
}
