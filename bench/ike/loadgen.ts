/**
 * IKEv2 handshake load generator: N concurrent initiators, each driven by the I/O-free
 * IkeSa core (lib/ike/v2/sa), over one UDP socket with the non-ESP marker (UDP/4500).
 * A handshake counts when IKE_SA_INIT + IKE_AUTH (PSK, first Child SA) completed; the
 * generator then sends a Delete (not waited for) and starts the next one. Bounded by
 * --count and --time. Prints one JSON line.
 *
 *   bun bench/ike/loadgen.ts --target 192.0.2.2 --local 192.0.2.1 --psk-file F -n 32 --count 100000 --time 20
 *
 * With --hold K (issue 12) it first establishes K IKE SAs (+ their first Child SA) and keeps
 * them (no Delete; their messages are still answered), each with its own identity
 * (h<i>@example.org) and traffic selector (10.1.x.y/32), then runs the churn above while they
 * are held, the churn's SAs also with their own identities (c<i>@...) and selectors, so a
 * responder's unique-ID / INITIAL_CONTACT rule replaces none of them. With --responder-pid P
 * it reads P's VmRSS (/proc/P/status) before and after the K SAs and P's CPU time over the
 * measured part of the churn; --check-cmd CMD (sh -c) runs once the K SAs are up and its
 * trimmed output is recorded (the count of SAs the responder reports).
 */
import dgram from "node:dgram";
import { execSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { IkeSa } from "../../lib/ike/v2/sa/ike-sa.ts";
import type { Action } from "../../lib/ike/v2/sa/types.ts";

const argv = process.argv.slice(2);
const opt = (k: string, d?: string) => {
  const i = argv.indexOf(k);
  return i >= 0 ? argv[i + 1] : d;
};
const target = opt("--target", "192.0.2.2")!;
const local = opt("--local", "192.0.2.1")!;
const port = Number(opt("--port", "4500"));
const conc = Number(opt("-n", "16"));
const maxCount = Number(opt("--count", "100000"));
const maxSec = Number(opt("--time", "20"));
const warmSec = Number(opt("--warmup", "2"));
const psk = readFileSync(opt("--psk-file")!, "utf8").trim();
const localId = opt("--id", "vk@example.org")!;
const remoteId = opt("--remote-id", "sw@example.org")!;
const ikeProp = opt("--ike-proposal", "aes256gcm16-prfsha256-x25519")!;
const hold = Number(opt("--hold", "0"));
const rpid = opt("--responder-pid");
const checkCmd = opt("--check-cmd");
const settleMs = Number(opt("--settle", "3")) * 1000;
const warm = Number(opt("--warm", "0"));

const rssKb = () => {
  if (!rpid) return null;
  try {
    const m = /VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${rpid}/status`, "utf8"));
    return m ? Number(m[1]) : null;
  } catch { return null; }
};
const clk = rpid ? Number(execSync("getconf CLK_TCK").toString().trim()) : 100;
const cpuSec = () => {
  if (!rpid) return 0;
  try {
    const f = readFileSync(`/proc/${rpid}/stat`, "utf8");
    const r = f.slice(f.lastIndexOf(")") + 2).split(" ");
    return (Number(r[11]) + Number(r[12])) / clk; // utime, stime (fields 14, 15)
  } catch { return 0; }
};
// index i -> 10.1.x.y/32 (i < 65536)
const tsOf = (i: number) => `10.1.${(i >> 8) & 255}.${i & 255}/32`;

const sock = dgram.createSocket("udp4");
let sendErrors = 0;
sock.on("error", () => sendErrors++);
await new Promise<void>((r) => sock.bind(port, local, () => r()));

const live = new Map<string, { sa: IkeSa; t0: number }>();
const held = new Map<string, IkeSa>();
let holding = hold > 0, holdStarted = 0, holdFailed = 0;
let warming = false, warmStarted = 0, warmDone = 0, warmFailed = 0;
let started = 0, completed = 0, failed = 0, completedWarm = 0;
const lat: number[] = [];
const reasons: Record<string, number> = {};
let tWarm = 0;
let stopping = false;
const hex = (b: Uint8Array) => Buffer.from(b.buffer, b.byteOffset, b.length).toString("hex");

function send(a: Extract<Action, { type: "send" }>): void {
  const b = Buffer.allocUnsafe(4 + a.data.length);
  b.writeUInt32BE(0, 0);
  b.set(a.data, 4);
  sock.send(b, a.to.port, a.to.address);
}

function handle(key: string, sa: IkeSa, actions: Action[], t0: number): void {
  let done = false, bad = false;
  for (const a of actions) {
    if (a.type === "send") send(a);
    else if (a.type === "established") done = true;
    else if (a.type === "failed" || a.type === "closed") {
      bad = true;
      const why = a.reason.replace(/[0-9a-f]{16}/g, "*");
      reasons[why] = (reasons[why] ?? 0) + 1;
    }
  }
  if (warming) {
    if (done && !bad) for (const a of sa.delete(performance.now())) if (a.type === "send") send(a);
    if (done || bad) { live.delete(key); if (bad) warmFailed++; else warmDone++; nextWarm(); }
    return;
  }
  if (holding) {
    if (done && !bad) { held.set(key, sa); live.delete(key); }
    else if (bad) { holdFailed++; live.delete(key); }
    if (done || bad) nextHold();
    return;
  }
  if (done && !bad) {
    completed++;
    const now = performance.now();
    if (now - T0 >= warmSec * 1000) {
      if (tWarm === 0) { tWarm = now; cpuW0 = cpuSec(); }
      completedWarm++;
      lat.push(now - t0);
    }
    for (const a of sa.delete(now)) if (a.type === "send") send(a);
    live.delete(key);
    next();
  } else if (bad) {
    failed++;
    live.delete(key);
    next();
  }
}

const cfg = (id: string, ts: string) => ({
  local: { address: local, port }, remote: { address: target, port },
  localId: id, remoteId, psk, ikeProposals: [ikeProp], espProposals: ["aes256gcm16"],
  localTs: [ts], remoteTs: ["10.2.0.0/24"], forceEncap: true, dpdDelay: 0, natKeepalive: 0,
  retransmitTimeout: 2000, retransmitTries: 2,
});
function nextHold(): void {
  if (holdStarted >= hold) return;
  const i = holdStarted++;
  const now = performance.now();
  const r = IkeSa.initiator(cfg(`h${i}@example.org`, tsOf(i)), now);
  const key = hex(r.sa.spii);
  live.set(key, { sa: r.sa, t0: now });
  handle(key, r.sa, r.actions, now);
}

function nextWarm(): void {
  if (warmStarted >= warm) return;
  const i = warmStarted++;
  const now = performance.now();
  const r = IkeSa.initiator(cfg(`w${i}@example.org`, tsOf(hold + (i % (65536 - hold)))), now);
  const key = hex(r.sa.spii);
  live.set(key, { sa: r.sa, t0: now });
  handle(key, r.sa, r.actions, now);
}

function next(): void {
  // also checked here: a busy socket can hold the timers back
  if (performance.now() - T0 >= maxSec * 1000) stopping = true;
  if (stopping || started >= maxCount) return;
  const i = started++;
  const now = performance.now();
  const r = IkeSa.initiator(hold > 0 ? cfg(`c${i}@example.org`, tsOf(hold + (i % (65536 - hold)))) : cfg(localId, "10.1.0.0/24"), now);
  const key = hex(r.sa.spii);
  live.set(key, { sa: r.sa, t0: now });
  handle(key, r.sa, r.actions, now);
}

sock.on("message", (m: Buffer) => {
  if (m.length < 4 + 28 || m.readUInt32BE(0) !== 0) return;
  const d = new Uint8Array(m.buffer, m.byteOffset + 4, m.length - 4);
  const key = hex(d.subarray(0, 8));
  const h = held.get(key);
  if (h) {
    for (const a of h.receive(d, { address: target, port }, performance.now())) if (a.type === "send") send(a);
    return;
  }
  const e = live.get(key);
  if (!e) return;
  handle(key, e.sa, e.sa.receive(d, { address: target, port }, performance.now()), e.t0);
});

const ticker = setInterval(() => {
  const now = performance.now();
  for (const [k, e] of [...live]) handle(k, e.sa, e.sa.tick(now), e.t0);
  for (const sa of held.values()) for (const a of sa.tick(now)) if (a.type === "send") send(a);
}, 250);

let holdInfo: Record<string, unknown> | undefined;
let warmInfo: Record<string, unknown> | undefined;
if (warm > 0) {
  // --warm N: N handshakes established and deleted before the baseline RSS is read, so that one-time
  // costs of the first handshakes (JIT-compiled code, code pages, grown tables and pools) are in the
  // baseline and the per-SA figure is the marginal cost of a held SA (applied to every responder alike)
  warming = true;
  const w0 = performance.now(), rssCold = rssKb();
  for (let i = 0; i < conc; i++) nextWarm();
  await new Promise<void>((r) => {
    const check = setInterval(() => {
      if ((warmStarted >= warm && live.size === 0) || performance.now() - w0 > 120_000) { clearInterval(check); r(); }
    }, 20);
  });
  warming = false;
  await new Promise((r) => setTimeout(r, settleMs)); // the Deletes reach the responder
  warmInfo = { warm, warmDone, warmFailed, warmSec: Number(((performance.now() - w0) / 1000).toFixed(2)), rssColdKb: rssCold };
}
if (hold > 0) {
  const rss0 = rssKb();
  const h0 = performance.now();
  for (let i = 0; i < conc; i++) nextHold();
  await new Promise<void>((r) => {
    const check = setInterval(() => {
      if ((holdStarted >= hold && live.size === 0) || performance.now() - h0 > 120_000) { clearInterval(check); r(); }
    }, 20);
  });
  const holdSec = (performance.now() - h0) / 1000;
  await new Promise((r) => setTimeout(r, settleMs));
  const rss1 = rssKb();
  let check: string | null = null;
  if (checkCmd) try { check = execSync(checkCmd, { shell: "/bin/sh" }).toString().trim(); } catch (e) { check = `error: ${(e as Error).message.split("\n")[0]}`; }
  holding = false;
  holdInfo = {
    hold, held: held.size, holdFailed, holdSec: Number(holdSec.toFixed(2)), holdPerSec: Number((held.size / holdSec).toFixed(1)),
    rssBeforeKb: rss0, rssHeldKb: rss1, rssPerSaKb: rss0 !== null && rss1 !== null && held.size ? Number(((rss1 - rss0) / held.size).toFixed(2)) : null,
    responderCheck: check,
  };
}
let cpuW0 = 0;
const T0 = performance.now();
for (let i = 0; i < conc; i++) next();
await new Promise<void>((r) => {
  const check = setInterval(() => {
    if (performance.now() - T0 >= maxSec * 1000 || ((stopping || started >= maxCount) && live.size === 0)) {
      clearInterval(check);
      r();
    }
  }, 50);
});
stopping = true;
const T1 = performance.now();
const cpuW1 = cpuSec();
let checkAfter: string | null = null;
if (checkCmd && hold > 0) {
  await new Promise((r) => setTimeout(r, 1000)); // the last Deletes reach the responder
  try { checkAfter = execSync(checkCmd, { shell: "/bin/sh" }).toString().trim(); } catch (e) { checkAfter = `error: ${(e as Error).message.split("\n")[0]}`; }
}
clearInterval(ticker);
lat.sort((a, b) => a - b);
const q = (p: number) => (lat.length ? Number(lat[Math.min(lat.length - 1, Math.floor(p * lat.length))].toFixed(1)) : null);
const measured = tWarm ? (T1 - tWarm) / 1000 : 0;
console.log(JSON.stringify({
  target, concurrency: conc, seconds: Number(((T1 - T0) / 1000).toFixed(2)), warmupSec: warmSec, started, completed, failed,
  inFlight: live.size, sendErrors, handshakesPerSec: measured > 0 ? Number((completedWarm / measured).toFixed(1)) : 0,
  latencyMs: { p50: q(0.5), p90: q(0.9), p99: q(0.99) }, failReasons: reasons,
  ...(rpid ? { responderCpuMeasuredSec: Number((cpuW1 - cpuW0).toFixed(2)), responderCpuMsPerHandshake: completedWarm ? Number((1000 * (cpuW1 - cpuW0) / completedWarm).toFixed(3)) : null, rssAfterKb: rssKb() } : {}),
  ...(warmInfo ?? {}), ...(holdInfo ?? {}), ...(checkAfter !== null ? { responderCheckAfter: checkAfter } : {}),
  loadgenCpuSec: Number(((process.cpuUsage().user + process.cpuUsage().system) / 1e6).toFixed(2)),
}));
sock.close();
process.exit(0);
