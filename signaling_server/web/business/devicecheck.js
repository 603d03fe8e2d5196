// Device check: what the browser supports, the camera preview, the microphone level and a speaker tone.
// The stream opened here is the one the call sends, so the browser asks for permission only once.

/** Features the call cannot do without, as i18n keys of what is missing (empty: all present). */
export function missingFeatures(win = globalThis) {
  const missing = [];
  if (typeof win.RTCPeerConnection !== "function") missing.push("feature.rtc");
  if (!win.navigator?.mediaDevices?.getUserMedia) missing.push("feature.gum");
  // crypto.subtle exists only in secure contexts (https, or localhost): uploads are hashed with it.
  if (!win.crypto?.subtle?.digest) missing.push("feature.crypto");
  return missing;
}

/** Screen sharing is optional: tablets (the moving counter) usually have no getDisplayMedia. */
export function canShareScreen(win = globalThis) {
  return Boolean(win.navigator?.mediaDevices?.getDisplayMedia);
}

/** The i18n key that explains why getUserMedia failed. */
export function mediaErrorKey(error) {
  switch (error?.name) {
    case "NotAllowedError":
    case "SecurityError":
      return "devices.denied";
    case "NotFoundError":
    case "OverconstrainedError":
      return "devices.notFound";
    case "NotReadableError":
    case "AbortError":
      return "devices.busy";
    default:
      return "devices.failed";
  }
}

const CONSTRAINTS = {
  audio: { echoCancellation: true, noiseSuppression: true, autoGainControl: true },
  video: { width: { ideal: 1280 }, height: { ideal: 720 }, frameRate: { ideal: 24, max: 30 } },
};

export class DeviceCheck {
  constructor({ preview, meter, onLevel }) {
    this.preview = preview;
    this.meter = meter;
    this.onLevel = onLevel; // called with each level (0..1) so the page can say "we can hear you"
    this.stream = null;
    this.audioContext = null;
    this.frame = 0;
  }

  /** Ask for camera and microphone; resolves to the stream, rejects with the browser's error. */
  async start() {
    this.stopMeter();
    if (this.stream) this.stream.getTracks().forEach((track) => track.stop());
    this.stream = await navigator.mediaDevices.getUserMedia(CONSTRAINTS);
    this.preview.srcObject = this.stream;
    this.startMeter();
    return this.stream;
  }

  context() {
    // Created on first use from a click handler, so browsers let it run without a further gesture.
    if (!this.audioContext) this.audioContext = new AudioContext();
    if (this.audioContext.state === "suspended") this.audioContext.resume().catch(() => {});
    return this.audioContext;
  }

  startMeter() {
    if (!this.stream || this.stream.getAudioTracks().length === 0) return;
    const context = this.context();
    const source = context.createMediaStreamSource(this.stream);
    const analyser = context.createAnalyser();
    analyser.fftSize = 1024;
    source.connect(analyser); // not to the destination: the user must not hear themselves
    const samples = new Float32Array(analyser.fftSize);
    const tick = () => {
      analyser.getFloatTimeDomainData(samples);
      let sum = 0;
      for (const sample of samples) sum += sample * sample;
      // RMS scaled so ordinary speech (about -30 dBFS) fills a third of the meter.
      const level = Math.min(1, Math.sqrt(sum / samples.length) * 10);
      this.meter.value = level;
      this.onLevel?.(level);
      this.frame = requestAnimationFrame(tick);
    };
    this.meterSource = source;
    tick();
  }

  stopMeter() {
    if (this.frame) cancelAnimationFrame(this.frame);
    this.frame = 0;
    this.meterSource?.disconnect();
    this.meterSource = null;
  }

  /** A one-second 440 Hz tone with soft edges; resolves when it has played. */
  playTone() {
    const context = this.context();
    const oscillator = context.createOscillator();
    const gain = context.createGain();
    const now = context.currentTime;
    oscillator.frequency.value = 440;
    gain.gain.setValueAtTime(0, now);
    gain.gain.linearRampToValueAtTime(0.2, now + 0.05);
    gain.gain.setValueAtTime(0.2, now + 0.9);
    gain.gain.linearRampToValueAtTime(0, now + 1.0);
    oscillator.connect(gain).connect(context.destination);
    oscillator.start(now);
    oscillator.stop(now + 1.0);
    return new Promise((resolve) => oscillator.addEventListener("ended", resolve, { once: true }));
  }

  /** Leave the check: the stream stays open for the call; the meter and audio context stop. */
  finish() {
    this.stopMeter();
    this.preview.srcObject = null;
    this.audioContext?.close().catch(() => {});
    this.audioContext = null;
    return this.stream;
  }
}
