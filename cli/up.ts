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

export { statusCommand } from "./status.ts";

function collect(v: string, prev: string[]): string[] {
  return [...prev, v];
}

export function upCommand(): Command {
  const cmd = new Command("up")
    .description("bring up an IPsec tunnel on a TUN device: IKEv2 (--peer, --responder) or manual keys; ESP in UDP or TCP (needs root or CAP_NET_ADMIN)")
    .option("-c, --config <file>", "TOML configuration (see lib/tunnel/example.toml); flags override it")
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
    .option("--keylog <file>", "append SA keys to FILE (vpnkit format) and FILE.esp_sa (Wireshark)")
    .option("--control <path>", "control socket path (default /run/vpnkit-<tun>.sock)")
    .option("--transport <udp|tcp>", "outer transport: udp (ESP-in-UDP, default) or tcp (RFC 9329 framing)")
    .option("--tcp-role <client|server>", "with --transport tcp: server listens on --local:--port, client connects to --remote:--remote-port")
    // IKEv2 mode (issue 4): any of these switches from manual keys to negotiation
    .option("--peer <addr>", "IKEv2: the peer's address (same as --remote)")
    .option("--psk-file <file>", "IKEv2: pre-shared key file")
    .option("--local-ts <cidr>", "IKEv2: local traffic selector (repeatable)", collect, [] as string[])
    .option("--remote-ts <cidr>", "IKEv2: remote traffic selector (repeatable)", collect, [] as string[])
    .option("--ike-proposal <p>", "IKEv2: IKE proposal, e.g. aes256gcm16-prfsha256-x25519 (repeatable)", collect, [] as string[])
    .option("--esp-proposal <p>", "IKEv2: ESP proposal: aes256gcm16 | aes128gcm16 | chacha20poly1305 [-x25519 PFS] (repeatable)", collect, [] as string[])
    .option("--local-id <id>", "IKEv2: our identity (default: the local address the IKE SA uses)")
    .option("--remote-id <id>", "IKEv2: the identity the peer must prove (default: any)")
    .option("--responder", "IKEv2: wait for the peer to initiate")
    .option("--dpd <sec>", "IKEv2: liveness check after SEC idle seconds, 0 = off (default 30)")
    .option("--retry", "IKEv2 initiator: start over when negotiation fails or the SA dies")
    .option("--rekey <sec>", "IKEv2: rekey the Child SA every SEC seconds, 0 = never (default 3600)")
    .option("--ike-rekey <sec>", "IKEv2: rekey the IKE SA every SEC seconds, 0 = never (default 14400)")
    .option("--cert <file>", "IKEv2: our certificate (PEM); with --key: authenticate with a signature instead of the PSK")
    .option("--key <file>", "IKEv2: our private key (PEM)")
    .option("--ca <file>", "IKEv2: CA certificate (PEM) trusted for the peer's certificate (repeatable)", collect, [] as string[])
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
        cert: o.cert, key: o.key, ca: o.ca.length ? o.ca : undefined, virtual_ip: o.virtualIp ? true : undefined,
        pool: o.pool.length ? o.pool : undefined, dns: o.dns.length ? o.dns : undefined, port: num(o.ikePort),
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
      // the mode switch: IKEv2 (--peer, --responder, [ike]) or manual keys; the rest is one flow
      const ike = o.peer !== undefined || isIkeConfig(mergeRawIke(ikeBase, ikeOver));
      await up(ike, ike ? mergeRawIke(mergeRaw(ikeBase, over), ikeOver) : mergeRaw(ikeBase, over), mrOver);
    });
  return cmd as unknown as Command;
}

/** Both modes' start: the log line format of each mode, and the tunnel it runs. */
async function start(ike: boolean, cfg: TunnelConfig | IkeTunnelConfig, onFatal: (why: string) => void): Promise<{ stop(): void | Promise<void> }> {
  // lazy: bun:ffi/libc only when the command runs (the module must load off Linux)
  if (!ike) {
    const { startTunnel } = await import("../lib/platform/bun/up.ts");
    return startTunnel(cfg as TunnelConfig, (m) => process.stderr.write(m + "\n"), { onFatal });
  }
  const debug = !!process.env.VPNKIT_DEBUG;
  const t0 = performance.now();
  const log = (level: string, msg: string) => {
    if (level === "debug" && !debug) return;
    process.stderr.write(`${(performance.now() - t0).toFixed(0).padStart(6)}ms ${level === "info" ? "" : level + ": "}${msg}\n`);
  };
  const { startIkeTunnel } = await import("../lib/platform/bun/ike-up.ts");
  const t = await startIkeTunnel(cfg as IkeTunnelConfig, log);
  // the reason is already logged
  void t.fatal.then(() => onFatal(""));
  return t;
}

/** `vpnkit up`: exit 2 on a config error, 1 when the tunnel cannot start, 4 when it dies (or IKE fails for good). */
async function up(ike: boolean, raw: RawConfig, mrOver: RawMtuResponder): Promise<void> {
  let cfg: TunnelConfig | IkeTunnelConfig;
  let mr: MtuResponderSettings | null = null;
  try {
    cfg = ike ? validateIkeConfig(raw) : validateConfig(raw);
    mr = validateMtuResponder(raw, mrOver);
  } catch (e) {
    if (e instanceof ConfigError) {
      process.stderr.write(`vpnkit up: ${e.message}\n`);
      process.exit(2);
    }
    throw e;
  }
  if (process.platform !== "linux") {
    process.stderr.write(`vpnkit up: needs Linux (TUN device via /dev/net/tun); this is ${process.platform}\n`);
    process.exit(1);
  }
  const mrSecret = mtuResponderSecret(mr);
  let onFatal = (why: string) => void why;
  let t;
  try {
    t = await start(ike, cfg, (why) => onFatal(why));
  } catch (e) {
    process.stderr.write(`vpnkit up: ${(e as Error).message}\n`);
    process.exit(1);
  }
  const tunnel = t;
  const stopMr = await startMtuResponder(mr, mrSecret, cfg.tunAddr, () => void tunnel.stop());
  let exiting = false;
  const stop = async (why: string, code: number) => {
    if (exiting) return;
    exiting = true;
    if (why) process.stderr.write(`vpnkit up: ${why}, tearing down\n`);
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

/** Read the MTU responder's secret before the tunnel comes up (a bad file: exit 2). */
function mtuResponderSecret(mr: MtuResponderSettings | null): Uint8Array | null {
  if (!mr) return null;
  try {
    return readSecretFile(mr.secretFile, (m) => process.stderr.write(`vpnkit up: mtu responder: ${m}\n`));
  } catch (e) {
    process.stderr.write(`vpnkit up: mtu_responder.secret_file: ${(e as Error).message}\n`);
    process.exit(e instanceof UsageError ? 2 : 1);
  }
}

/**
 * Issue 6: once the tunnel is up, answer `vpnkit mtu` probes (lib/probe responder on its own
 * UDP socket) bound to the first inner address, so it is reached only through the tunnel;
 * the wildcard when no inner address is known yet (IKEv2 virtual IP). Returns its stop
 * function (idempotent). A failure to bind stops the tunnel and exits 1.
 */
async function startMtuResponder(mr: MtuResponderSettings | null, secret: Uint8Array | null, tunAddr: string[], stopTunnel: () => void): Promise<() => void> {
  if (!mr || !secret) return () => {};
  const address = tunAddr.length ? tunAddr[0].split("/")[0] : "::";
  try {
    const { startResponder } = await import("../lib/platform/bun/probe-socket.ts");
    const r = await startResponder({ secret, port: mr.port, address });
    secret.fill(0);
    process.stderr.write(`vpnkit up: answering MTU probes on ${address.includes(":") ? `[${address}]` : address}:${r.port}\n`);
    let stopped = false;
    return () => {
      if (stopped) return;
      stopped = true;
      r.stop();
    };
  } catch (e) {
    secret.fill(0);
    process.stderr.write(`vpnkit up: mtu responder on ${address} port ${mr.port}: ${(e as Error).message}\n`);
    stopTunnel();
    process.exit(1);
  }
}
