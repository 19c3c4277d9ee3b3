/**
 * Reload of an IKEv2 `vpnkit up` (SIGHUP, `vpnkit reload`): what changed between the
 * running configuration and the re-read one. Pure: the driver carries the plan out.
 *
 * - Connections (`[connections.NAME]`; the single `[ike]` form is one connection named
 *   "ike") are compared by their whole settings: added ones are accepted (or initiated),
 *   removed ones lose their IKE SAs (Delete sent), changed ones are renegotiated (their
 *   IKE SAs deleted; an initiator starts a new one), unchanged ones keep their SAs untouched.
 * - Process-wide IKE keys (dpd, rekey, ike_rekey, retransmit_*, retry, keepalive) apply to
 *   IKE SAs set up from now on and to the timers; `routes` gain the new prefixes.
 * - Keys bound to what is already open (addresses, ports, the TUN, the control socket, the
 *   key log, flood limits) need a restart: the plan names them and keeps the old values.
 * - Switching between `[ike]` and `[connections]`, or between initiator and responder, is
 *   refused (a restart does that).
 * @module
 */
import { createHash } from "node:crypto";
import type { IkeSettings, IkeTunnelConfig } from "./config-ike.ts";
import { ConfigError } from "./config-util.ts";
import { connectionFingerprint } from "./ike-connections.ts";

export interface ReloadPlan {
  added: string[];
  removed: string[];
  changed: string[];
  unchanged: string[];
  /** Keys that changed but need a restart (their old values stay). */
  restart: string[];
  /** Process-wide keys that changed and apply from now on. */
  applied: string[];
  /** Route prefixes to add to the TUN. */
  newRoutes: string[];
  /** The configuration to run with: the new one, with the restart-only keys of the old. */
  effective: IkeTunnelConfig;
}

/** Keys of the top level bound to open sockets, the TUN or files. */
const RESTART_KEYS = ["local", "localPort", "remotePort", "outer", "pathMtu", "tunnelMtu", "tunMtu", "tunName", "tunAddr", "localSubnets", "keepWarmMs", "keylog", "control", "transport", "tcpRole"] as const;
const KEY_NAMES: Record<string, string> = {
  local: "local", localPort: "local_port", remotePort: "remote_port", outer: "local", pathMtu: "mtu", tunnelMtu: "mtu", tunMtu: "tun_mtu", tunName: "tun_name",
  tunAddr: "tun_addr", localSubnets: "local_subnets", keepWarmMs: "keep_warm", keylog: "keylog", control: "control", transport: "transport", tcpRole: "tcp_role",
};
/** Process-wide [ike] keys (not part of a connection). */
const GLOBAL_IKE = ["dpdSec", "retry", "rekeySec", "ikeRekeySec", "retransmitSec", "retransmitTries"] as const;
const GLOBAL_NAMES: Record<string, string> = { dpdSec: "ike.dpd", retry: "ike.retry", rekeySec: "ike.rekey", ikeRekeySec: "ike.ike_rekey", retransmitSec: "ike.retransmit_timeout", retransmitTries: "ike.retransmit_tries" };

const same = (a: unknown, b: unknown) => JSON.stringify(a) === JSON.stringify(b);

/** The single `[ike]` form as one connection's fingerprint (the PSK as a hash, never its bytes). */
function ikeFingerprint(k: IkeSettings): string {
  const { psk, limits: _l, ikePort: _p, ...rest } = k;
  const g = rest as Record<string, unknown>;
  for (const x of GLOBAL_IKE) delete g[x];
  return JSON.stringify({ ...g, psk: createHash("sha256").update(psk).digest("hex") });
}

function fingerprints(c: IkeTunnelConfig): Map<string, string> {
  if (c.connections) return new Map(c.connections.map((x) => [x.name, connectionFingerprint(x)]));
  return new Map([["ike", ikeFingerprint(c.ike)]]);
}

/** Compare; throws ConfigError when the change cannot be made without a restart as a whole. */
export function planReload(prev: IkeTunnelConfig, next: IkeTunnelConfig): ReloadPlan {
  if (!!prev.connections !== !!next.connections) throw new ConfigError(next.connections ? "connections" : "ike", "switching between the single [ike] form and [connections] needs a restart");
  if (prev.ike.responder !== next.ike.responder) throw new ConfigError("ike.responder", "switching between initiator and responder needs a restart");
  const a = fingerprints(prev), b = fingerprints(next);
  const plan: ReloadPlan = { added: [], removed: [], changed: [], unchanged: [], restart: [], applied: [], newRoutes: [], effective: next };
  for (const [n, fp] of b) {
    if (!a.has(n)) plan.added.push(n);
    else if (a.get(n) === fp) plan.unchanged.push(n);
    else plan.changed.push(n);
  }
  for (const n of a.keys()) if (!b.has(n)) plan.removed.push(n);
  const eff: IkeTunnelConfig = { ...next, ike: { ...next.ike } };
  const effRec = eff as unknown as Record<string, unknown>;
  for (const k of RESTART_KEYS) {
    if (same(prev[k], next[k])) continue;
    if (!plan.restart.includes(KEY_NAMES[k])) plan.restart.push(KEY_NAMES[k]);
    effRec[k] = prev[k];
  }
  // the single form's remote (--peer) is part of its connection; with [connections] it is any
  if (!next.connections && prev.remote !== next.remote) plan.restart.push("remote"), (eff.remote = prev.remote);
  for (const [k, name] of [["ikePort", "ike.port"], ["limits", "ike.limits"], ["remoteAny", "remote"]] as const) {
    if (same(prev.ike[k], next.ike[k])) continue;
    if (!plan.restart.includes(name)) plan.restart.push(name);
    (eff.ike as unknown as Record<string, unknown>)[k] = prev.ike[k];
  }
  for (const k of GLOBAL_IKE) if (prev.ike[k] !== next.ike[k]) plan.applied.push(GLOBAL_NAMES[k]);
  if (prev.keepaliveSec !== next.keepaliveSec) plan.applied.push("keepalive");
  const had = new Set(prev.routes.map((r) => r.text));
  plan.newRoutes = next.routes.map((r) => r.text).filter((r) => !had.has(r));
  // routes are only ever added while running (a removed prefix may still carry an SA's traffic)
  const keptRoutes = prev.routes.filter((r) => !next.routes.some((x) => x.text === r.text));
  if (keptRoutes.length) eff.routes = [...next.routes, ...keptRoutes];
  if (plan.newRoutes.length) plan.applied.push("routes");
  plan.effective = eff;
  return plan;
}
