// A tile per party of the call (caller, officer, interpreter) and the guest's own picture. A tile holds
// the party's camera and microphone in one <video>; its painted frames are counted for the tests.

import { el } from "./ui.js";

export class Tiles {
  constructor(container, selfVideo, local) {
    this.container = container;
    this.tiles = new Map(); // peer -> {figure, video, caption, stream, painted}
    selfVideo.srcObject = local ?? null;
    this.count();
  }

  ensure(peer, name) {
    let tile = this.tiles.get(peer);
    if (!tile) {
      const figure = el("figure", "tile");
      figure.dataset.peer = peer;
      const video = el("video");
      video.autoplay = true;
      video.playsInline = true;
      const caption = el("figcaption");
      const status = el("p", "tile-state");
      figure.append(video, caption, status);
      this.container.prepend(figure);
      tile = { figure, video, caption, status, stream: new MediaStream(), painted: 0 };
      video.srcObject = tile.stream;
      this.tiles.set(peer, tile);
      this.countFrames(tile);
      this.count();
    }
    tile.caption.textContent = name;
    return tile;
  }

  addTrack(peer, name, track) {
    const tile = this.ensure(peer, name);
    for (const old of tile.stream.getTracks().filter((t) => t.kind === track.kind)) tile.stream.removeTrack(old);
    tile.stream.addTrack(track);
    tile.video.play().catch(() => {}); // autoplay with sound may wait for a gesture; the join click was one
  }

  connected(peer) {
    const tile = this.tiles.get(peer);
    if (tile) tile.status.textContent = "";
  }

  waiting(peer, text) {
    const tile = this.tiles.get(peer);
    if (tile) tile.status.textContent = text;
  }

  remove(peer) {
    const tile = this.tiles.get(peer);
    if (!tile) return;
    this.tiles.delete(peer);
    tile.stopped = true;
    tile.video.srcObject = null;
    tile.figure.remove();
    this.count();
  }

  painted(peer) {
    return this.tiles.get(peer)?.painted ?? 0;
  }

  count() {
    this.container.dataset.count = String(this.tiles.size); // the other parties; the own picture floats
  }

  countFrames(tile) {
    if (!("requestVideoFrameCallback" in HTMLVideoElement.prototype)) return;
    const next = () => {
      if (tile.stopped) return;
      tile.painted += 1;
      tile.video.requestVideoFrameCallback(next);
    };
    tile.video.requestVideoFrameCallback(next);
  }
}
