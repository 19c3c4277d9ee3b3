/**
 * IKEv2 (RFC 7296) message and payload decoders.
 * @module
 */
export * from "./registry.ts";
export * from "./header.ts";
export * from "./message.ts";
export * from "./validate.ts";
export * from "./summary.ts";
export * from "./der.ts";
export * from "./payloads/generic.ts";
export * from "./payloads/sa.ts";
export * from "./payloads/ke.ts";
export * from "./payloads/id.ts";
export * from "./payloads/cert.ts";
export * from "./payloads/certreq.ts";
export * from "./payloads/auth.ts";
export * from "./payloads/nonce.ts";
export * from "./payloads/notify.ts";
export * from "./payloads/delete.ts";
export * from "./payloads/vendor.ts";
export * from "./payloads/ts.ts";
export * from "./payloads/cp.ts";
export * from "./payloads/eap.ts";
export * from "./payloads/sk.ts";
export * from "./payloads/skf.ts";
