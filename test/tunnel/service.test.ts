/**
 * Issue 14, service: sd_notify (READY=1 only once the tunnel carries packets, STATUS=,
 * STOPPING=1), path and abstract NOTIFY_SOCKETs, and the vpnkit@.service template installed
 * by scripts/install.sh --systemd and accepted by `systemd-analyze verify`.
 * Namespaces vko1/vko2; skips with a reason off root/Linux unless CI=true (then fails).
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { type ChildProcess, spawn, spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { BUN, hexKey, missingPrereq, nsx, ROOT, startUp, stopUp, until, vkoDown, vkoUp, waitControl } from "./vko-ns.ts";

const reason = missingPrereq() ?? (spawnSync("sh", ["-c", "command -v systemd-analyze"]).status !== 0 ? "systemd-analyze not installed (Debian: systemd)" : null);
const CI = process.env.CI === "true";
if (reason && !CI) console.warn(`[skip] test/tunnel/service.test.ts: ${reason}`);
const run = reason && !CI ? describe.skip : describe;

/** A python3 AF_UNIX datagram listener on `addr` (a path, or "@name" for an abstract socket); one JSON string per datagram on stdout. */
function listener(addr: string): { proc: ChildProcess; msgs: () => string[]; ready: Promise<void> } {
  const py = `import socket,sys,json
s=socket.socket(socket.AF_UNIX,socket.SOCK_DGRAM)
a=sys.argv[1]
s.bind("\\0"+a[1:] if a.startswith("@") else a)
print(json.dumps("BOUND"),flush=True)
while True:
  d=s.recv(65536)
  print(json.dumps(d.decode()),flush=True)
`;
  const proc = spawn("python3", ["-c", py, addr], { stdio: ["ignore", "pipe", "inherit"] });
  let buf = "";
  const msgs: string[] = [];
  let bound: () => void = () => {};
  const ready = new Promise<void>((r) => (bound = r));
  proc.stdout!.on("data", (d) => {
    buf += d;
    let i;
    while ((i = buf.indexOf("\n")) >= 0) {
      const m = JSON.parse(buf.slice(0, i)) as string;
      buf = buf.slice(i + 1);
      if (m === "BOUND") bound();
      else msgs.push(m);
    }
  });
  return { proc, msgs: () => msgs, ready };
}

let dir = "";
beforeAll(() => {
  if (reason) {
    if (CI) throw new Error(`CI=true and a prerequisite is missing: ${reason}`);
    return;
  }
  dir = mkdtempSync(join(tmpdir(), "vko-svc-"));
});
afterAll(() => {
  if (dir) rmSync(dir, { recursive: true, force: true });
});

run("sd_notify", () => {
  test("sdNotifier: an abstract NOTIFY_SOCKET ('@name') and a path socket get the datagrams; no NOTIFY_SOCKET is a no-op", async () => {
    const { sdNotifier } = await import("../../lib/platform/bun/sd-notify.ts");
    expect(sdNotifier({}).notify("READY=1")).toBe(false);
    for (const addr of [`@vko-notify-${process.pid}`, join(dir, "n.sock")]) {
      const l = listener(addr);
      try {
        await l.ready;
        const n = sdNotifier({ NOTIFY_SOCKET: addr, WATCHDOG_USEC: "400000", WATCHDOG_PID: String(process.pid) });
        expect(n.enabled).toBe(true);
        expect(n.notify("READY=1\nSTATUS=up")).toBe(true);
        n.startWatchdog();
        await until(() => l.msgs().includes("WATCHDOG=1"), 5000, "WATCHDOG=1");
        n.close();
        expect(l.msgs()[0]).toBe("READY=1\nSTATUS=up");
      } finally {
        l.proc.kill();
      }
    }
  });

  test("`vpnkit up` (manual keys, vko1<->vko2) sends READY=1 only once the tunnel is up, then STOPPING=1 on SIGTERM", async () => {
    vkoUp();
    const l = listener(join(dir, "notify.sock"));
    const k12 = join(dir, "k12"), k21 = join(dir, "k21");
    writeFileSync(k12, hexKey(36, 0x12) + "\n", { mode: 0o600 });
    writeFileSync(k21, hexKey(36, 0x21) + "\n", { mode: 0o600 });
    const args = (me: number, peer: number, out: string, inn: string, spiOut: string, spiIn: string) => [
      "--local", `192.0.2.${me}`, "--remote", `192.0.2.${peer}`, "--cipher", "aes256gcm16", "--spi-out", spiOut, "--spi-in", spiIn,
      "--key-out-file", out, "--key-in-file", inn, "--tun-name", `vko${me}tun`, "--tun-addr", `10.9.0.${me}/30`, "--route", `10.9.0.${peer}/32`,
      "--control", join(dir, `vko${me}.sock`), "--keepalive", "1",
    ];
    const b = startUp("vko2", args(2, 1, k21, k12, "0xc0de2002", "0xc0de2001"));
    let a: ReturnType<typeof startUp> | null = null;
    try {
      await l.ready;
      await waitControl(b, join(dir, "vko2.sock"));
      a = startUp("vko1", args(1, 2, k12, k21, "0xc0de2001", "0xc0de2002"), { NOTIFY_SOCKET: join(dir, "notify.sock") });
      const side = a;
      // the moment READY=1 arrives, the tunnel must already carry packets
      await until(() => l.msgs().some((m) => m.split("\n").includes("READY=1")) || side.proc.exitCode !== null, 30_000, `READY=1 (log: ${a.log()})`);
      expect(a.proc.exitCode).toBeNull();
      const ping = spawnSync("ip", ["netns", "exec", "vko1", "ping", "-c", "1", "-W", "2", "10.9.0.2"], { encoding: "utf8" });
      expect(ping.status, ping.stdout + ping.stderr + a.log()).toBe(0);
      const ready = l.msgs().find((m) => m.includes("READY=1"))!;
      expect(ready).toMatch(/STATUS=tunnel vko1tun up \(manual keys, udp\) to 192\.0\.2\.2/);
      // nothing claimed readiness before: READY=1 is the first message
      expect(l.msgs()[0]).toBe(ready);
      expect(await stopUp(a)).toBe(0);
      expect(l.msgs().some((m) => m.includes("STOPPING=1"))).toBe(true);
    } finally {
      if (a) await stopUp(a);
      await stopUp(b);
      l.proc.kill();
      vkoDown();
    }
  }, 120_000);
});

run("vpnkit@.service", () => {
  test("scripts/install.sh --systemd installs the template (ExecStart = the installed executable), /etc/vpnkit 0700 and the man page; systemd-analyze verify accepts an instance", () => {
    const root = join(dir, "inst");
    const rel = join(root, "rel");
    mkdirSync(rel, { recursive: true });
    // the "release asset": vpnkit from this source tree
    const body = `#!/bin/sh\nexec ${BUN} ${join(ROOT, "cli/main.ts")} "$@"\n`;
    writeFileSync(join(rel, "vpnkit-9.9.9-linux-x64"), body);
    writeFileSync(join(rel, "SHA256SUMS"), `${createHash("sha256").update(body).digest("hex")}  vpnkit-9.9.9-linux-x64\n`);
    const units = join(root, "units"), etc = join(root, "etc/vpnkit"), man = join(root, "man");
    const r = spawnSync("sh", [join(ROOT, "scripts/install.sh"), "--base-url", rel, "--target", "linux-x64", "--prefix", join(root, "bin"), "--systemd",
      "--unit-dir", units, "--config-dir", etc, "--man-dir", join(man, "man1")], { encoding: "utf8", timeout: 120_000 });
    expect(r.status, r.stderr).toBe(0);
    const unit = readFileSync(join(units, "vpnkit@.service"), "utf8");
    expect(unit).toContain(`ExecStart=${join(root, "bin/vpnkit")} up --config /etc/vpnkit/%i.toml`);
    for (const d of ["Type=notify", "Restart=on-failure", "RestartPreventExitStatus=2", "CapabilityBoundingSet=CAP_NET_ADMIN CAP_NET_RAW CAP_NET_BIND_SERVICE", "ProtectSystem=strict", "PrivateTmp=yes", "ProtectHome=yes",
      "NoNewPrivileges=yes", "DeviceAllow=/dev/net/tun rw", "RestrictAddressFamilies=AF_INET AF_INET6 AF_UNIX AF_NETLINK AF_PACKET", "WatchdogSec="]) expect(unit).toContain(d);
    expect(statSync(etc).mode & 0o777).toBe(0o700);
    expect(readFileSync(join(man, "man1/vpnkit.1"), "utf8")).toContain(".SH CONFIGURATION");
    symlinkSync("vpnkit@.service", join(units, "vpnkit@office.service"));
    const v = spawnSync("systemd-analyze", ["verify", join(units, "vpnkit@office.service")], { encoding: "utf8", env: { ...process.env, MANPATH: man }, timeout: 60_000 });
    expect(v.stdout + v.stderr).toBe("");
    expect(v.status).toBe(0);
  }, 180_000);
});

test("the unit file in the source tree is the one the executable prints", async () => {
  const { systemdUnit } = await import("../../cli/config.ts");
  expect(systemdUnit()).toBe(readFileSync(join(ROOT, "scripts/systemd/vpnkit@.service"), "utf8"));
  expect(nsx).toBeDefined();
});
