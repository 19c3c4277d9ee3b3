/**
 * Test-only driver for the interop test: runs inside a network namespace, drives an
 * IkeSa initiator over node:dgram against strongSwan, and reports progress as JSON
 * lines on stdout. Between steps it waits for a line on stdin ("go").
 * Steps: establish → rekey the Child SA (+ DPD) → delete. Bounded by a 20 s budget per step.
 */
import { createSocket } from "node:dgram";
import { createInterface } from "node:readline";
import { IkeSa, type Action } from "../../../../lib/ike/v2/sa/ike-sa.ts";
import type { IkeSaConfig } from "../../../../lib/ike/v2/sa/types.ts";

const cfg = JSON.parse(process.argv[2]) as IkeSaConfig;
const sock = createSocket("udp4");
const say = (o: object) => process.stdout.write(JSON.stringify(o) + "\n");
const lines = createInterface({ input: process.stdin });
const waiting: ((l: string) => void)[] = [];
lines.on("line", (l) => waiting.shift()?.(l));
const nextLine = () => new Promise<string>((r) => waiting.push(r));

let sa: IkeSa;
const seen: Action[] = [];
function run(actions: Action[]): void {
  for (const a of actions) {
    seen.push(a);
    if (a.type === "send") sock.send(a.natt ? Buffer.concat([Buffer.alloc(4), Buffer.from(a.data)]) : Buffer.from(a.data), a.to.port, a.to.address);
    if (a.type === "log" && a.level !== "debug") say({ log: a.msg });
    if (a.type === "failed") say({ failed: a.reason, notify: a.notify });
  }
}

async function until(pred: () => boolean, ms = 20000): Promise<boolean> {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    if (pred()) return true;
    run(sa.tick(Date.now()));
    await new Promise((r) => setTimeout(r, 50));
  }
  return pred();
}

sock.on("message", (msg, rinfo) => {
  let d = new Uint8Array(msg);
  if (rinfo.port === 4500) {
    if (d.length < 4 || d[0] | d[1] | d[2] | d[3]) return; // ESP or keep-alive
    d = d.subarray(4);
  }
  run(sa.receive(d, { address: rinfo.address, port: rinfo.port }, Date.now()));
});

sock.bind(cfg.local.port, cfg.local.address, async () => {
  const r = IkeSa.initiator(cfg, Date.now());
  sa = r.sa;
  run(r.actions);
  const count = (t: string) => seen.filter((a) => a.type === t).length;
  const ok1 = await until(() => count("install-child") === 1 || count("failed") > 0 || sa.state === "dead");
  const child = seen.find((a) => a.type === "install-child") as Extract<Action, { type: "install-child" }> | undefined;
  const hex = (b?: Uint8Array) => (b ? Buffer.from(b).toString("hex") : undefined); // test keys, compared with charon's log
  say({ step: "established", ok: ok1 && !!child && sa.state === "established", natt: sa.natt, natDetected: count("nat-detected"), localBehindNat: sa.localBehindNat, remoteBehindNat: sa.remoteBehindNat, spiIn: child?.child.spiIn, spiOut: child?.child.spiOut, keyIn: hex(child?.child.keyIn), keyOut: hex(child?.child.keyOut) });
  await nextLine();
  if (child) {
    run(sa.rekeyChild(child.child.spiIn, Date.now()));
    await until(() => count("remove-child") === 1 || count("failed") > 0);
    run(sa.dpd(Date.now()));
    await until(() => seen.some((a) => a.type === "log" && a.msg.includes("liveness check answered")) || count("failed") > 0);
    const nc = seen.filter((a) => a.type === "install-child")[1] as Extract<Action, { type: "install-child" }> | undefined;
    say({ step: "rekeyed", ok: !!nc && count("remove-child") === 1, dpdAnswered: seen.some((a) => a.type === "log" && a.msg.includes("liveness check answered")), spiIn: nc?.child.spiIn, spiOut: nc?.child.spiOut, keyIn: hex(nc?.child.keyIn), keyOut: hex(nc?.child.keyOut) });
    await nextLine();
  }
  run(sa.delete(Date.now()));
  await until(() => sa.state === "dead");
  say({ step: "deleted", ok: sa.state === "dead" && count("failed") === 0 });
  sock.close();
  process.exit(0);
});
