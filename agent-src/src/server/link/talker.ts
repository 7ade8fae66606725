/**
 * Two-way audio is exclusive per device: one talker at a time, whichever way it talks (POST
 * /<id>/audio on the HTTP gateway, or the ONVIF RTSP backchannel: gateways/rtsp/backchannel.ts). Two voices mixed in one camera
 * speaker help nobody, and most cameras take only one upload at a time anyway.
 *
 *   const release = registry.talkers.acquire(deviceId, "http account nvr");  // throws TalkerBusyError
 *   try { ...upload... } finally { release(); }
 *
 * The holder must release (idempotent) when its upload ends, however it ends: a failed camera
 * exchange, a cut-off viewer or a lost link. HTTP answers TalkerBusyError with 409 Conflict, RTSP
 * with 453 Not Enough Bandwidth.
 */

/** Another talker holds the device's audio: HTTP 409, RTSP 453. `holder` is for logs, not for viewers. */
export class TalkerBusyError extends Error {
  constructor(readonly deviceId: string, readonly holder: string, readonly sinceMs: number) {
    super(`device ${deviceId}: two-way audio is in use by another talker`);
  }
}

export interface Talker {
  /** Who talks, for logs and the admin API (e.g. "http account nvr", "rtsp address 10.0.0.5"). */
  holder: string;
  /** Unix ms the talker started. */
  since: number;
}

export class Talkers {
  private readonly byDevice = new Map<string, Talker>();
  /** Uploads refused because another talker held the device. */
  conflicts = 0;

  /** Takes the device's audio for `holder`, or throws TalkerBusyError. Returns the release function. */
  acquire(deviceId: string, holder: string): () => void {
    const cur = this.byDevice.get(deviceId);
    if (cur) {
      this.conflicts++;
      throw new TalkerBusyError(deviceId, cur.holder, cur.since);
    }
    const mine: Talker = { holder, since: Date.now() };
    this.byDevice.set(deviceId, mine);
    return () => {
      if (this.byDevice.get(deviceId) === mine) this.byDevice.delete(deviceId);
    };
  }

  /** The device's current talker, or null. */
  current(deviceId: string): Talker | null {
    return this.byDevice.get(deviceId) ?? null;
  }

  /** Devices with a talker now. */
  entries(): IterableIterator<[string, Talker]> {
    return this.byDevice.entries();
  }

  get size(): number {
    return this.byDevice.size;
  }
}
