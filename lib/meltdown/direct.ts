/**
 * PEER mode: measure through tunnels that already run (`vpnkit up` over UDP and over TCP to
 * the same peer, `iperf3 -s` on the peer), on the network's own path: no loss or delay is
 * added. Outer retransmissions come from `ss -tin` on the TCP connection to PEER.
 * @module
 */
import { spawn } from "node:child_process";
import { run } from "./lab.ts";
import { type MeltdownRun, parseIperfJson, parsePingAvg, parseSsCc, parseSsRetrans, toRun, type Transport } from "./measure.ts";

export interface DirectOptions {
  tunnel: string;
  transport: Transport;
  peer: string;
  inner: string;
  durationSec: number;
  cc: string | null;
  outerPort?: number;
  iperfPort?: number;
}

export async function measureDirect(o: DirectOptions): Promise<MeltdownRun> {
  const port = o.outerPort ?? 4500;
  const idle = parsePingAvg(run("ping", ["-c", "5", "-i", "0.2", "-q", "-W", "2", o.inner], 10_000, true));
  const peer = o.peer.includes(":") ? `[${o.peer}]` : o.peer;
  const ssArgs = ["-tin", "state", "established", "dst", `${peer}:${port}`];
  const before = o.transport === "tcp" ? parseSsRetrans(run("ss", ssArgs, 5000, true)) : null;
  const out = await new Promise<string>((res) => {
    const c = spawn("timeout", [String(o.durationSec + 20), "iperf3", "-c", o.inner, "-p", String(o.iperfPort ?? 5201), "-t", String(o.durationSec), "-i", "0.5", "-J", "--get-server-output", ...(o.cc ? ["-C", o.cc] : [])], { stdio: ["ignore", "pipe", "ignore"] });
    let s = "";
    c.stdout!.on("data", (x) => (s += x));
    c.once("exit", () => res(s));
  });
  const ssAfter = o.transport === "tcp" ? run("ss", ssArgs, 5000, true) : "";
  const after = o.transport === "tcp" ? parseSsRetrans(ssAfter) : null;
  const res = toRun({ tunnel: o.tunnel, transport: o.transport, loss: null, idleRttMs: idle, outerBefore: before, outerAfter: after, r: parseIperfJson(out) });
  if (o.transport === "tcp") res.outerCc = parseSsCc(ssAfter);
  return res;
}
