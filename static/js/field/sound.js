// The new-assignment tone: made with Web Audio, so there is no file to fetch offline. It
// repeats until stopped (the responder acknowledges).

export class Beeper {
  constructor() {
    this.timer = null;
    this.context = null;
  }

  beep() {
    try {
      this.context ||= new AudioContext();
      if (this.context.state === "suspended") this.context.resume();
      const osc = this.context.createOscillator();
      const gain = this.context.createGain();
      osc.type = "square";
      osc.frequency.value = 880;
      gain.gain.setValueAtTime(0.25, this.context.currentTime);
      gain.gain.exponentialRampToValueAtTime(0.001, this.context.currentTime + 0.4);
      osc.connect(gain).connect(this.context.destination);
      osc.start();
      osc.stop(this.context.currentTime + 0.4);
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
