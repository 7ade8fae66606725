// Digest for RTSP viewers: the digest uri must be the request's, a nonce opens one connection only,
// a used/old nonce with right credentials is answered stale, and the nonce memory is bounded.
import { createHash } from "node:crypto";
import { describe, expect, it } from "vitest";
import { REALM, ViewerAuth } from "../../src/server/gateways/viewer-auth";

const md5 = (s: string) => createHash("md5").update(s).digest("hex");
const viewers = [{ name: "nvr", password: "pw", devices: ["*"] }, { name: "one", password: "pw1", devices: ["cam-a"] }];
const URI = "rtsp://127.0.0.1:8554/cam-a/stream1";

function nonceOf(challenge: string): string {
  return /nonce="([^"]+)"/.exec(challenge)![1];
}
function digest(nonce: string, uri: string, o: { user?: string; pw?: string; method?: string; qop?: { nc: string; cnonce: string } } = {}): string {
  const user = o.user ?? "nvr";
  const ha1 = md5(`${user}:${REALM}:${o.pw ?? "pw"}`);
  const ha2 = md5(`${o.method ?? "DESCRIBE"}:${uri}`);
  if (o.qop) {
    const r = md5(`${ha1}:${nonce}:${o.qop.nc}:${o.qop.cnonce}:auth:${ha2}`);
    return `Digest username="${user}", realm="${REALM}", nonce="${nonce}", uri="${uri}", qop=auth, nc=${o.qop.nc}, cnonce="${o.qop.cnonce}", response="${r}"`;
  }
  return `Digest username="${user}", realm="${REALM}", nonce="${nonce}", uri="${uri}", response="${md5(`${ha1}:${nonce}:${ha2}`)}"`;
}

describe("ViewerAuth digest", () => {
  it("accepts a correct response once; the same header again is stale (replay)", () => {
    const a = new ViewerAuth(viewers, Buffer.from("secret"));
    const h = digest(nonceOf(a.digestChallenge()), URI);
    expect(a.checkDigest("DESCRIBE", URI, h, "cam-a")).toBe("ok");
    expect(a.checkDigest("DESCRIBE", URI, h, "cam-a")).toBe("stale");
    expect(a.digestChallenge(true)).toMatch(/^Digest realm="[^"]+", nonce="[^"]+", stale=true, algorithm=MD5$/);
    expect(a.digestChallenge()).not.toMatch(/stale/);
  });

  it("the digest uri must be the request's: a header for one device does not open another", () => {
    const a = new ViewerAuth(viewers, Buffer.from("secret"));
    const n = nonceOf(a.digestChallenge());
    const forB = digest(n, "rtsp://127.0.0.1:8554/cam-b/stream1");
    expect(a.checkDigest("DESCRIBE", URI, forB, "cam-a")).toBe("denied");
    // The path alone (what some clients put there) is the same resource.
    expect(a.checkDigest("DESCRIBE", URI, digest(n, "/cam-a/stream1"), "cam-a")).toBe("ok");
  });

  it("wrong password, user, realm, method, forged nonce or a device the viewer may not see: denied", () => {
    const a = new ViewerAuth(viewers, Buffer.from("secret"));
    const n = () => nonceOf(a.digestChallenge());
    expect(a.checkDigest("DESCRIBE", URI, digest(n(), URI, { pw: "bad" }), "cam-a")).toBe("denied");
    expect(a.checkDigest("DESCRIBE", URI, digest(n(), URI, { user: "nobody" }), "cam-a")).toBe("denied");
    expect(a.checkDigest("SETUP", URI, digest(n(), URI), "cam-a")).toBe("denied");
    expect(a.checkDigest("DESCRIBE", URI, digest(n(), URI).replace(REALM, "other"), "cam-a")).toBe("denied");
    expect(a.checkDigest("DESCRIBE", URI, digest(`${Date.now()}.${"0".repeat(20)}.${"0".repeat(32)}`, URI), "cam-a")).toBe("denied");
    const other = new ViewerAuth(viewers, Buffer.from("another secret"));
    expect(a.checkDigest("DESCRIBE", URI, digest(nonceOf(other.digestChallenge()), URI), "cam-a")).toBe("denied");
    const uriB = "rtsp://127.0.0.1:8554/cam-b/stream1";
    expect(a.checkDigest("DESCRIBE", uriB, digest(n(), uriB, { user: "one", pw: "pw1" }), "cam-b")).toBe("denied");
    expect(a.checkDigest("DESCRIBE", URI, digest(n(), URI, { user: "one", pw: "pw1" }), "cam-a")).toBe("ok");
    expect(a.checkDigest("DESCRIBE", URI, "Basic bnZyOnB3", "cam-a")).toBe("denied");
    expect(a.checkDigest("DESCRIBE", URI, undefined, "cam-a")).toBe("denied");
  });

  it("qop=auth with nc and cnonce works; a malformed nc is denied", () => {
    const a = new ViewerAuth(viewers, Buffer.from("secret"));
    const n = nonceOf(a.digestChallenge());
    expect(a.checkDigest("DESCRIBE", URI, digest(n, URI, { qop: { nc: "0000000x", cnonce: "c" } }), "cam-a")).toBe("denied");
    expect(a.checkDigest("DESCRIBE", URI, digest(n, URI, { qop: { nc: "00000001", cnonce: "c" } }), "cam-a")).toBe("ok");
    expect(a.checkDigest("DESCRIBE", URI, digest(n, URI, { qop: { nc: "00000002", cnonce: "c" } }), "cam-a")).toBe("stale");
  });

  it("expired nonces and nonces of another process (same secret) are stale, not denied", () => {
    let now = 1_000_000_000_000;
    const a = new ViewerAuth(viewers, Buffer.from("secret"), () => now);
    const n = nonceOf(a.digestChallenge());
    now += 301_000;
    expect(a.checkDigest("DESCRIBE", URI, digest(n, URI), "cam-a")).toBe("stale");
    const restarted = new ViewerAuth(viewers, Buffer.from("secret"), () => now);
    expect(restarted.checkDigest("DESCRIBE", URI, digest(nonceOf(a.digestChallenge()), URI), "cam-a")).toBe("stale");
  });

  it("the used-nonce store is bounded, and forgetting a nonce never makes it usable again", () => {
    let now = 1_000_000_000_000;
    const a = new ViewerAuth(viewers, Buffer.from("secret"), () => now, 100);
    const headers: string[] = [];
    for (let i = 0; i < 1000; i++) {
      now += 1;
      const h = digest(nonceOf(a.digestChallenge()), URI);
      expect(a.checkDigest("DESCRIBE", URI, h, "cam-a")).toBe("ok");
      headers.push(h);
    }
    expect(a.usedNonces).toBeLessThanOrEqual(100);
    for (const h of headers) expect(a.checkDigest("DESCRIBE", URI, h, "cam-a")).toBe("stale");
    // A fresh nonce still works after all that.
    now += 1;
    expect(a.checkDigest("DESCRIBE", URI, digest(nonceOf(a.digestChallenge()), URI), "cam-a")).toBe("ok");
    // Past the TTL the store empties itself.
    now += 400_000;
    expect(a.checkDigest("DESCRIBE", URI, digest(nonceOf(a.digestChallenge()), URI), "cam-a")).toBe("ok");
    expect(a.usedNonces).toBe(1);
  });

  it("digestUser reads the account of a header", () => {
    expect(ViewerAuth.digestUser(digest("n", URI, { user: "nvr" }))).toBe("nvr");
    expect(ViewerAuth.digestUser("Basic x")).toBeNull();
  });
});
