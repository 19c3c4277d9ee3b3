/**
 * Unix control socket: on every connection the server writes one JSON document
 * (the tunnel status, see {@link TunnelStatus}) followed by a newline, and closes.
 * `vpnkit status` is the client. No keys are ever part of the status.
 * @module
 */
import { chmodSync, existsSync, lstatSync, unlinkSync } from "node:fs";
import { createConnection, createServer, type Server } from "node:net";
import type { EngineCounters } from "./engine.ts";
import type { IkeStatus } from "./ike-driver.ts";

export interface TunnelStatus {
  version: 1;
  pid: number;
  startedAt: string;
  uptimeSec: number;
  tun: string;
  local: string;
  remote: string;
  cipher: string;
  spiOut: string;
  spiIn: string;
  tunnelMtu: number;
  /** The outer transport when it is not UDP ("tcp": RFC 9329; `local`/`remote` are then the connections' real endpoints). */
  transport?: "udp" | "tcp";
  counters: EngineCounters;
  /** Adapter-level counters (TUN / UDP), free-form numbers. */
  io?: Record<string, number>;
  /** IKEv2 mode: every IKE SA with its Child SAs, the manager's counters, limits and drops. */
  ike?: IkeStatus;
}

export class ControlServer {
  private server: Server | null = null;

  constructor(readonly path: string, private readonly snapshot: () => TunnelStatus) {}

  /** Listen; an existing stale socket file at the path is replaced, any other file is an error. */
  async listen(): Promise<void> {
    if (existsSync(this.path)) {
      if (!lstatSync(this.path).isSocket()) throw new Error(`control socket path ${this.path} exists and is not a socket`);
      if (await probe(this.path)) throw new Error(`control socket ${this.path} is in use by another vpnkit`);
      unlinkSync(this.path);
    }
    const srv = createServer((c) => {
      c.on("error", () => {});
      let body: string;
      try {
        body = JSON.stringify(this.snapshot()) + "\n";
      } catch (e) {
        body = JSON.stringify({ error: (e as Error).message }) + "\n";
      }
      c.end(body);
    });
    this.server = srv;
    await new Promise<void>((resolve, reject) => {
      srv.once("error", reject);
      srv.listen(this.path, () => {
        srv.off("error", reject);
        resolve();
      });
    });
    try {
      chmodSync(this.path, 0o600);
    } catch {
      // best effort
    }
  }

  close(): void {
    this.server?.close();
    this.server = null;
    try {
      if (existsSync(this.path)) unlinkSync(this.path);
    } catch {
      // ignore
    }
  }
}

function probe(path: string): Promise<boolean> {
  return new Promise((resolve) => {
    const c = createConnection(path);
    c.once("connect", () => {
      c.destroy();
      resolve(true);
    });
    c.once("error", () => resolve(false));
  });
}

/** Read the status from a control socket (rejects on connection errors or bad JSON). */
export function readStatus(path: string, timeoutMs = 3000): Promise<TunnelStatus> {
  return new Promise((resolve, reject) => {
    const c = createConnection(path);
    let data = "";
    const t = setTimeout(() => {
      c.destroy();
      reject(new Error(`timeout reading ${path}`));
    }, timeoutMs);
    c.setEncoding("utf8");
    c.on("data", (d) => (data += d));
    c.on("error", (e) => {
      clearTimeout(t);
      reject(new Error(`cannot connect to ${path}: ${e.message}`));
    });
    c.on("end", () => {
      clearTimeout(t);
      try {
        resolve(JSON.parse(data) as TunnelStatus);
      } catch {
        reject(new Error(`bad status from ${path}`));
      }
    });
  });
}
