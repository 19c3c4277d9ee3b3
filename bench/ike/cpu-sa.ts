/**
 * Responder CPU per handshake with K IKE SAs held (issue 12, "CPU per handshake"), in one
 * process, no root, no sockets: bench/ike/held.sh's responder {@link IkeDriver} (the server
 * driver of `vpnkit up --responder`: PSK, aes256gcm16-prfsha256-x25519, ESP aes256gcm16,
 * dpd/rekey 0, the real text Logger rendering every line) first takes K IKE SAs + 1 Child SA
 * each (own identity h<i>@example.org and selector 10.1.x.y/32, as loadgen.ts --hold), then
 * a churn of M handshakes (establish + Delete, identities c<i>@example.org) while they are
 * held. Messages are handed over synchronously; only the time inside the responder (its
 * onDatagram and its 1 s tick, CPU time by getrusage, driven by a simulated clock at `--rate` handshakes/s) is
 * counted, not the initiators'. The packet path is a sink that only zeroes the keys (the
 * data-plane worker's share is not in here: see held.sh for the whole process).
 *
 *   bun bench/ike/cpu-sa.ts [--hold 1000] [--count 5000] [--rate 500] [--rounds 3]
 *   bun --cpu-prof --cpu-prof-md bench/ike/cpu-sa.ts ...   (where the time goes)
 *
 * Prints one JSON line per round: µs of responder CPU per churn handshake (and the whole process's, initiators included), and the 1 s
 * ticks' µs per held SA.
 * @module
 */
import { IkeSa } from "../../lib/ike/v2/sa/ike-sa.ts";
import type { Action } from "../../lib/ike/v2/sa/types.ts";
import type { ChildSaSink } from "../../lib/tunnel/child-sink.ts";
import { mergeRawIke, validateIkeConfig } from "../../lib/tunnel/config.ts";
import { IkeDriver } from "../../lib/tunnel/ike-driver.ts";
import { Logger } from "../../lib/core/log.ts";

const argv = process.argv.slice(2);
const opt = (k: string, d: string) => {
  const i = argv.indexOf(k);
  return i >= 0 ? argv[i + 1] : d;
};
const HOLD = Number(opt("--hold", "1000"));
const COUNT = Number(opt("--count", "5000"));
const RATE = Number(opt("--rate", "500"));
const ROUNDS = Number(opt("--rounds", "3"));
const PSK = "vpnkit-bench-psk-0123456789";
const SERVER = "192.0.2.2", CLIENT = "192.0.2.1";

const sink: ChildSaSink = { install: (c) => { c.keyIn.fill(0); c.keyOut.fill(0); }, remove: () => {} };
const rcfg = validateIkeConfig(mergeRawIke({ local: SERVER }, {
  psk: PSK, responder: true, local_ts: ["10.2.0.0/24"], remote_ts: ["10.1.0.0/16"], local_id: "sw@example.org",
  ike_proposal: ["aes256gcm16-prfsha256-x25519"], esp_proposal: ["aes256gcm16"], dpd: 0, rekey: 0, ike_rekey: 0,
  limits: { block_threshold: 100000, cookie_threshold: 100000, half_open_max: 100000, max_sas: 1000000, init_rate: 0 },
} as never), () => new Uint8Array(0));

let clock = 1_000_000;
let logBytes = 0;
const logger = new Logger({ level: "info", format: "text", write: (l) => void (logBytes += l.length), now: () => new Date(clock) });
const toClient: Uint8Array[] = [];
let ticker: (() => void) | null = null;
const server = new IkeDriver({
  cfg: rcfg, sink, now: () => clock,
  log: (l, m) => logger.log(l, m, "ike"),
  setInterval: (fn) => { ticker = fn; return 1; }, clearInterval: () => {},
  send: (b) => toClient.push(b.slice(4)),
});
server.start();

/** CPU time (getrusage: all threads, so JIT and GC helpers too) inside the responder, ms; wall time is no measure on a shared VM. */
let inside = 0;
const cpuMs = () => {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1000;
};
function toServer(data: Uint8Array): void {
  const b = new Uint8Array(4 + data.length);
  b.set(data, 4);
  const t = cpuMs();
  server.onDatagram(b, CLIENT, 4500);
  inside += cpuMs() - t;
}
let nextTick = clock + 1000, tickMs = 0, ticks = 0;
function advance(ms: number): void {
  clock += ms;
  while (clock >= nextTick && ticker) {
    nextTick += 1000;
    const t = cpuMs();
    ticker();
    const d = cpuMs() - t;
    inside += d;
    tickMs += d;
    ticks++;
  }
}

function establish(id: string, i: number, del: boolean): void {
  const r = IkeSa.initiator({
    local: { address: CLIENT, port: 4500 }, remote: { address: SERVER, port: 4500 },
    localId: id, remoteId: "sw@example.org", psk: PSK, ikeProposals: ["aes256gcm16-prfsha256-x25519"], espProposals: ["aes256gcm16"],
    localTs: [`10.1.${(i >> 8) & 255}.${i & 255}/32`], remoteTs: ["10.2.0.0/24"], forceEncap: true, dpdDelay: 0, natKeepalive: 0,
  }, clock);
  let actions: Action[] = r.actions;
  let done = false;
  for (let round = 0; round < 10 && !done; round++) {
    for (const a of actions) {
      if (a.type === "send") toServer(a.data);
      else if (a.type === "established") done = true;
      else if (a.type === "failed") throw new Error(`handshake ${id}: ${a.reason}`);
    }
    actions = [];
    while (toClient.length) actions.push(...r.sa.receive(toClient.shift()!, { address: SERVER, port: 4500 }, clock));
  }
  if (!done) throw new Error(`handshake ${id} did not complete`);
  if (del) {
    for (const a of r.sa.delete(clock)) if (a.type === "send") toServer(a.data);
    toClient.length = 0;
  }
}

for (let i = 0; i < 200; i++) establish(`w${i}@example.org`, 40000 + i, true); // warm-up (JIT)
for (let i = 0; i < HOLD; i++) {
  establish(`h${i}@example.org`, i, false);
  advance(1);
}
let c = 0;
for (let round = 1; round <= ROUNDS; round++) {
  inside = 0; tickMs = 0; ticks = 0; logBytes = 0;
  const cpu0 = process.cpuUsage();
  for (let i = 0; i < COUNT; i++, c++) {
    establish(`c${c}@example.org`, 20000 + (c % 20000), true);
    advance(1000 / RATE);
  }
  const cpu = process.cpuUsage(cpu0);
  const st = server.manager.stats();
  console.log(JSON.stringify({
    round, hold: HOLD, handshakes: COUNT, held: st.sas,
    responderUsPerHandshake: +((inside / COUNT) * 1000).toFixed(1),
    tickUsPerHeldSa: ticks ? +((tickMs / ticks / Math.max(1, st.sas)) * 1000).toFixed(3) : null,
    logBytesPerHandshake: Math.round(logBytes / COUNT),
    processCpuUsPerHandshake: +(((cpu.user + cpu.system) / COUNT)).toFixed(1),
  }));
}
