/**
 * vpnkit — IPsec in user space, and the tools to see what goes wrong.
 *
 * This module is the runtime-neutral library (Bun, Deno, Node): capture
 * readers, protocol dissectors for ESP, AH, NAT-T, IKEv1 and IKEv2, the decode
 * pipeline and its renderers, and the ESP data plane (seal/open, anti-replay,
 * MTU arithmetic). Nothing here does network I/O.
 *
 * @example Decode a capture, one summary line per packet
 * ```ts
 * import { openCapture, Decoder, summaryLine } from "./mod.ts";
 *
 * const reader = await openCapture("fixtures/strongswan/a_ikev2_psk_gcm_natt/a_ikev2_psk_gcm_natt.pcap");
 * const dec = new Decoder();
 * for await (const batch of reader.batches()) {
 *   for (const rec of batch) console.log(summaryLine(dec.decode(rec)));
 * }
 * console.log(dec.stats().ikeSas[0].outcome); // "established"
 * ```
 *
 * @example Decode one IKEv2 message from bytes
 * ```ts
 * import { decodeIkev2, ikev2Summary, type Anomaly } from "./mod.ts";
 *
 * const anomalies: Anomaly[] = [];
 * const msg = decodeIkev2(udpPayload, 0, udpPayload.length, anomalies);
 * if (msg) console.log(ikev2Summary(msg)); // "IKE_SA_INIT request I mid 0 [ SA KE No ... ]"
 * for (const a of anomalies) console.log(`${a.layer}@${a.offset}: ${a.reason}`);
 * ```
 *
 * @example Decrypt ESP and IKE with keys users already have
 * ```ts
 * import { openCapture, Decoder, summaryLine, loadKeyStore } from "./mod.ts";
 *
 * // Wireshark esp_sa / ikev2_decryption_table, tcpdump -E, ip xfrm state, charon logs, vpnkit key logs
 * const keys = loadKeyStore(["fixtures/strongswan/a_ikev2_psk_gcm_natt/esp_sa"]);
 * const dec = new Decoder({ keys });
 * const reader = await openCapture("fixtures/strongswan/a_ikev2_psk_gcm_natt/a_ikev2_psk_gcm_natt.pcap");
 * for await (const batch of reader.batches()) {
 *   for (const rec of batch) console.log(summaryLine(dec.decode(rec))); // "... ESP spi 0xc4ba5861 seq 1 len 120 ICV good → 198.51.100.1 > 203.0.113.1 ICMP ..."
 * }
 * ```
 *
 * @example Seal and open ESP with manual keys
 * ```ts
 * import { OutboundSa, InboundSa } from "./mod.ts";
 *
 * const keyMaterial = crypto.getRandomValues(new Uint8Array(36)); // AES-256 key || 4-byte salt
 * const out = new OutboundSa({ spi: 0x1000, cipher: "aes256gcm16", keyMaterial });
 * const inn = new InboundSa({ spi: 0x1000, cipher: "aes256gcm16", keyMaterial });
 * const esp = out.seal(innerIpPacket, 4)!;      // next header 4 = IPv4
 * const r = inn.open(esp);                       // { ok: true, nextHeader: 4, payload, seq: 1n }
 * ```
 * @module
 */

// Core
export type { Anomaly } from "./lib/core/anomaly.ts";
export { Registry } from "./lib/core/registry.ts";
export { toHex, fromHex, ctEqual } from "./lib/core/bytes.ts";

// Capture input
export {
  openCapture,
  openCaptureStream,
  CaptureFormatError,
  type CaptureRecord,
  type CaptureReader,
  type CaptureInfo,
  type CaptureAnomaly,
  type CaptureOptions,
} from "./lib/capture/index.ts";
export { PcapngWriter } from "./lib/capture/pcapng-writer.ts";

// Decode pipeline and output
export type { DecodedPacket, LayerBase } from "./lib/core/layer.ts";
export { jsonReplacer } from "./lib/core/layer.ts";
export { Decoder, type DecoderOptions, type DecodeStats } from "./lib/decode/pipeline.ts";
export { runDecode, type RunDecodeOptions, type RunDecodeResult } from "./lib/decode/run.ts";
export { summaryLine, packetHeaderLine } from "./lib/decode/summary.ts";
export { renderTree } from "./lib/decode/render-tree.ts";
export { packetJson, JSON_SCHEMA_VERSION } from "./lib/decode/render-json.ts";
export { renderStats } from "./lib/decode/render-stats.ts";
export { parseFilter, matchFilter, type PacketFilter } from "./lib/decode/filter.ts";
export type { IkeSaReport, IkeEvent } from "./lib/decode/ike-tracker.ts";

// Dissectors
export { decodeLink } from "./lib/link/link.ts";
export { decodeIpv4, type Ipv4Layer } from "./lib/net/ipv4.ts";
export { decodeIpv6, type Ipv6Layer } from "./lib/net/ipv6.ts";
export { decodeUdp, type UdpLayer } from "./lib/net/udp.ts";
export { decodeTcp, type TcpLayer } from "./lib/net/tcp.ts";
export { decodeIcmp } from "./lib/net/icmp.ts";
export { decodeIcmpv6 } from "./lib/net/icmpv6.ts";
export { decodeEsp, type EspLayer } from "./lib/ipsec/esp.ts";
export { decodeAh, type AhLayer } from "./lib/ipsec/ah.ts";
export { decodeNatt, classifyUdp, type NattLayer } from "./lib/ipsec/natt.ts";
export { TcpEncapParser } from "./lib/ipsec/tcpencap.ts";
export { EspTracker, type EspSaReport } from "./lib/ipsec/esp-tracker.ts";
export { decodeIkev2, decodeIkev2Payloads, type Ikev2Message, type Ikev2Payload } from "./lib/ike/v2/message.ts";
export { ikev2Summary } from "./lib/ike/v2/summary.ts";
export { decodeIsakmp, decodeIsakmpPayloads, type IsakmpMessage } from "./lib/ike/v1/message.ts";
export { isakmpSummary } from "./lib/ike/v1/summary.ts";
export { ikeVersion } from "./lib/ike/version.ts";
export { knownVendorId } from "./lib/ike/vendor-ids.ts";

// Keys and decryption (decode)
export { loadKeyStore, loadKeyFile, loadInlineKeys, parseKeyText, detectKeyFormat, KeyStore, KeyFileError } from "./lib/keys/mod.ts";
export { skOpen, skSeal } from "./lib/ike/v2/sk-crypto.ts";

// ESP data plane (no I/O)
export {
  OutboundSa,
  InboundSa,
  SaDatabase,
  ReplayWindow,
  espOverhead,
  tunnelMtu,
  buildIcmpTooBig,
  openEspForDecode,
} from "./lib/esp/mod.ts";

// Diagnostics (what went wrong in a capture)
export { Diagnoser, diagnoseCapture, renderDiagnosisText, renderDiagnosisJson } from "./lib/diagnose/mod.ts";

// Probes (path MTU search and its authenticated responder; cores without I/O)
export { MtuSearch, MtuResponder, attachResponder, runMtuProbe, mtuReport } from "./lib/probe/mod.ts";

// IKEv2 protocol core (no I/O: an IkeSa consumes datagrams and returns actions) and encoders
export { IkeSa } from "./lib/ike/v2/sa/ike-sa.ts";
export type { Action as IkeAction, IkeSaConfig } from "./lib/ike/v2/sa/types.ts";
/**
 * Many IKE SAs behind one object (libcharon's ike_sa_manager): SAs found by SPIs, COOKIEs,
 * per-source and half-open caps and a rate limit before any key exchange, INVALID_IKE_SPI.
 *
 * @example
 * ```ts
 * const m = new IkeSaManager({ now: Date.now(), responder: (from) => ({ ...cfg, remote: from }), onActions: (e, acts) => run(acts) });
 * socket.on("message", (d, r) => m.receive(d, { address: r.address, port: r.port }, "ike", Date.now()));
 * setInterval(() => m.tick(Date.now()), 500);
 * ```
 */
export { IkeSaManager } from "./lib/ike/v2/sa/manager.ts";
export { DEFAULT_IKE_LIMITS } from "./lib/ike/v2/sa/limits.ts";
export type { IkeLimits } from "./lib/ike/v2/sa/limits.ts";
export { encodeIkev2Message, encodePayload } from "./lib/ike/v2/encode/mod.ts";
export { IkeDriver } from "./lib/tunnel/ike-driver.ts";
/**
 * The SA interface between an IKE driver and a packet path: `install` a Child SA pair (make
 * before break), `remove` it. {@link LocalChildSink} applies it to an SA database and an
 * engine child in the same thread; `vpnkit up` forwards it to its packet thread.
 *
 * @example
 * ```ts
 * import { LocalChildSink, SaDatabase, type TunnelChild } from "./mod.ts";
 * const db = new SaDatabase();
 * const child: TunnelChild = { name: "t", local: [], remote: [], outbound: null, inbound: [], mtu: 1400 };
 * const sink = new LocalChildSink(db, child, () => {}); // with an engine: () => engine.reindex()
 * sink.install({
 *   spiIn: 0x1001, spiOut: 0x2001, cipher: "aes256gcm16", esn: false, local: [], remote: [],
 *   keyIn: crypto.getRandomValues(new Uint8Array(36)), keyOut: crypto.getRandomValues(new Uint8Array(36)),
 * });
 * child.outbound?.spi; // 0x2001; an IkeDriver given `sink` does this for every Child SA
 * sink.remove(0x1001, 0x2001, null); // out of the child, keys zeroed
 * // a server: new LocalChildSink(db, child, () => engine.reindex(), engine), and installs with
 * // `child: "<key per client>", peer: { address, port }` make one engine child per client
 * ```
 */
export { LocalChildSink } from "./lib/tunnel/child-sink.ts";
export type { ChildHost, ChildInstall, ChildSaSink, ChildStatus } from "./lib/tunnel/child-sink.ts";
export { newChildStats, TunnelEngine } from "./lib/tunnel/engine.ts";
export type { ChildStats, Endpoint, TunnelChild } from "./lib/tunnel/engine.ts";
export { naiveRoute, RouteIndex } from "./lib/tunnel/route-index.ts";
