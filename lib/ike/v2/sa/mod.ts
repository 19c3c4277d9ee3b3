/**
 * IKEv2 protocol core (RFC 7296), no I/O: the IkeSa state machine, key
 * derivation, key exchange groups, proposals, traffic selectors, identities.
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
