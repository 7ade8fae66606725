/**
 * The ONVIF audio backchannel (a viewer that DESCRIBEs with "Require: www.onvif.org/ver20/backchannel"
 * to talk through the camera's speaker) cannot come from a shared source: the talker's RTP goes
 * to the camera in that viewer's own RTSP session. So such a viewer gets a dedicated camera
 * session: its connection is relayed, request by request, to the device's "rtsp" target through a
 * tunnel stream of its own (URLs rewritten both ways, interleaved RTP/RTCP passed through byte
 * for byte), for as long as it lasts.
 *
 * It holds the device's talker lock (link/talker.ts) from its DESCRIBE until the relay ends
 * (TEARDOWN answered, viewer gone, camera gone): a second talker, RTSP or HTTP, is refused.
 * Its tunnel stream counts against the viewer's share of the device like any other.
 */

import type { LogLevel } from "../../../platform/platform";
import type { Stream } from "../../../protocol/stream";
import type { Registry } from "../../link/registry";
import { RtspParser, getHeader, removeHeader, serialize, setHeader, type RtspMessage } from "../../util/rtsp";

/** The Require option (ONVIF Streaming Specification §5.3) that asks for the backchannel. */
export const BACKCHANNEL_REQUIRE = "www.onvif.org/ver20/backchannel";

/** Every option of every Require header of a request. */
export function requiredOptions(m: RtspMessage): string[] {
  return m.headers
    .filter(([k]) => k.toLowerCase() === "require")
    .flatMap(([, v]) => v.split(","))
    .map((s) => s.trim())
    .filter((s) => s !== "");
}

const RTSP_URL = /rtsps?:\/\/[^/\s"';,]+/g;

export interface RelayViewer {
  /** Bytes for the viewer; false: its socket is full (the camera is paused until drain()). */
  write(b: Buffer): boolean;
  pause(): void;
  resume(): void;
  /** The camera side ended (or failed): the viewer's connection ends. */
  ended(why: string): void;
  /** A forwarded request got no answer in time: answer it 504 and end. */
  timedOut(cseq: string | undefined): void;
}

export class BackchannelRelay {
  private readonly parser = new RtspParser("camera");
  private closed = false;
  /** Requests sent to the camera and not answered yet: CSeq → its deadline timer. */
  private readonly waiting = new Map<string, NodeJS.Timeout>();
  private teardownCseq: string | null = null;
  /** CSeqs of forwarded PLAYs: the camera's 2xx to one of them starts the session. */
  private readonly playCseqs = new Set<string>();
  /** Interleaved packets from the talker to the camera, and from the camera to the talker. */
  packetsUp = 0;
  packetsDown = 0;
  /**
   * The camera accepted a PLAY: from now on the connection lives while RTP/RTCP moves either way
   * (lastPacketAt), like a TCP viewer. A PLAY the camera refused, or a session where nothing moves,
   * must not keep the device's two-way audio.
   */
  playing = false;
  lastPacketAt = 0;
  /** Called once when the relay ends for any reason (the talker lock is already released). */
  onClosed: (() => void) | null = null;

  /**
   * Takes the device's talker lock, then opens the tunnel stream (counted against the viewer's
   * share). Throws TalkerBusyError, ViewerLimitError or DeviceOfflineError, holding nothing.
   */
  static open(
    registry: Registry, deviceId: string, viewerKey: string, gwBase: string, viewer: RelayViewer,
    requestTimeoutMs: number, log: (l: LogLevel, m: string) => void,
  ): BackchannelRelay {
    const release = registry.talkers.acquire(deviceId, `rtsp ${viewerKey}`);
    try {
      const { entry, stream } = registry.open(deviceId, "rtsp", viewerKey);
      const camBase = `rtsp://${entry.link!.hello.targets?.rtsp ?? "127.0.0.1:554"}`;
      return new BackchannelRelay(stream, camBase, gwBase, release, viewer, requestTimeoutMs, log, `${deviceId} (${viewerKey})`);
    } catch (e) {
      release();
      throw e;
    }
  }

  private constructor(
    private readonly stream: Stream,
    private readonly camBase: string,
    private readonly gwBase: string,
    private readonly releaseTalker: () => void,
    private readonly viewer: RelayViewer,
    private readonly requestTimeoutMs: number,
    private readonly log: (l: LogLevel, m: string) => void,
    private readonly name: string,
  ) {
    stream.onData = (d) => this.fromCamera(d);
    stream.onDrain = () => viewer.resume();
    stream.onEnd = () => stream.end();
    stream.onClose = (reason) => {
      if (this.closed) return;
      this.close();
      viewer.ended(`camera session ended${reason ? `: ${reason}` : ""}`);
    };
  }

  /** A viewer request, its URL already split: `rest` is the camera path + query. */
  forward(m: RtspMessage, method: string, rest: string): void {
    if (this.closed) return;
    m.startLine = `${method} ${this.camBase}${rest} RTSP/1.0`;
    removeHeader(m.headers, "authorization"); // the viewer's credentials are ours, not the camera's
    const cseq = getHeader(m.headers, "cseq");
    if (method === "PLAY" && cseq !== undefined) this.playCseqs.add(cseq);
    if (method === "TEARDOWN") this.teardownCseq = cseq ?? "";
    if (cseq !== undefined && !this.waiting.has(cseq)) {
      this.waiting.set(cseq, setTimeout(() => {
        if (this.closed) return;
        this.log("info", `RTSP backchannel of ${this.name}: camera did not answer ${method} in ${this.requestTimeoutMs} ms`);
        this.close();
        this.viewer.timedOut(cseq);
      }, this.requestTimeoutMs));
    }
    if (!this.stream.write(serialize(m))) this.viewer.pause();
  }

  /** The talker's RTP/RTCP ($ framed), to the camera untouched. */
  interleaved(raw: Buffer): void {
    if (this.closed) return;
    this.packetsUp++;
    this.lastPacketAt = Date.now();
    if (!this.stream.write(raw)) this.viewer.pause();
  }

  /** The viewer's socket drained: take camera data again. */
  drain(): void {
    if (!this.closed) this.stream.resume();
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    for (const t of this.waiting.values()) clearTimeout(t);
    this.waiting.clear();
    this.releaseTalker();
    this.stream.onData = this.stream.onDrain = null;
    this.stream.reset("viewer_gone");
    this.onClosed?.();
  }

  private fromCamera(d: Uint8Array): void {
    let items;
    try {
      items = this.parser.push(d);
    } catch (e) {
      this.log("warn", `RTSP backchannel of ${this.name}: camera sent bad RTSP: ${(e as Error).message}`);
      this.close();
      return this.viewer.ended("camera sent bad RTSP");
    }
    let full = false;
    let tornDown = false;
    for (const it of items) {
      if (it.kind === "interleaved") {
        this.packetsDown++;
        this.lastPacketAt = Date.now();
        full = !this.viewer.write(it.raw) || full;
        continue;
      }
      const cseq = getHeader(it.headers, "cseq");
      const isResponse = it.startLine.startsWith("RTSP/");
      if (isResponse && cseq !== undefined) {
        clearTimeout(this.waiting.get(cseq));
        this.waiting.delete(cseq);
        if (this.playCseqs.delete(cseq) && /^RTSP\/\d\.\d 2\d\d/.test(it.startLine)) {
          this.playing = true;
          this.lastPacketAt = Date.now();
        }
      }
      // The talker is done once the camera has answered its TEARDOWN: free the device for the
      // next talker before the viewer even reads the answer.
      if (isResponse && this.teardownCseq !== null && (cseq ?? "") === this.teardownCseq) {
        tornDown = true;
        this.close();
      }
      full = !this.viewer.write(serialize(this.rewrite(it))) || full;
      if (tornDown) return;
    }
    // A viewer that stops reading stops our credit to the agent; nobody else waits for it.
    if (full) this.stream.pause();
  }

  private rewrite(m: RtspMessage): RtspMessage {
    const fix = (v: string) => v.replace(RTSP_URL, this.gwBase);
    for (const h of ["Content-Base", "Content-Location", "RTP-Info", "Location"]) {
      const v = getHeader(m.headers, h);
      if (v !== undefined) setHeader(m.headers, h, fix(v));
    }
    if (m.body.length && /sdp/i.test(getHeader(m.headers, "content-type") ?? "")) {
      m.body = Buffer.from(fix(m.body.toString("latin1")), "latin1");
    }
    return m;
  }
}
