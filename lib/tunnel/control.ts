/**
 * Unix control socket (mode 0600). A client sends one command line and gets one JSON
 * document followed by a newline, then the server closes:
 * - `status` (or nothing within 200 ms, or end of input): the tunnel status
 *   ({@link TunnelStatus}); `vpnkit status` is the client. No keys are ever part of it.
 * - `reload`: re-read the configuration (as SIGHUP does) and answer a {@link ReloadResult};
 *   `vpnkit reload` is the client.
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

/** The answer to `reload`: applied, or refused with the reason (the old configuration stays). */
export interface ReloadResult {
  ok: boolean;
  /** One line: what changed, or why the new configuration was refused. */
  message: string;
}

/** Wait this long for a command before answering with the status (plain `connect and read` clients). */
const COMMAND_WAIT_MS = 200;

export class ControlServer {
  private server: Server | null = null;

  constructor(readonly path: string, private readonly snapshot: () => TunnelStatus, private readonly reload?: () => Promise<ReloadResult>) {}

  private statusBody(): string {
    try {
      return JSON.stringify(this.snapshot()) + "\n";
    } catch (e) {
      return JSON.stringify({ error: (e as Error).message }) + "\n";
    }
  }

  /** Listen; an existing stale socket file at the path is replaced, any other file is an error. */
  async listen(): Promise<void> {
    if (existsSync(this.path)) {
      if (!lstatSync(this.path).isSocket()) throw new Error(`control socket path ${this.path} exists and is not a socket`);
      if (await probe(this.path)) throw new Error(`control socket ${this.path} is in use by another vpnkit`);
      unlinkSync(this.path);
    }
    const srv = createServer((c) => {
      c.on("error", () => {});
      let line = "", done = false;
      const answer = (cmd: string) => {
        if (done) return;
        done = true;
        clearTimeout(t);
        c.removeAllListeners("data");
        if (cmd === "reload") {
          const r = this.reload ? this.reload() : Promise.resolve({ ok: false, message: "reload is not supported in this mode" });
          void r.catch((e) => ({ ok: false, message: (e as Error).message })).then((res) => c.end(JSON.stringify(res) + "\n"));
        } else if (cmd === "" || cmd === "status") c.end(this.statusBody());
        else c.end(JSON.stringify({ error: `unknown command "${cmd.slice(0, 40)}" (status, reload)` }) + "\n");
      };
      const t = setTimeout(() => answer(""), COMMAND_WAIT_MS);
      c.setEncoding("utf8");
      c.on("data", (d: string) => {
        line += d;
        const nl = line.indexOf("\n");
        if (nl >= 0) answer(line.slice(0, nl).trim());
        else if (line.length > 256) answer(line.slice(0, 256));
      });
      c.on("end", () => answer(line.trim()));
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
    c.write("status\n");
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

/** Ask a running `vpnkit up` to reload its configuration (`vpnkit reload`). */
export function requestReload(path: string, timeoutMs = 10_000): Promise<ReloadResult> {
  return new Promise((resolve, reject) => {
    const c = createConnection(path);
    c.write("reload\n");
    let data = "";
    const t = setTimeout(() => {
      c.destroy();
      reject(new Error(`timeout waiting for ${path}`));
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
        const r = JSON.parse(data) as ReloadResult & { error?: string };
        if (typeof r.ok !== "boolean") reject(new Error(r.error ?? `bad answer from ${path}`));
        else resolve(r);
      } catch {
        reject(new Error(`bad answer from ${path}`));
      }
    });
  });
}
