// The new-assignment tone: made with Web Audio, so there is no file to fetch offline. It
// repeats until stopped (the responder acknowledges). Browsers keep audio (and vibration)
// off until the page has had a touch: unlock() is called from one, at shift start ("tap to
// turn on alerts") or from whatever the responder touches first, and plays a test tone.

export class Beeper {
  constructor() {
    this.timer = null;
    this.context = null;
  }

  get unlocked() {
    return Boolean(this.context && this.context.state === "running");
  }

  // From a touch or click handler only: that is when the browser allows it.
  async unlock({ test = true } = {}) {
    try {
      this.context ||= new AudioContext();
      if (this.context.state !== "running") await this.context.resume();
    } catch {
      return false; // no audio device: the visual alert still stands
    }
    if (test) {
      this.tone(660, 0.15, 0);
      this.tone(880, 0.2, 0.2);
      navigator.vibrate?.(150);
    }
    return this.unlocked;
  }

  tone(frequency, seconds, delay) {
    const start = this.context.currentTime + delay;
    const osc = this.context.createOscillator();
    const gain = this.context.createGain();
    osc.type = "square";
    osc.frequency.value = frequency;
    gain.gain.setValueAtTime(0.25, start);
    gain.gain.exponentialRampToValueAtTime(0.001, start + seconds);
    osc.connect(gain).connect(this.context.destination);
    osc.start(start);
    osc.stop(start + seconds);
  }

  beep() {
    try {
      this.context ||= new AudioContext();
      if (this.context.state === "suspended") this.context.resume();
      this.tone(880, 0.4, 0);
    } catch {
      // No audio device: the visual alert still stands.
    }
    navigator.vibrate?.([200, 100, 200]);
  }

  start() {
    if (this.timer) return;
    this.beep();
    this.timer = setInterval(() => this.beep(), 2000);
  }

  stop() {
    clearInterval(this.timer);
    this.timer = null;
  }

  get playing() {
    return this.timer !== null;
  }
}
