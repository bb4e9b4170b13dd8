// The monthly report's Print button (a module, not an inline handler, so a strict CSP allows it).
for (const button of document.querySelectorAll("[data-print]")) {
  button.hidden = false;
  button.addEventListener("click", () => window.print());
}
