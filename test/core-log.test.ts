/** Issue 14, logs: level filtering, journal mode (no timestamps, syslog priorities), JSON lines, env knobs in one place. */
import { describe, expect, test } from "bun:test";
import { spawnSync } from "node:child_process";
import { closeSync, fstatSync, mkdtempSync, openSync, readdirSync, readFileSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { VPNKIT_ENV } from "../lib/core/env.ts";
import { isJournalStream, Logger, parseLogLevel } from "../lib/core/log.ts";

const T = new Date("2026-12-06T17:00:00.123Z");
const mk = (o: Partial<ConstructorParameters<typeof Logger>[0]> = {}) => {
  const out: string[] = [];
  return { out, log: new Logger({ write: (l) => out.push(l), now: () => T, ...o }) };
};

describe("Logger", () => {
  test("level filtering: each level lets through itself and the more severe ones", () => {
    const want = { error: ["error"], warn: ["error", "warn"], info: ["error", "warn", "info"], debug: ["error", "warn", "info", "debug"] } as const;
    for (const [level, passes] of Object.entries(want)) {
      const { out, log } = mk({ level: parseLogLevel(level)! });
      log.error("e", "ike");
      log.warn("w", "cfg");
      log.info("i", "net");
      log.debug("d", "dp");
      expect(out.map((l) => l.split(" ")[1].replace(":", ""))).toEqual([...passes]);
    }
    expect(parseLogLevel("verbose")).toBeNull();
  });

  test("text: ISO-8601 time, level, subsystem tag", () => {
    const { out, log } = mk();
    log.info("IKE SA established", "ike");
    log.warn("two\nlines", "esp");
    expect(out).toEqual(["2026-12-06T17:00:00.123Z info: [ike] IKE SA established\n", "2026-12-06T17:00:00.123Z warn: [esp] two\n2026-12-06T17:00:00.123Z warn: [esp] lines\n"]);
  });

  test("journal: no timestamps, syslog priority prefixes <3> <4> <6> <7>", () => {
    const { out, log } = mk({ format: "journal", level: "debug" });
    log.error("e", "ike");
    log.warn("w", "cfg");
    log.info("i", "net");
    log.debug("d", "dp");
    expect(out).toEqual(["<3>[ike] e\n", "<4>[cfg] w\n", "<6>[net] i\n", "<7>[dp] d\n"]);
    for (const l of out) expect(l).not.toMatch(/\d{4}-\d\d-\d\dT/);
  });

  test("json: one object per line with time, level, subsystem, msg and fields", () => {
    const { out, log } = mk({ format: "json" });
    log.info("connected", "net", { remote: "192.0.2.2", port: 4500, n: 1n });
    log.debug("hidden", "dp");
    expect(out.length).toBe(1);
    expect(out[0].endsWith("\n") && !out[0].slice(0, -1).includes("\n")).toBe(true);
    expect(JSON.parse(out[0])).toEqual({ time: "2026-12-06T17:00:00.123Z", level: "info", subsystem: "net", msg: "connected", remote: "192.0.2.2", port: 4500, n: "1" });
  });

  test("the IKE driver's log(level, msg) callback shape, with an optional subsystem", () => {
    const { out, log } = mk({ format: "journal" });
    const f = log.fn("ike");
    f("info", "a");
    f("warn", "b", "esp");
    log.line("net")("c");
    expect(out).toEqual(["<6>[ike] a\n", "<4>[esp] b\n", "<6>[net] c\n"]);
  });

  test("JOURNAL_STREAM: journal mode only when it names stderr's device and inode", () => {
    const d = mkdtempSync(join(tmpdir(), "vko-log-"));
    try {
      const fd = openSync(join(d, "f"), "w");
      const st = fstatSync(fd);
      expect(isJournalStream(`${st.dev}:${st.ino}`, fd)).toBe(true);
      expect(isJournalStream(`${st.dev}:${st.ino + 1}`, fd)).toBe(false);
      expect(isJournalStream(undefined, fd)).toBe(false);
      expect(isJournalStream("garbage", fd)).toBe(false);
      closeSync(fd);
      // end to end: `vpnkit up` with stderr on a file JOURNAL_STREAM names logs in journal format
      const errFile = join(d, "err");
      const efd = openSync(errFile, "w");
      const est = statSync(errFile);
      const r = spawnSync(process.execPath, [join(import.meta.dir, "../cli/main.ts"), "up", "--local", "192.0.2.1", "--remote", "192.0.2.2", "--tun-addr", "10.9.0.1/30", "--route", "10.9.0.2/32", "--cipher", "aes256gcm16", "--spi-out", "0x1001", "--spi-in", "0x1002"], {
        env: { ...process.env, JOURNAL_STREAM: `${est.dev}:${est.ino}` }, stdio: ["ignore", "ignore", efd], timeout: 60_000,
      });
      closeSync(efd);
      expect(r.status).toBe(2);
      expect(readFileSync(errFile, "utf8")).toBe("<3>[cfg] config: sa.key_out: missing (sa.key_out or sa.key_out_file)\n");
    } finally {
      rmSync(d, { recursive: true, force: true });
    }
  });
});

describe("VPNKIT_* environment variables", () => {
  test("read in one place: no process.env.VPNKIT_ outside lib/core/env.ts, and every one read is listed", () => {
    const root = join(import.meta.dir, "..");
    const files: string[] = [];
    const walk = (dir: string) => {
      for (const e of readdirSync(dir, { withFileTypes: true })) {
        const p = join(dir, e.name);
        if (e.isDirectory()) walk(p);
        else if (p.endsWith(".ts")) files.push(p);
      }
    };
    walk(join(root, "lib"));
    walk(join(root, "cli"));
    const listed = new Set<string>(VPNKIT_ENV.map((v) => v.name));
    for (const f of files) {
      const text = readFileSync(f, "utf8");
      expect(text.includes("process.env.VPNKIT_") || /process\.env\[["']VPNKIT_/.test(text), f).toBe(false);
      for (const m of text.matchAll(/vpnkitEnv\("(VPNKIT_[A-Z0-9_]+)"\)/g)) expect(listed.has(m[1]), `${f}: ${m[1]}`).toBe(true);
    }
  });
});
