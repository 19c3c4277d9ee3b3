/**
 * IKEv2 encoders: header, payloads, messages (the inverse of the decoders).
 * @module
 */
export * from "./payloads.ts";
export * from "./message.ts";
