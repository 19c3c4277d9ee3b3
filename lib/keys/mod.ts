/**
 * Key input for decryption: parsers for tcpdump `-E`, Wireshark UAT tables, `ip xfrm state`,
 * charon logs and vpnkit's key log; format detection; the {@link KeyStore}.
 * @module
 */
export * from "./types.ts";
export * from "./algorithms.ts";
export * from "./wireshark.ts";
export * from "./tcpdump.ts";
export * from "./xfrm.ts";
export * from "./charon.ts";
export * from "./vpnkit-keylog.ts";
export * from "./store.ts";
export * from "./load.ts";
