/**
 * What a camera maker's rootfs overlay often ships: its own /etc/passwd and /etc/shadow (here
 * Buildroot's skeleton ones) with an extra admin account whose password is a Mirai default
 * (admin/admin). Overlays are copied after every package's target-finalize hook, so only
 * hardening that runs as rootfs policy (flussonic-harden's rootfs pre-command hook) sees it at
 * build time; buildroot.test.ts checks the built rootfs has it locked.
 */
import { execFileSync } from "node:child_process";
import type { ImageFile } from "./image.js";

export const MAKER_ADMIN = { user: "admin", password: "admin" };

const PASSWD = `root:x:0:0:root:/root:/bin/sh
daemon:x:1:1:daemon:/usr/sbin:/bin/false
bin:x:2:2:bin:/bin:/bin/false
sys:x:3:3:sys:/dev:/bin/false
sync:x:4:100:sync:/bin:/bin/sync
mail:x:8:8:mail:/var/spool/mail:/bin/false
www-data:x:33:33:www-data:/var/www:/bin/false
operator:x:37:37:Operator:/var:/bin/false
nobody:x:65534:65534:nobody:/home:/bin/false
admin:x:500:500:camera admin:/root:/bin/sh
`;

export function makerOverlayAccounts(): ImageFile[] {
  // md5-crypt with a fixed salt: the same overlay (and image cache key) on every run.
  const hash = execFileSync("perl", ["-e", "print crypt($ARGV[0], '$1$mak3rOvl$')", MAKER_ADMIN.password], { encoding: "utf8" });
  const shadow = ["root::::::::", ...["daemon", "bin", "sys", "sync", "mail", "www-data", "operator", "nobody"].map((u) => `${u}:*:::::::`),
    `${MAKER_ADMIN.user}:${hash}:::::::`].join("\n") + "\n";
  return [
    { path: "/etc/passwd", content: PASSWD, mode: 0o644 },
    { path: "/etc/shadow", content: shadow, mode: 0o600 },
  ];
}
