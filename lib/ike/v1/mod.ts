/**
 * ISAKMP / IKEv1 (RFC 2407, 2408, 2409, 3947, 3706) message and payload decoders.
 *
 * Entry points: {@link decodeIsakmp} for a datagram (after the non-ESP marker
 * on port 4500), {@link decodeIsakmpPayloads} for decrypted plaintext,
 * {@link validateIsakmp} for the semantic pass, {@link isakmpSummary} and
 * {@link IsakmpRoles} for one-line output.
 * @module
 */
export * from "./registry.ts";
export * from "./header.ts";
export * from "./attributes.ts";
export * from "./message.ts";
export * from "./validate.ts";
export * from "./summary.ts";
export * from "./roles.ts";
export * from "./payloads/generic.ts";
export * from "./payloads/sa.ts";
export * from "./payloads/proposal.ts";
export * from "./payloads/transform.ts";
export * from "./payloads/ke.ts";
export * from "./payloads/id.ts";
export * from "./payloads/cert.ts";
export * from "./payloads/certreq.ts";
export * from "./payloads/hash.ts";
export * from "./payloads/sig.ts";
export * from "./payloads/nonce.ts";
export * from "./payloads/notify.ts";
export * from "./payloads/delete.ts";
export * from "./payloads/vendor.ts";
export * from "./payloads/natd.ts";
export * from "./payloads/nat-oa.ts";
export * from "./payloads/attr.ts";
export * from "./payloads/fragment.ts";
