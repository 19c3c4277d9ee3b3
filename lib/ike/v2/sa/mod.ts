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
 * // `to`: the local endpoint the datagram arrived on (NAT detection; natt = it came on the NAT-T socket)
 * sock500.on("message", (d, from) => run(sa.receive(d, from, Date.now(), { ...local500, natt: false })));
 * sock4500.on("message", (d, from) => run(sa.receive(stripNonEspMarker(d), from, Date.now(), { ...local4500, natt: true })));
 * setInterval(() => run(sa.tick(Date.now())), 500);
 * function run(list: Action[]) {
 *   for (const a of list) switch (a.type) {
 *     case "send": (a.natt ? sock4500 : sock500).send(a.natt ? [0,0,0,0, ...a.data] : a.data, a.to); break;
 *     case "install-child":   // keyIn/keyOut are key‖salt, fresh buffers (SaConfig copies them)
 *       if (a.child.rekeyOf) { sadb.rekey(a.child.rekeyOf.spiIn, inCfg(a.child), { direction: "in" }); sadb.rekey(a.child.rekeyOf.spiOut, outCfg(a.child), { direction: "out" }); }
 *       else { sadb.installInbound(inCfg(a.child)); sadb.installOutbound(outCfg(a.child)); }
 *       break;
 *     case "remove-child": sadb.remove(a.spiIn); sadb.remove(a.spiOut); break;   // after a rekey the grace period may handle the inbound one
 *     case "switch-port": useNattSocket(); break;       // behind a NAT or forceEncap: IKE and ESP move to 4500
 *     case "nat-keepalive": sock4500.send([0xff], a.to); break;   // only when we are behind a NAT
 *     case "initial-contact": for (const old of otherSasOf(a.remoteId, sa)) run(old.abandon()); break;
 *     case "ike-rekeyed": reindex(sa, a.ispi); break;
 *     case "failed": case "log": console.error(a); break;
 *     case "closed": forget(sa); break;
 *   }
 * }
 * // SaDatabase soft-expire → run(sa.rekeyChild(spiIn, now)); timers → sa.rekeyIke(now); shutdown → sa.delete(now)
 * ```
 *
 * An SA manager reads `sa.phase` ("half-open" | "established" | "deleting" | "closed"),
 * `sa.spis()`, `sa.isInitiator`, `sa.remoteIdentity`, `sa.remote`, `sa.createdAt`,
 * `sa.children()` and `sa.status()`; it can answer COOKIEs before creating any SA with
 * {@link cookieFor}/{@link verifyCookie}. A responder whose IKE_SA_INIT was refused
 * (INVALID_KE_PAYLOAD, COOKIE, NO_PROPOSAL_CHOSEN, bad syntax) answers and emits `closed`.
 *
 * Layout (as strongSwan's libcharon: an SA plus one task per exchange): ike-sa.ts (dispatch,
 * timers, API), state.ts (state, message building, request window), exchange-init.ts,
 * exchange-auth.ts, exchange-child.ts, exchange-info.ts (each works on the context.ts interface).
 * @module
 */
export * from "./types.ts";
export { IkeSa, defaultRng, type IkeSaState, type ReceivedOn } from "./ike-sa.ts";
export { cookieFor, verifyCookie } from "./cookie.ts";
export * from "./crypto.ts";
export * from "./dh.ts";
export * from "./proposals.ts";
export * from "./ts.ts";
export * from "./identity.ts";
export * from "./auth-sig.ts";
export { IkeSaManager, type IkeSaManagerOptions, type ManagedSa, type ManagerEvent, type Via } from "./manager.ts";
export { CookieJar, DEFAULT_IKE_LIMITS, type IkeLimits, TokenBucket } from "./limits.ts";
