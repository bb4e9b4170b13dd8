// The alert bar's sound: made with Web Audio (no file to fetch), muted per dispatcher (the
// choice is kept in this browser under the signed-in user's id).

export class AlertSound {
  constructor(userId) {
    this.key = `console.mute.${userId || "anyone"}`;
    this.context = null;
    this.muted = readMuted(this.key);
    // A browser lets a page make sound only after the person has touched it: the first click
    // or key press anywhere wakes the audio up.
    const wake = () => this.context?.resume?.();
    document.addEventListener("pointerdown", () => this.ensure() && wake(), { capture: true });
    document.addEventListener("keydown", () => this.ensure() && wake(), { capture: true });
  }

  setMuted(muted) {
    this.muted = Boolean(muted);
    try {
      if (this.muted) localStorage.setItem(this.key, "1");
      else localStorage.removeItem(this.key);
    } catch {
      // Storage refused (private mode): the choice lasts for this page.
    }
  }

  ensure() {
    if (this.context) return true;
    try {
      this.context = new AudioContext();
      return true;
    } catch {
      return false;
    }
  }

  /**
   * Sound the alert: three high beeps for an urgent one, one for the rest. Resolves to what
   * happened: "urgent" or "normal" (played), "muted", "blocked" (the browser holds sound back
   * until the page is touched) or "unavailable".
   */
  async chime(urgent) {
    if (this.muted) return "muted";
    if (!this.ensure()) return "unavailable";
    const context = this.context;
    if (context.state !== "running") {
      try {
        await Promise.race([context.resume(), new Promise((resolve) => setTimeout(resolve, 300))]);
      } catch {
        // Refused: reported as blocked below.
      }
    }
    if (context.state !== "running") return "blocked";
    const beeps = urgent ? [0, 0.25, 0.5] : [0];
    for (const at of beeps) {
      const osc = context.createOscillator();
      const gain = context.createGain();
      const start = context.currentTime + at;
      osc.type = "square";
      osc.frequency.value = urgent ? 988 : 660;
      gain.gain.setValueAtTime(0.2, start);
      gain.gain.exponentialRampToValueAtTime(0.001, start + 0.2);
      osc.connect(gain).connect(context.destination);
      osc.start(start);
      osc.stop(start + 0.2);
    }
    return urgent ? "urgent" : "normal";
  }
}

function readMuted(key) {
  try {
    return localStorage.getItem(key) === "1";
  } catch {
    return false;
  }
}
