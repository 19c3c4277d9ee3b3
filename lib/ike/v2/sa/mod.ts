/**
 * IKEv2 protocol core (RFC 7296), no I/O: the {@link IkeSa} state machine, key
 * derivation, key exchange groups, proposals, traffic selectors, identities and
 * RFC 7427 signature authentication.
 *
 * Driving it (what a tunnel engine does; see test/ike/v2/sa/interop-driver.ts):
 *
 * ```ts
 * const { sa, actions } = IkeSa.initiator(cfg, Date.now());   // or IkeSa.responder(cfg, now) per new IKE_SA_INIT
 * run(actions);
 * socket.on("message", (d, from) => run(sa.receive(stripNonEspMarker(d), from, Date.now())));
 * setInterval(() => run(sa.tick(Date.now())), 500);
 * function run(list: Action[]) {
 *   for (const a of list) switch (a.type) {
 *     case "send": (a.natt ? sock4500 : sock500).send(a.natt ? [0,0,0,0, ...a.data] : a.data, a.to); break;
 *     case "install-child":   // keyIn/keyOut are key‖salt, fresh buffers (SaConfig copies them)
 *       if (a.child.rekeyOf) { sadb.rekey(a.child.rekeyOf.spiIn, inCfg(a.child), { direction: "in" }); sadb.rekey(a.child.rekeyOf.spiOut, outCfg(a.child), { direction: "out" }); }
 *       else { sadb.installInbound(inCfg(a.child)); sadb.installOutbound(outCfg(a.child)); }
 *       break;
 *     case "remove-child": sadb.remove(a.spiIn); sadb.remove(a.spiOut); break;   // after a rekey the grace period may handle the inbound one
 *     case "switch-port": useNattSocket(); break;
 *     case "nat-keepalive": sock4500.send([0xff], a.to); break;
 *     case "failed": case "log": console.error(a); break;
 *     case "closed": forget(sa); break;
 *   }
 * }
 * // SaDatabase soft-expire → run(sa.rekeyChild(spiIn, now)); timers → sa.rekeyIke(now); shutdown → sa.delete(now)
 * ```
 * @module
 */
export * from "./types.ts";
export { IkeSa, defaultRng } from "./ike-sa.ts";
export * from "./crypto.ts";
export * from "./dh.ts";
export * from "./proposals.ts";
export * from "./ts.ts";
export * from "./identity.ts";
export * from "./auth-sig.ts";
export { IkeSaManager, type IkeSaManagerOptions, type ManagedSa, type ManagerEvent, type Via } from "./manager.ts";
export { CookieJar, DEFAULT_IKE_LIMITS, type IkeLimits, TokenBucket } from "./limits.ts";
