// The alert bar, always in view: it sounds and announces what is new in it, keeps the count in
// the page title, and reminds while an urgent alert stands unacknowledged.
import { AlertSound } from "./sound.js";

const REMINDER_MS = 30_000;

export class AlertBar {
  constructor(root, { onShowIncident }) {
    this.root = root;
    this.baseTitle = root.dataset.title || document.title;
    this.sound = new AlertSound(root.dataset.user);
    this.toggle = document.getElementById("sound-toggle");
    this.state = document.getElementById("sound-state");
    this.announcer = document.getElementById("alert-announce");
    this.onShowIncident = onShowIncident;
    this.known = new Set(this.keys());
    this.showSoundState();
    this.toggle.addEventListener("click", () => {
      this.sound.setMuted(!this.sound.muted);
      this.showSoundState();
    });
    document.addEventListener("click", (event) => {
      const show = event.target.closest("[data-show-incident]");
      if (!show) return;
      event.preventDefault();
      this.onShowIncident(show.dataset.showIncident);
    });
    setInterval(() => this.remind(), REMINDER_MS);
    this.showCount();
  }

  get element() {
    return document.getElementById("alerts");
  }

  keys() {
    return (this.element?.dataset.keys || "").split(" ").filter(Boolean);
  }

  /** The bar has been replaced (a refresh, an acknowledgement): sound and say what is new. */
  sync() {
    const keys = this.keys();
    const fresh = keys.filter((key) => !this.known.has(key));
    this.known = new Set(keys);
    this.showCount();
    if (!fresh.length) return;
    const urgent = fresh.some((key) => key.endsWith("!"));
    this.announce(fresh);
    this.play(urgent);
  }

  announce(fresh) {
    const texts = fresh
      .map((key) => this.itemFor(key)?.innerText.replace(/\s+/g, " ").replace(/ (Acknowledge|Show|Seen).*$/, ""))
      .filter(Boolean);
    if (texts.length) this.announcer.textContent = texts.join(". ");
  }

  itemFor(key) {
    const bare = key.replace(/!$/, "");
    const [kind, id] = [bare.slice(0, bare.indexOf("-")), bare.slice(bare.indexOf("-") + 1)];
    const selector = kind === "alert" ? `[data-alert="${CSS.escape(id)}"]` : `[data-urgent-call="${CSS.escape(id)}"]`;
    return this.element?.querySelector(selector);
  }

  async play(urgent) {
    const outcome = await this.sound.chime(urgent);
    // Kept on the bar for whoever checks that the console made itself heard.
    this.root.dataset.lastSound = outcome;
    this.root.dataset.sounds = String(Number(this.root.dataset.sounds || 0) + 1);
    this.showSoundState(outcome);
  }

  remind() {
    const standing = this.element?.querySelector(".alert-item.urgent[data-alert]");
    if (standing) this.play(true);
  }

  showCount() {
    const count = Number(this.element?.dataset.count || 0);
    document.title = count ? `(${count}) ${this.baseTitle}` : this.baseTitle;
  }

  showSoundState(outcome) {
    this.toggle.setAttribute("aria-pressed", String(this.sound.muted));
    this.toggle.classList.toggle("is-muted", this.sound.muted);
    let text = this.sound.muted ? "Sound off" : "Sound on";
    if (!this.sound.muted && outcome === "blocked") text = "Sound blocked: click anywhere on the page to allow it";
    this.state.textContent = text;
  }
}
