/**
 * `vpnkit decode -i` on real interfaces, in namespaces vkla/vklb (veth vklae/vklbe,
 * deleted afterwards): strongSwan's charon in vkla initiates IKEv2 to 192.0.2.2, where
 * nobody answers, so it sends IKE_SA_INIT and retransmits it for several seconds before
 * giving up. While that exchange runs, `decode -i vklae` and `decode -i any` must already
 * have printed the IKE_SA_INIT line (streaming: an ordering assertion, the line comes
 * while `swanctl --initiate` is still waiting). A ping sent before must not be delivered
 * (the default kernel filter keeps IPsec only). `-c 2` stops by itself; `-w` writes a
 * pcapng tshark reads. A filter expression after -i replaces the default filter: `icmp`
 * shows the ping, `udp port 500` on any the IKE. Under CI=true missing prerequisites fail.
 */
import { afterAll, beforeAll, expect, test } from "bun:test";
import { type ChildProcess, spawn, spawnSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type Charon, missingPrereq, nsx, ROOT, startCharon, topoDownPair, topoUpPair } from "./harness.ts";
import { openCapture } from "../../lib/capture/index.ts";

const A = "vkla", B = "vklb";
const why = missingPrereq();
if (why && process.env.CI === "true") throw new Error(`live capture test: ${why}`);
const run = why === null;

let charon: Charon | undefined;
const kids: ChildProcess[] = [];
const dir = mkdtempSync(join(tmpdir(), "vkl-livecap-"));

beforeAll(() => {
  if (run) topoUpPair(A, B);
});
afterAll(async () => {
  for (const k of kids) if (k.exitCode === null) k.kill("SIGKILL");
  await charon?.stop();
  if (run) topoDownPair(A, B);
  rmSync(dir, { recursive: true, force: true });
});

interface Decoder {
  p: ChildProcess;
  out(): string;
  err(): string;
  exited: Promise<number | null>;
  /** Resolves when stdout matches `re` (rejects if the process ends first). */
  line(re: RegExp): Promise<string>;
}

function decode(args: string[], cmd: string[] = ["decode", "--utc"]): Decoder {
  const p = spawn("ip", ["netns", "exec", A, process.execPath, join(ROOT, "cli/main.ts"), ...cmd, ...args], { stdio: ["ignore", "pipe", "pipe"] });
  kids.push(p);
  let out = "", err = "";
  const waiters: (() => void)[] = [];
  const wake = () => {
    for (const w of waiters.splice(0)) w();
  };
  p.stdout!.on("data", (d: Buffer) => ((out += d.toString()), wake()));
  p.stderr!.on("data", (d: Buffer) => ((err += d.toString()), wake()));
  const exited = new Promise<number | null>((r) => p.on("exit", (c) => (r(c), wake())));
  const until = async (get: () => string, re: RegExp) => {
    for (;;) {
      const m = re.exec(get());
      if (m) return m[0];
      if (p.exitCode !== null || p.signalCode !== null) throw new Error(`decode ${args.join(" ")} ended (${p.exitCode}): ${err}`);
      await new Promise<void>((r) => waiters.push(r));
    }
  };
  const d: Decoder = { p, out: () => out, err: () => err, exited, line: (re) => until(() => out, re) };
  (d as Decoder & { ready: Promise<string> }).ready = until(() => err, /listening on \S+/);
  return d;
}

const ready = (d: Decoder) => (d as Decoder & { ready: Promise<string> }).ready;

test.skipIf(!run)("decode -i VETH and -i any print IKE_SA_INIT while the exchange runs; ping is filtered out; -c 2; -w pcapng; diagnose -i on SIGINT", async () => {
  const wfile = join(dir, "any.pcapng");
  const one = decode(["-i", `${A}e`]);
  const any = decode(["-i", "any", "-w", wfile]);
  const two = decode(["-i", `${A}e`, "-c", "2"]);
  const dia = decode(["-i", "any"], ["diagnose"]);
  // a filter expression after -i replaces the default IPsec-only filter (as tcpdump's does)
  const icmp = decode(["-i", `${A}e`, "icmp"]);
  const u500 = decode(["-i", "any", "udp", "port", "500"]);
  for (const d of [one, any, two, dia, icmp, u500]) await ready(d);
  expect(icmp.err()).toContain(`listening on ${A}e (filter: icmp)`);
  expect(u500.err()).toContain("listening on any (filter: udp port 500)");
  // not IPsec: must not be delivered by the kernel filter
  expect(nsx(A, "ping", ["-c", "2", "-i", "0.2", "-W", "1", "192.0.2.2"])).toContain("2 received");
  // ... but the `icmp` filter shows the echo request, numbered from 1
  expect(await icmp.line(/^ +1 \S+ \S+ 192\.0\.2\.1 > 192\.0\.2\.2 ICMP Echo Request /m)).toBeTruthy();

  charon = await startCharon(join(dir, "charon"), A);
  const conf = join(dir, "swanctl.conf");
  await Bun.write(conf, `connections { vkl { local_addrs = 192.0.2.1
    remote_addrs = 192.0.2.2
    version = 2
    proposals = aes128gcm16-prfsha256-x25519
    local { auth = psk
      id = a@example.org }
    remote { auth = psk
      id = b@example.org }
    children { vklc { esp_proposals = aes128gcm16
      start_action = none } } } }
secrets { ike-vkl { id = b@example.org
  secret = "vkl-live-capture-test-psk" } }
`);
  const load = charon.swanctl("--load-all", "--clear", "--file", conf);
  expect(load.status).toBe(0);
  // the exchange: IKE_SA_INIT and its retransmits, until charon gives up (several seconds)
  const init = spawn("ip", ["netns", "exec", A, "swanctl", "--initiate", "--child", "vklc", "--timeout", "30", "--uri", `unix://${join(dir, "charon", "charon.vici")}`], { stdio: "ignore" });
  kids.push(init);
  let initDone = false;
  const initExit = new Promise<void>((r) => init.on("exit", () => ((initDone = true), r())));
  const re = /^ +1 \S+ \S+ 192\.0\.2\.1\.500 > 192\.0\.2\.2\.500 IKEv2 IKE_SA_INIT request I mid 0 /m;
  const reAny = /^ +1 \S+ \S+ vklae +Out 192\.0\.2\.1\.500 > 192\.0\.2\.2\.500 IKEv2 IKE_SA_INIT request I mid 0 /m;
  const reAnyFilter = /^ +\d+ \S+ \S+ vklae +Out 192\.0\.2\.1\.500 > 192\.0\.2\.2\.500 IKEv2 IKE_SA_INIT request I mid 0 /m;
  await Promise.all([one.line(re), any.line(reAny)]);
  // the lines came while the exchange was still running
  expect(initDone).toBe(false);
  // -c 2: the first transmission and the first retransmit, then it exits by itself
  expect(await two.exited).toBe(0);
  expect(two.out().trim().split("\n").length).toBe(2);
  expect(two.err()).toMatch(/2 packets captured/);
  await initExit;
  for (const d of [one, any]) {
    d.p.kill("SIGINT");
    expect(await d.exited).toBe(130);
    expect(d.err()).toMatch(/\d+ packets captured, 0 dropped by kernel/);
    const lines = d.out().trim().split("\n");
    expect(lines.length).toBeGreaterThanOrEqual(2); // retransmits
    for (const l of lines) expect(l).toContain("IKE_SA_INIT request");
    expect(d.out()).not.toContain("ICMP");
  }
  await u500.line(reAnyFilter);
  for (const d of [icmp, u500]) {
    d.p.kill("SIGINT");
    expect(await d.exited).toBe(130);
  }
  expect(icmp.out()).not.toContain("IKE");
  expect(u500.out()).not.toContain("ICMP");
  // diagnose -i: the diagnosis on SIGINT, from what was captured
  dia.p.kill("SIGINT");
  expect(await dia.exited).toBe(130);
  expect(dia.out()).toContain("NO_RESPONSE");
  expect(dia.err()).toMatch(/\d+ packets captured/);
  // -w: the packets of -i any, as pcapng with cooked (SLL2) headers, readable by tshark
  const recs = [];
  for await (const b of (await openCapture(wfile)).batches()) for (const r of b) recs.push(r);
  expect(recs.length).toBe(any.out().trim().split("\n").length);
  expect(recs.every((r) => r.linkType === 276)).toBe(true);
  const ts = spawnSync("tshark", ["-r", wfile, "-T", "fields", "-e", "sll.pkttype", "-e", "isakmp.exchangetype", "-e", "frame.interface_name", "-e", "frame.packet_flags_direction"], { encoding: "utf8" });
  if (ts.status !== 0 && process.env.CI === "true") throw new Error(`tshark: ${ts.stderr}`);
  if (ts.status === 0) {
    const rows = ts.stdout.trim().split("\n");
    expect(rows.length).toBe(recs.length);
    for (const r of rows) expect(r).toBe("4\t34\tany\t0x00000002"); // sent by us, IKE_SA_INIT, on "any", outbound
  }
});

test.skipIf(!run)("decode -i on a missing interface: a usage error", () => {
  const r = spawnSync("ip", ["netns", "exec", A, process.execPath, join(ROOT, "cli/main.ts"), "decode", "-i", "vklnope"], { encoding: "utf8" });
  expect(r.status).toBe(2);
  expect(r.stderr).toContain("no such interface: vklnope");
});

test.skipIf(!run)("decode -i without CAP_NET_RAW: one line that says so", () => {
  // drop every capability (the bounding set too), stay root otherwise
  const r = spawnSync("ip", ["netns", "exec", A, "setpriv", "--inh-caps=-all", "--bounding-set=-all", process.execPath, join(ROOT, "cli/main.ts"), "decode", "-i", `${A}e`], { encoding: "utf8" });
  if (r.error) throw r.error;
  expect(r.status).toBe(4);
  expect(r.stderr.trim()).toBe("vpnkit decode: live capture needs root or CAP_NET_RAW (socket(AF_PACKET): Operation not permitted)");
});
