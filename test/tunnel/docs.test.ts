/**
 * Issue 14, docs in the binary: the man page's CONFIGURATION lists every key of the schema
 * (lib/tunnel/config-keys.ts, held equal to the Raw* shapes of config.ts), `vpnkit config
 * example` prints configs the real loader accepts, and those configs start tunnels in
 * namespaces (vko1/vko2). Help and man page name no source-tree path.
 */
import { afterAll, describe, expect, test } from "bun:test";
import { spawn, spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { CONFIG_KEYS, CONFIG_SECTIONS, unknownConfigKeys } from "../../lib/tunnel/config-keys.ts";
import { isIkeConfig, loadConfigFile, validateConfig, validateIkeConfig, validateMtuResponder } from "../../lib/tunnel/config.ts";
import { validateOps } from "../../lib/tunnel/ops-config.ts";
import { BUN, hexKey, missingPrereq, ROOT, startUp, stopUp, until, vkoDown, vkoUp, waitControl } from "./vko-ns.ts";

const dir = mkdtempSync(join(tmpdir(), "vko-docs-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function cli(args: string[]): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync(BUN, [join(ROOT, "cli/main.ts"), ...args], { encoding: "utf8", timeout: 60_000 });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

/** The snake_case keys declared in an interface of config.ts (`name?: unknown;`), with `prefix.`. */
function interfaceKeys(src: string, name: string, prefix = ""): string[] {
  const start = src.indexOf(`export interface ${name} {`);
  expect(start, name).toBeGreaterThanOrEqual(0);
  let depth = 0, i = src.indexOf("{", start), body = "";
  for (; i < src.length; i++) {
    if (src[i] === "{") depth++;
    if (src[i] === "}" && --depth === 0) break;
    body += src[i];
  }
  const keys: string[] = [];
  let nested = "";
  for (const line of body.split("\n").slice(1)) {
    const open = /^\s{2}(\w+)\?: \{$/.exec(line);
    if (open) {
      nested = open[1];
      continue;
    }
    if (/^\s{2}\};$/.test(line)) {
      nested = "";
      continue;
    }
    const m = /^\s+(\w+)\?: unknown;/.exec(line);
    if (m) keys.push(prefix + (nested ? `${nested}.` : "") + m[1]);
  }
  return keys;
}

describe("configuration keys", () => {
  test("CONFIG_KEYS is exactly the keys of RawConfig, [sa], RawIke, RawMtuResponder, RawConnection, RawChild and RawSecret", () => {
    const src = readFileSync(join(ROOT, "lib/tunnel/config.ts"), "utf8");
    const conn = readFileSync(join(ROOT, "lib/tunnel/config-connections.ts"), "utf8");
    const fromSource = [
      ...interfaceKeys(src, "RawConfig"), ...interfaceKeys(src, "RawIke", "ike."), ...interfaceKeys(src, "RawMtuResponder", "mtu_responder."),
      ...interfaceKeys(conn, "RawConnection", "connections.NAME."), ...interfaceKeys(conn, "RawChild", "connections.NAME.children.CHILD."), ...interfaceKeys(conn, "RawSecret", "secrets.ID."),
    ].sort();
    expect(CONFIG_KEYS.map((k) => k.key).sort()).toEqual(fromSource);
    expect(new Set(CONFIG_KEYS.map((k) => k.key)).size).toBe(CONFIG_KEYS.length);
  });

  test("the man page's CONFIGURATION section lists every schema key, and nothing else", () => {
    const man = cli(["man"]).stdout;
    const sec = man.slice(man.indexOf(".SH CONFIGURATION"), man.indexOf(".SH", man.indexOf(".SH CONFIGURATION") + 4));
    const listed = [...sec.matchAll(/^\.TP\n\\fB([^\\]+(?:\\-[^\\]+)*)\\fR/gm)].map((m) => m[1].replace(/\\-/g, "-"));
    expect(listed).toEqual(CONFIG_KEYS.map((k) => k.key));
    for (const h of [".SH FILES", ".SH SIGNALS", ".SH EXIT STATUS", ".SH SEE ALSO", ".SH ENVIRONMENT"]) expect(man).toContain(h);
    // one Examples heading, no phantom --color
    expect(man.slice(man.indexOf(".SH EXAMPLES"), man.indexOf(".SH EXAMPLES") + 40)).not.toContain("Examples:");
    expect(man.slice(man.indexOf(".SH ENVIRONMENT"))).not.toContain("color");
  });

  test("unknown keys are found (typos are not silently ignored) and `vpnkit up` warns about them", () => {
    expect(unknownConfigKeys({ local: "x", kelog: "y", sa: { cipher: "a", ciper: "b" }, ike: { psk: "x" } })).toEqual(["kelog", "sa.ciper"]);
    expect(CONFIG_SECTIONS).toEqual(["sa", "ike", "mtu_responder"]);
    const f = join(dir, "typo.toml");
    writeFileSync(f, 'local = "192.0.2.1"\nkelog = "x"\n', { mode: 0o600 });
    const r = cli(["up", "-c", f]);
    expect(r.status).toBe(2);
    expect(r.stderr).toContain(`vpnkit up: config: unknown key kelog in ${f} (ignored; see \`man vpnkit\`, CONFIGURATION)`);
  });

  test("help and man page name no source-tree path", () => {
    const texts = [cli(["man"]).stdout, cli(["--help"]).stdout, cli(["up", "--help"]).stdout, cli(["decode", "--help"]).stdout, cli(["config", "example", "--help"]).stdout];
    for (const t of texts) expect(t).not.toMatch(/\b(lib|docs|scripts|bench|fixtures)\/[\w./-]+/);
  });
});

/** `vpnkit config example KIND` with /etc/vpnkit paths moved to `d`. */
function example(kind: string, d: string, over: (s: string) => string = (s) => s): string {
  const r = cli(["config", "example", `--${kind}`]);
  expect(r.status).toBe(0);
  const f = join(d, `${kind}.toml`);
  writeFileSync(f, over(r.stdout.replaceAll("/etc/vpnkit/", d + "/")), { mode: 0o600 });
  return f;
}

describe("vpnkit config example", () => {
  test("every example parses through the real loader, validates, and has only known keys", () => {
    writeFileSync(join(dir, "peer.psk"), "an-example-pre-shared-key-0123\n", { mode: 0o600 });
    for (const k of ["out.key", "in.key"]) writeFileSync(join(dir, k), hexKey(36, k.length) + "\n", { mode: 0o600 });
    for (const kind of ["manual", "server", "client"]) {
      const raw = loadConfigFile(example(kind, dir));
      expect(unknownConfigKeys(raw as Record<string, unknown>), kind).toEqual([]);
      validateOps(raw);
      validateMtuResponder(raw);
      if (kind === "manual") {
        expect(isIkeConfig(raw)).toBe(false);
        expect(validateConfig(raw).sa.cipher).toBe("aes256gcm16");
      } else {
        expect(validateIkeConfig(raw).ike.responder).toBe(kind === "server");
      }
    }
    expect(cli(["config", "example"]).stdout).toBe(cli(["config", "example", "--manual"]).stdout);
    expect(cli(["config", "example", "--server", "--client"]).status).toBe(2);
  });
});

const reason = missingPrereq();
const CI = process.env.CI === "true";
if (reason && !CI) console.warn(`[skip] test/tunnel/docs.test.ts namespaces: ${reason}`);
const run = reason && !CI ? describe.skip : describe;

run("the examples start tunnels (vko1 <-> vko2)", () => {
  test("`config example --server` and `--client` (IKEv2, PSK): a ping crosses the tunnel", async () => {
    if (reason) throw new Error(`CI=true and a prerequisite is missing: ${reason}`);
    const d = mkdtempSync(join(dir, "ike-"));
    writeFileSync(join(d, "peer.psk"), "an-example-pre-shared-key-0123\n", { mode: 0o600 });
    // the same files with only the control socket moved out of /run (several tests run at once)
    const srv = example("server", d, (s) => s.replace('"/run/vpnkit-vpnkit0.sock"', `"${join(d, "s.sock")}"`));
    const cl = example("client", d, (s) => s.replace('"/run/vpnkit-vpnkit0.sock"', `"${join(d, "c.sock")}"`));
    vkoUp();
    // the client runs with a NOTIFY_SOCKET (as under systemd): READY=1 only once its Child SA is up
    const notes: string[] = [];
    const lp = spawn("python3", ["-c", "import socket,sys,json\ns=socket.socket(socket.AF_UNIX,socket.SOCK_DGRAM)\ns.bind(sys.argv[1])\nprint(json.dumps('BOUND'),flush=True)\nwhile True: print(json.dumps(s.recv(4096).decode()),flush=True)", join(d, "n.sock")], { stdio: ["ignore", "pipe", "inherit"] });
    let buf = "";
    lp.stdout!.on("data", (x) => {
      buf += x;
      for (let i; (i = buf.indexOf("\n")) >= 0; buf = buf.slice(i + 1)) notes.push(JSON.parse(buf.slice(0, i)));
    });
    const s = startUp("vko2", ["--config", srv]);
    let c: ReturnType<typeof startUp> | null = null;
    try {
      await until(() => notes.includes("BOUND"), 10_000, "the notify listener");
      await waitControl(s, join(d, "s.sock"));
      c = startUp("vko1", ["--config", cl], { NOTIFY_SOCKET: join(d, "n.sock") });
      const cc = c;
      await until(() => notes.some((n) => n.split("\n").includes("READY=1")) || cc.proc.exitCode !== null, 30_000, "READY=1 from the IKEv2 initiator");
      const ready = notes.find((n) => n.split("\n").includes("READY=1"))!;
      expect(ready).toContain("STATUS=IKEv2 initiator on vpnkit0, peer 192.0.2.2: up");
      // at that moment the tunnel carries packets
      expect(spawnSync("ip", ["netns", "exec", "vko1", "ping", "-c", "1", "-W", "2", "10.2.0.1"]).status, c.log()).toBe(0);
      await waitControl(c, join(d, "c.sock"));
      let ok = false;
      await until(() => {
        ok = spawnSync("ip", ["netns", "exec", "vko1", "ping", "-c", "1", "-W", "1", "10.2.0.1"]).status === 0;
        return ok || c!.proc.exitCode !== null;
      }, 30_000, "a ping through the IKEv2 tunnel");
      expect(ok, c.log() + s.log()).toBe(true);
      expect(c.log()).toMatch(/info: \[ike\] /);
    } finally {
      if (c) await stopUp(c);
      await stopUp(s);
      lp.kill();
      vkoDown();
    }
  }, 120_000);
});
