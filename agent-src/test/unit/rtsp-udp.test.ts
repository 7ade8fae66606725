// UDP transport for RTSP viewers: which Transport offers are served (never to a host other than
// the RTSP peer), the port range's validation, and what happens when the range is used up.
import { describe, expect, it } from "vitest";
import { udpPorts } from "../../src/server/config";
import { chooseTransport, UdpPorts } from "../../src/server/gateways/rtsp/udp";

describe("chooseTransport", () => {
  const peer = "::ffff:127.0.0.1";
  it("serves TCP interleaved and unicast UDP to the peer, in the client's order", () => {
    expect(chooseTransport("RTP/AVP/TCP;unicast;interleaved=0-1", peer, true)).toEqual({ kind: "tcp", spec: "RTP/AVP/TCP;unicast;interleaved=0-1" });
    expect(chooseTransport("RTP/AVP;unicast;client_port=5000-5001", peer, true)).toEqual({ kind: "udp", rtpPort: 5000, rtcpPort: 5001 });
    expect(chooseTransport("RTP/AVP/UDP;unicast;client_port=5000", peer, true)).toEqual({ kind: "udp", rtpPort: 5000, rtcpPort: 5001 });
    expect(chooseTransport("RTP/AVP;unicast;client_port=5000-5001;destination=127.0.0.1", peer, true).kind).toBe("udp");
    expect(chooseTransport("RTP/AVP;unicast;client_port=5000-5001,RTP/AVP/TCP;unicast", peer, true).kind).toBe("udp");
  });
  it("refuses multicast, destination= another host, other profiles, missing or bad client_port, and UDP when off", () => {
    for (const t of [
      "RTP/AVP;multicast;destination=232.1.1.1;port=5000-5001",
      "RTP/AVP;unicast;client_port=5000-5001;destination=192.0.2.1",
      "RTP/AVP;unicast;client_port=5000-5001;destination=[::1]",
      "RTP/SAVP;unicast;client_port=5000-5001",
      "RTP/AVP;unicast",
      "RTP/AVP;unicast;client_port=0-1",
      "RTP/AVP;unicast;client_port=70000-70001",
      "garbage",
      "",
    ]) expect(chooseTransport(t, peer, true).kind, t).toBe("refuse");
    expect(chooseTransport(undefined, peer, true).kind).toBe("refuse");
    expect(chooseTransport("RTP/AVP;unicast;client_port=5000-5001", peer, false)).toEqual({ kind: "refuse", why: "UDP transport is off (streamer.media.udp_ports)" });
    // A refused UDP alternative does not hide a TCP one after it.
    expect(chooseTransport("RTP/AVP;unicast;client_port=5000-5001;destination=192.0.2.1,RTP/AVP/TCP;unicast;interleaved=2-3", peer, true).kind).toBe("tcp");
  });
});

describe("streamer.media.udp_ports", () => {
  it("takes FIRST-LAST within 1024-65535 holding a pair, or null; names the field otherwise", () => {
    expect(udpPorts("30000-30999", "f")).toEqual({ first: 30000, last: 30999 });
    expect(udpPorts(null, "f")).toBeNull();
    for (const bad of ["30000", "100-200", "40000-30000", "30001-30001", 30000, "a-b", "30000-70000"]) {
      expect(() => udpPorts(bad, "streamer.media.udp_ports"), String(bad)).toThrow(/streamer\.media\.udp_ports/);
    }
  });
});

describe("UdpPorts", () => {
  it("hands out even/odd pairs from the range and null when it is used up; released pairs come back", async () => {
    const base = 20000 + 4 * Math.floor(Math.random() * 5000);
    const ports = new UdpPorts({ first: base + 1, last: base + 5 }); // pairs (base+2, +3), (base+4, +5)
    const a = await ports.open("127.0.0.1", "127.0.0.1", 9, 9, () => {});
    const b = await ports.open("127.0.0.1", "127.0.0.1", 9, 9, () => {});
    expect([a?.port, b?.port].sort()).toEqual([base + 2, base + 4]);
    expect(await ports.open("127.0.0.1", "127.0.0.1", 9, 9, () => {})).toBeNull();
    a!.close();
    const c = await ports.open("127.0.0.1", "127.0.0.1", 9, 9, () => {});
    expect(c?.port).toBe(base + 2);
    b!.close();
    c!.close();
    expect(ports.pairs).toBe(0);
  });
});
