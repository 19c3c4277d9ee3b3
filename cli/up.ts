/**
 * `vpnkit up` (manual-key ESP-in-UDP tunnel over a TUN device) and `vpnkit status`.
 * Thin: parse flags into the config's raw shape, pick the mode (IKEv2 or manual keys),
 * validate (lib/tunnel/config.ts), start (lib/platform/bun/up.ts or ike-up.ts), stop on
 * SIGINT/SIGTERM; one flow for both modes.
 */
import { Command } from "@commander-js/extra-typings";
import { ConfigError, loadConfigFile, mergeRaw, type RawConfig, type TunnelConfig, validateConfig } from "../lib/tunnel/config.ts";
import { type IkeTunnelConfig, isIkeConfig, mergeRawIke, validateIkeConfig } from "../lib/tunnel/config.ts";
import { type MtuResponderSettings, type RawMtuResponder, validateMtuResponder } from "../lib/tunnel/config.ts";
import { readSecretFile, UsageError } from "./responder.ts";
import { vpnkitEnv } from "../lib/core/env.ts";
import { isJournalStream, Logger } from "../lib/core/log.ts";
import { SecretFileError } from "../lib/core/secret.ts";
import { KeylogError, prepareKeylog } from "../lib/tunnel/keylog.ts";
import { unknownConfigKeys } from "../lib/tunnel/config-keys.ts";
import { checkSecretFiles, type OpsSettings, validateOps } from "../lib/tunnel/ops-config.ts";
import type { ReloadPlan } from "../lib/tunnel/config-reload.ts";
import type { ReloadResult } from "../lib/tunnel/control.ts";

export { statusCommand } from "./status.ts";

function collect(v: string, prev: string[]): string[] {
  return [...prev, v];
}

export function upCommand(): Command {
  const cmd = new Command("up")
    .description("bring up an IPsec tunnel on a TUN device: IKEv2 (--peer, --responder) or manual keys; ESP in UDP or TCP (needs root or CAP_NET_ADMIN)")
    .option("-c, --config <file>", "TOML configuration (`vpnkit config example`, `man vpnkit` CONFIGURATION); flags override it")
    .option("--local <addr>", "local outer address (IPv4 or IPv6)")
    .option("--port <n>", "local UDP port: ESP in UDP, and IKE after NAT-D (default 4500)")
    .option("--remote <addr>", "peer's outer address")
    .option("--remote-port <n>", "peer's UDP port (default 4500; IKEv2: where IKE_SA_INIT goes, default 500)")
    .option("--ike-port <n>", "IKEv2: local plain IKE port, IPv4 and IPv6 (default 500; 0 = IKE on --port only)")
    .option("--cipher <name>", "aes128gcm16 | aes256gcm16 | chacha20poly1305")
    .option("--spi-out <spi>", "outbound SPI (0x... or decimal)")
    .option("--spi-in <spi>", "inbound SPI")
    .option("--key-out-file <file>", "outbound key||salt (hex text or raw bytes)")
    .option("--key-in-file <file>", "inbound key||salt")
    .option("--esn", "extended sequence numbers")
    .option("--tun-name <name>", "TUN interface name (default vpnkit0)")
    .option("--tun-addr <cidr>", "inner address with prefix, e.g. 10.9.0.1/30 (repeatable)", collect, [] as string[])
    .option("--route <cidr>", "remote subnet routed into the tunnel (repeatable)", collect, [] as string[])
    .option("--mtu <n>", "outer path MTU (default 1500); the tunnel MTU is derived")
    .option("--tun-mtu <n>", "MTU set on the TUN (default: the tunnel MTU)")
    .option("--keepalive <sec>", "NAT-keepalive interval in seconds, 0 = off (default 20)")
    .option("--keep-warm <ms>", "manual keys: after recent traffic, keep the packet path warm with a loopback packet every MS when idle (lower idle latency, ~3.5% CPU while active); 0 = off (default 2)")
    .option("--keylog <file>", "write SA keys to FILE (vpnkit format), FILE.esp_sa and FILE.ikev2_decryption_table (Wireshark); created new with mode 0600, an existing file is refused")
    .option("--keylog-append", "append to an existing key log (must be a regular file owned by us with mode 0600)")
    .option("--strict", "refuse secret files (PSK, keys, a config with inline keys) readable by group/others instead of warning")
    .option("--log-level <level>", "error | warn | info | debug (default info; VPNKIT_DEBUG=1: debug)")
    .option("--log-format <format>", "text (ISO-8601 times) | journal (syslog priority prefixes) | json (one object per line); default journal when stderr is the systemd journal, else text")
    .option("--control <path>", "control socket path (default /run/vpnkit-<tun>.sock)")
    .option("--transport <udp|tcp>", "outer transport: udp (ESP-in-UDP, default) or tcp (RFC 9329 framing; IKEv2: IKE and ESP in one connection to port 4500)")
    .option("--tcp-role <client|server>", "with --transport tcp: server listens on --local:--port, client connects to --remote:--remote-port (IKEv2: follows --responder)")
    // IKEv2 mode (issue 4): any of these switches from manual keys to negotiation
    .option("--peer <addr>", "IKEv2: the peer's address (same as --remote)")
    .option("--psk-file <file>", "IKEv2: pre-shared key file")
    .option("--local-ts <cidr>", "IKEv2: local traffic selector (repeatable)", collect, [] as string[])
    .option("--remote-ts <cidr>", "IKEv2: remote traffic selector (repeatable)", collect, [] as string[])
    .option("--ike-proposal <p>", "IKEv2: IKE proposal, strongSwan syntax, e.g. aes256gcm16-prfsha256-x25519 or aes128-aes256-sha256-ecp256-x25519; comma-separated or repeatable; default = the safe set", collect, [] as string[])
    .option("--esp-proposal <p>", "IKEv2: ESP proposal: aes256gcm16 | aes128gcm16 | chacha20poly1305 | aes128-sha256, aes256-sha512, ... (AES-CBC 128/256 with HMAC sha1/sha256/sha384/sha512) [-x25519 PFS] [-esn|-noesn]; comma-separated or repeatable", collect, [] as string[])
    .option("--allow-modp1024", "IKEv2: accept modp1024 (MODP_1024, weak) in a proposal")
    .option("--local-id <id>", "IKEv2: our identity (default: the local address the IKE SA uses)")
    .option("--remote-id <id>", "IKEv2: the identity the peer must prove (default: any)")
    .option("--responder", "IKEv2: wait for the peer to initiate")
    .option("--dpd <sec>", "IKEv2: liveness check after SEC idle seconds, 0 = off (default 30)")
    .option("--retry", "IKEv2 initiator: start over when negotiation fails or the SA dies")
    .option("--encap", "IKEv2: UDP-encapsulate ESP (port 4500) even without a NAT (default: ESP as IP protocol 50 between directly connected hosts)")
    .option("--rekey <sec>", "IKEv2: rekey the Child SA every SEC seconds, 0 = never (default 3600)")
    .option("--ike-rekey <sec>", "IKEv2: rekey the IKE SA every SEC seconds, 0 = never (default 14400)")
    .option("--cert <file>", "IKEv2: our certificate (PEM); with --key: authenticate with a signature instead of the PSK")
    .option("--key <file>", "IKEv2: our private key (PEM)")
    .option("--ca <file>", "IKEv2: CA certificate (PEM) trusted for the peer's certificate (repeatable)", collect, [] as string[])
    .option("--eap-user <name>", "IKEv2 initiator: authenticate with EAP-MSCHAPv2 as NAME (the server signs; give --ca)")
    .option("--eap-password-file <file>", "IKEv2 initiator: file holding the EAP-MSCHAPv2 password")
    .option("--crl <file|dir>", "IKEv2: CRL file (DER/PEM) or folder of CRLs for the peer's certificate path (repeatable)", collect, [] as string[])
    .option("--revocation <policy>", "IKEv2: strict | ifuri | relaxed (default relaxed), as strongSwan's revocation")
    .option("--eku <policy>", "IKEv2: warn | strict: a peer certificate whose extended key usage has no IKE purpose is accepted with a warning (default, as strongSwan) or refused (RFC 4945)")
    .option("--virtual-ip", "IKEv2 initiator (road warrior): ask the peer for an inner address and put it on the TUN")
    .option("--pool <cidr>", "IKEv2 responder (road-warrior server): give clients that ask a virtual IP from CIDR (one IPv4 and one IPv6 prefix; repeatable)", collect, [] as string[])
    .option("--dns <addr>", "IKEv2 responder with --pool: DNS server sent with the virtual IP (repeatable)", collect, [] as string[])
    .option("--mtu-responder-secret-file <file>", "once up, answer `vpnkit mtu` probes on the tunnel's inner address with this shared secret")
    .option("--mtu-responder-port <n>", "UDP port of that responder (default 4501)")
    .action(async (o) => {
      const num = (s: string | undefined) => (s === undefined ? undefined : /^\d+(\.\d+)?$/.test(s) ? Number(s) : s);
      const over: RawConfig = {
        local: o.local,
        local_port: num(o.port),
        remote: o.remote,
        remote_port: num(o.remotePort),
        tun_name: o.tunName,
        tun_addr: o.tunAddr.length ? o.tunAddr : undefined,
        routes: o.route.length ? o.route : undefined,
        mtu: num(o.mtu),
        tun_mtu: num(o.tunMtu),
        keepalive: num(o.keepalive),
        keep_warm: num(o.keepWarm),
        keylog: o.keylog,
        control: o.control,
        transport: o.transport,
        tcp_role: o.tcpRole,
        sa: {
          cipher: o.cipher,
          spi_out: o.spiOut,
          spi_in: o.spiIn,
          key_out_file: o.keyOutFile,
          key_in_file: o.keyInFile,
          esn: o.esn ? true : undefined,
        },
      };
      const ikeOver = {
        psk_file: o.pskFile, local_ts: o.localTs.length ? o.localTs : undefined, remote_ts: o.remoteTs.length ? o.remoteTs : undefined,
        ike_proposal: o.ikeProposal.length ? o.ikeProposal : undefined, esp_proposal: o.espProposal.length ? o.espProposal : undefined,
        local_id: o.localId, remote_id: o.remoteId, responder: o.responder ? true : undefined, dpd: num(o.dpd),
        retry: o.retry ? true : undefined, rekey: num(o.rekey), ike_rekey: num(o.ikeRekey),
        cert: o.cert, key: o.key, ca: o.ca.length ? o.ca : undefined, crl: o.crl.length ? o.crl : undefined, eap_user: o.eapUser, eap_password_file: o.eapPasswordFile, revocation: o.revocation, eku: o.eku, virtual_ip: o.virtualIp ? true : undefined,
        pool: o.pool.length ? o.pool : undefined, dns: o.dns.length ? o.dns : undefined, port: num(o.ikePort),
        allow_modp1024: o.allowModp1024 ? true : undefined,
        encap: o.encap ? true : undefined,
      };
      if (o.peer !== undefined) over.remote = o.peer;
      const mrOver: RawMtuResponder = { secret_file: o.mtuResponderSecretFile, port: num(o.mtuResponderPort) };
      const ikeBase = o.config ? (() => {
        try {
          return loadConfigFile(o.config);
        } catch (e) {
          process.stderr.write(`vpnkit up: ${(e as Error).message}\n`);
          process.exit(2);
        }
      })() : {};
      const opsOver = { keylog_append: o.keylogAppend ? true : undefined, strict: o.strict ? true : undefined, log_level: o.logLevel, log_format: o.logFormat };
      const ctx: UpContext = opsContext(mergeRawIke(mergeRaw(ikeBase, over), ikeOver), o.config, opsOver);
      for (const k of unknownConfigKeys(ikeBase as Record<string, unknown>)) ctx.warn(`config: unknown key ${k} in ${o.config} (ignored; see \`man vpnkit\`, CONFIGURATION)`);
      // the mode switch: IKEv2 (--peer, --responder, [ike]) or manual keys; the rest is one flow
      const ike = o.peer !== undefined || isIkeConfig(mergeRawIke(ikeBase, ikeOver));
      // SIGHUP / `vpnkit reload`: the file again, under the same flags
      const reread = (): Reread => {
        const base = o.config ? loadConfigFile(o.config) : {};
        return { raw: mergeRawIke(mergeRaw(base, over), ikeOver), unknown: unknownConfigKeys(base as Record<string, unknown>), configPath: o.config, opsOver };
      };
      await up(ike, ike ? mergeRawIke(mergeRaw(ikeBase, over), ikeOver) : mergeRaw(ikeBase, over), ctx, mrOver, reread);
    });
  return cmd as unknown as Command;
}

type Running = { stop(): void | Promise<void>; ikeState?: () => string; reload?: (next: IkeTunnelConfig) => ReloadPlan };

/** A re-read configuration (reload). */
interface Reread {
  raw: RawConfig;
  unknown: string[];
  configPath: string | undefined;
  opsOver: Parameters<typeof validateOps>[1];
}

/** Both modes' start: the tunnel each runs, logging through the one logger. */
async function start(ike: boolean, cfg: TunnelConfig | IkeTunnelConfig, log: Logger, onFatal: (why: string) => void, onReloadRequest: () => Promise<ReloadResult>): Promise<Running> {
  // lazy: bun:ffi/libc only when the command runs (the module must load off Linux)
  if (!ike) {
    const { startTunnel } = await import("../lib/platform/bun/up.ts");
    return startTunnel(cfg as TunnelConfig, log.line("net"), { onFatal });
  }
  const { startIkeTunnel } = await import("../lib/platform/bun/ike-up.ts");
  const t = await startIkeTunnel(cfg as IkeTunnelConfig, log.fn("ike"), { onReloadRequest });
  // the reason is already logged
  void t.fatal.then(() => onFatal(""));
  return { stop: () => t.stop(), ikeState: () => t.driver.status().state, reload: (next) => t.reload(next) };
}

/** `vpnkit up`: exit 2 on a config error, 1 when the tunnel cannot start, 4 when it dies (or IKE fails for good). */
async function up(ike: boolean, raw: RawConfig, ctx: UpContext, mrOver: RawMtuResponder, reread: () => Reread): Promise<void> {
  let cfg: TunnelConfig | IkeTunnelConfig;
  let mr: MtuResponderSettings | null = null;
  try {
    cfg = ike ? validateIkeConfig(raw) : validateConfig(raw);
    mr = validateMtuResponder(raw, mrOver);
  } catch (e) {
    if (e instanceof ConfigError) ctx.fail(e.message, 2);
    throw e;
  }
  const c = cfg;
  if ("ike" in c) for (const w of c.ike.proposalWarnings ?? []) ctx.warn(w);
  if (process.platform !== "linux") ctx.fail(`needs Linux (TUN device via /dev/net/tun); this is ${process.platform}`, 1);
  ctx.keylog(c.keylog, () => {
    if ("ike" in c) c.ike.psk.fill(0);
    else {
      c.sa.keyOut.fill(0);
      c.sa.keyIn.fill(0);
    }
  });
  const mrSecret = mtuResponderSecret(mr, ctx);
  const log = ctx.log;
  const notifier = await serviceNotifier();
  let onFatal = (why: string) => void why;
  let t: Running | undefined;
  // reloads run one after the other (SIGHUP and `vpnkit reload` alike)
  let reloading: Promise<ReloadResult> = Promise.resolve({ ok: true, message: "" });
  const reload = (why: string): Promise<ReloadResult> => {
    reloading = reloading.then(async () => {
      notifierRef?.notify("RELOADING=1");
      const r = t ? reloadConfig(why, t, reread, log) : { ok: false, message: "not running yet" };
      notifierRef?.notify("READY=1");
      return r;
    });
    return reloading;
  };
  let notifierRef: { notify(s: string): void } | null = null;
  try {
    t = await start(ike, cfg, log, (why) => onFatal(why), () => reload("vpnkit reload"));
  } catch (e) {
    ctx.fail((e as Error).message, 1);
  }
  const tunnel = t;
  const stopMr = await startMtuResponder(mr, mrSecret, cfg.tunAddr, () => void tunnel.stop(), ctx);
  // readiness (sd_notify): manual keys and an IKEv2 responder once listening; an initiator once
  // its first Child SA is installed (the tunnel carries packets). STATUS= follows the IKE state.
  if ("ike" in c) {
    const ikeName = `IKEv2 ${c.ike.responder ? "responder" : "initiator"} on ${c.tunName}, peer ${c.ike.remoteAny ? "any" : c.remote}`;
    if (c.ike.responder) notifier.notify(`READY=1\nSTATUS=${ikeName}: listening`);
    if (notifier.enabled && tunnel.ikeState) {
      const state = tunnel.ikeState;
      let last = "", ready = c.ike.responder;
      const poll = setInterval(() => {
        const st = state();
        if (st === last) return;
        last = st;
        notifier.notify(`${!ready && st === "up" ? "READY=1\n" : ""}STATUS=${ikeName}: ${st}`);
        if (st === "up") ready = true;
      }, 250);
      (poll as { unref?: () => void }).unref?.();
    }
  } else notifier.notify(`READY=1\nSTATUS=tunnel ${c.tunName} up (manual keys, ${c.transport}) to ${c.remote}`);
  notifier.startWatchdog();
  notifierRef = notifier;
  process.on("SIGHUP", () => void reload("SIGHUP"));
  let exiting = false;
  const stop = async (why: string, code: number) => {
    if (exiting) return;
    exiting = true;
    if (why) {
      if (code === 0) log.info(`${why}, tearing down`, "cfg");
      else log.error(`${why}; tearing down`, "dp");
    }
    notifier.notify(`STOPPING=1${why ? `\nSTATUS=${why}, tearing down` : ""}`);
    stopMr();
    await tunnel.stop();
    process.exit(code);
  };
  onFatal = (why) => void stop(why, 4);
  process.on("SIGINT", () => void stop("SIGINT", 0));
  process.on("SIGTERM", () => void stop("SIGTERM", 0));
  process.on("exit", () => {
    stopMr();
    void tunnel.stop();
  });
}

/**
 * Reload (SIGHUP, `vpnkit reload`): re-read the file under the same flags, check it as at
 * start (secret file modes, validation), then let the running tunnel apply the difference
 * (lib/tunnel/config-reload.ts). A configuration that does not validate is refused with
 * the reason in one line, and the running one stays. Manual keys do not reload.
 */
function reloadConfig(why: string, t: Running, reread: () => Reread, log: Logger): ReloadResult {
  const refuse = (m: string): ReloadResult => {
    const message = `reload refused: ${m}; the running configuration stays`;
    log.error(message, "cfg");
    return { ok: false, message };
  };
  if (!t.reload) return refuse("manual keys cannot be reloaded (restart vpnkit up)");
  let next: IkeTunnelConfig;
  let logLevel: OpsSettings["logLevel"];
  try {
    const r = reread();
    log.info(`${why}: re-reading ${r.configPath ?? "the command line"}`, "cfg");
    for (const k of r.unknown) log.warn(`config: unknown key ${k} in ${r.configPath} (ignored; see \`man vpnkit\`, CONFIGURATION)`, "cfg");
    const ops = validateOps(r.raw, r.opsOver);
    checkSecretFiles(r.raw, r.configPath, { warn: (m) => log.warn(m, "cfg"), strict: ops.strict });
    if (!isIkeConfig(r.raw)) throw new ConfigError("ike", "the new configuration is not IKEv2 mode (switching modes needs a restart)");
    next = validateIkeConfig(r.raw);
    logLevel = ops.logLevel;
  } catch (e) {
    if (e instanceof ConfigError || e instanceof SecretFileError) return refuse(e.message);
    return refuse(`config: ${(e as Error).message}`);
  }
  let plan: ReloadPlan;
  try {
    plan = t.reload(next);
  } catch (e) {
    next.ike.psk.fill(0);
    for (const s of next.secrets ?? []) s.psk.fill(0);
    return refuse((e as Error).message);
  }
  if (logLevel && logLevel !== log.level) {
    log.level = logLevel;
    plan.applied.push("log_level");
  }
  for (const k of plan.restart) log.warn(`reload: ${k} changed, which needs a restart: keeping the running value`, "cfg");
  const part = (what: string, l: string[]) => (l.length ? [`${what} ${l.join(", ")}`] : []);
  const message = `reload: ${[
    ...part("added", plan.added), ...part("removed", plan.removed), ...part("changed", plan.changed), ...part("unchanged", plan.unchanged),
    ...part("applied", plan.applied), ...part("needs a restart", plan.restart),
  ].join("; ")}`;
  log.info(message, "cfg");
  return { ok: true, message };
}

/** What the two modes share once the configuration is read: the logger, refusals, the key log. */
interface UpContext {
  ops: OpsSettings;
  log: Logger;
  /** A warning before the tunnel starts (`vpnkit up: MSG` in text format). */
  warn(msg: string): void;
  /** One line (`vpnkit up: MSG` on a terminal; an error record in journal/json format), then exit. */
  fail(msg: string, code: number): never;
  /** Create (or, with keylog_append, check) the key log before anything starts; refusal: exit 2. */
  keylog(path: string | null, wipe: () => void): void;
}

/**
 * Read the operations settings (flags over file), make the logger, and check secret files'
 * modes (warning, or exit 2 under `strict`) before any secret is read.
 */
function opsContext(raw: RawConfig, configPath: string | undefined, over: Parameters<typeof validateOps>[1]): UpContext {
  let ops: OpsSettings;
  try {
    ops = validateOps(raw, over);
  } catch (e) {
    process.stderr.write(`vpnkit up: ${(e as Error).message}\n`);
    process.exit(2);
  }
  const format = ops.logFormat ?? (isJournalStream(process.env.JOURNAL_STREAM) ? "journal" : "text");
  const level = ops.logLevel ?? (vpnkitEnv("VPNKIT_DEBUG") ? "debug" : "info");
  const log = new Logger({ level, format, write: (l) => void process.stderr.write(l) });
  const fail = (msg: string, code: number): never => {
    if (format === "text") process.stderr.write(`vpnkit up: ${msg}\n`);
    else log.error(msg, "cfg");
    process.exit(code);
  };
  const warn = (m: string) => void (format === "text" ? process.stderr.write(`vpnkit up: ${m}\n`) : log.warn(m, "cfg"));
  try {
    checkSecretFiles(raw, configPath, { warn, strict: ops.strict });
  } catch (e) {
    if (e instanceof SecretFileError) fail(e.message, 2);
    throw e;
  }
  return {
    ops, log, fail, warn,
    keylog(path, wipe) {
      if (!path) return;
      try {
        prepareKeylog(path, ops.keylogAppend);
      } catch (e) {
        if (!(e instanceof KeylogError)) throw e;
        wipe();
        fail(e.message, 2);
      }
    },
  };
}

/** sd_notify when run by systemd with Type=notify (no-op otherwise; loaded lazily: bun:ffi). */
async function serviceNotifier(): Promise<import("../lib/platform/bun/sd-notify.ts").Notifier> {
  const { sdNotifier } = await import("../lib/platform/bun/sd-notify.ts");
  const n = sdNotifier();
  process.on("exit", () => n.close());
  return n;
}

/** Read the MTU responder's secret before the tunnel comes up (a bad file: exit 2). */
function mtuResponderSecret(mr: MtuResponderSettings | null, ctx: UpContext): Uint8Array | null {
  if (!mr) return null;
  try {
    // the mode was checked with the other secret files (checkSecretFiles); no second warning
    return readSecretFile(mr.secretFile, () => {}, ctx.ops.strict);
  } catch (e) {
    return ctx.fail(`mtu_responder.secret_file: ${(e as Error).message}`, e instanceof UsageError ? 2 : 1);
  }
}

/**
 * Issue 6: once the tunnel is up, answer `vpnkit mtu` probes (lib/probe responder on its own
 * UDP socket) bound to the first inner address, so it is reached only through the tunnel;
 * the wildcard when no inner address is known yet (IKEv2 virtual IP). Returns its stop
 * function (idempotent). A failure to bind stops the tunnel and exits 1.
 */
async function startMtuResponder(mr: MtuResponderSettings | null, secret: Uint8Array | null, tunAddr: string[], stopTunnel: () => void, ctx: UpContext): Promise<() => void> {
  if (!mr || !secret) return () => {};
  const address = tunAddr.length ? tunAddr[0].split("/")[0] : "::";
  try {
    const { startResponder } = await import("../lib/platform/bun/probe-socket.ts");
    const r = await startResponder({ secret, port: mr.port, address });
    secret.fill(0);
    ctx.log.info(`answering MTU probes on ${address.includes(":") ? `[${address}]` : address}:${r.port}`, "net");
    let stopped = false;
    return () => {
      if (stopped) return;
      stopped = true;
      r.stop();
    };
  } catch (e) {
    secret.fill(0);
    stopTunnel();
    ctx.fail(`mtu responder on ${address} port ${mr.port}: ${(e as Error).message}`, 1);
  }
}
