/**
 * Test-only responder driver for the interop test: runs inside a network namespace,
 * answers a strongSwan initiator with an IkeSa responder over node:dgram, and prints
 * every interesting action as a JSON line. Exits on "quit" on stdin or after 60 s.
 */
import { createSocket } from "node:dgram";
import { createInterface } from "node:readline";
import { IkeSa, type Action } from "../../../../lib/ike/v2/sa/ike-sa.ts";
import type { IkeSaConfig } from "../../../../lib/ike/v2/sa/types.ts";

const cfg = JSON.parse(process.argv[2]) as IkeSaConfig;
const sock = createSocket("udp4");
const natt = createSocket("udp4"); // NAT-T (port 4500)
const say = (o: object) => process.stdout.write(JSON.stringify(o) + "\n");
let sa: IkeSa | null = null;

function run(actions: Action[]): void {
  for (const a of actions) {
    switch (a.type) {
      case "send":
        if (a.natt) natt.send(Buffer.concat([Buffer.alloc(4), Buffer.from(a.data)]), a.to.port, a.to.address);
        else sock.send(Buffer.from(a.data), a.to.port, a.to.address);
        break;
      case "install-child":
        // test keys only: the test compares them with the ones charon logged
        say({ event: a.type, spiIn: a.child.spiIn, spiOut: a.child.spiOut, rekeyOf: a.child.rekeyOf, cipher: a.child.cipher, keyIn: Buffer.from(a.child.keyIn).toString("hex"), keyOut: Buffer.from(a.child.keyOut).toString("hex") });
        break;
      case "log":
        if (a.level !== "debug") say({ event: "log", msg: a.msg });
        break;
      case "keylog":
        break;
      case "established": case "failed": case "closed": case "remove-child": case "nat-detected": case "ike-rekeyed": case "virtual-ip":
        say({ event: a.type, ...a, ispi: undefined, rspi: undefined });
        break;
    }
  }
}

const onMessage = (msg: Buffer, rinfo: { address: string; port: number }) => {
  let d = new Uint8Array(msg);
  // after floating to NAT-T every IKE message carries a non-ESP marker
  if (d.length > 4 && (d[0] | d[1] | d[2] | d[3]) === 0) d = d.subarray(4);
  else if (d.length <= 4) return; // NAT keep-alive
  if (!sa || sa.state === "dead") sa = IkeSa.responder(cfg, Date.now());
  run(sa.receive(d, { address: rinfo.address, port: rinfo.port }, Date.now()));
};
sock.on("message", onMessage);
for (const s of [sock, natt]) s.on("error", (e) => { say({ event: "socket-error", msg: String(e) }); process.exit(1); });
natt.on("message", onMessage);

const timer = setInterval(() => { if (sa) run(sa.tick(Date.now())); }, 100);
const stop = () => { clearInterval(timer); sock.close(); natt.close(); process.exit(0); };
setTimeout(stop, 60000);
createInterface({ input: process.stdin }).on("line", (l) => { if (l.trim() === "quit") stop(); });
sock.bind(cfg.local.port, cfg.local.address, () => natt.bind(4500, cfg.local.address, () => say({ event: "ready" })));
