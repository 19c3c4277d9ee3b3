/**
 * Field-by-field comparison of a decoded IKEv2 payload with tshark's -V tree
 * for it (shared by the golden tests).
 */
import { expect } from "bun:test";
import { ipv4Text, toHex } from "../../../lib/core/bytes.ts";
import type { Ikev2Payload } from "../../../lib/ike/v2/message.ts";
import { field, kids, nameOf, paren, wsPayloadType, type TNode } from "./helpers.ts";

/**
 * Wireshark prints some transform IDs with descriptive names instead of the
 * IANA identifiers vpnkit uses. Explicit map: Wireshark name → vpnkit name.
 * (Numbers are compared for every transform regardless.)
 */
const WIRESHARK_NAME: Record<string, string> = {
  "AES-GCM with a 16 octet ICV": "ENCR_AES_GCM_16",
  "AES-GCM with a 12 octet ICV": "ENCR_AES_GCM_12",
  "AES-GCM with a 8 octet ICV": "ENCR_AES_GCM_8",
  "3072 bit MODP group": "3072-bit MODP Group",
  "2048 bit MODP group": "2048-bit MODP Group",
  "FQDN": "ID_FQDN", // Wireshark 4.0 prints ID type 2 as "FQDN"
};
const wsName = (s: string) => WIRESHARK_NAME[s] ?? s;

/** Wireshark's X.520 attribute labels → the short names vpnkit prints. */
const WS_RDN: Record<string, string> = {
  "id-at-commonName": "CN", "id-at-organizationName": "O", "id-at-organizationalUnitName": "OU", "id-at-countryName": "C",
  "id-at-localityName": "L", "id-at-stateOrProvinceName": "ST", "id-emailAddress": "E",
};

/** Wireshark's transform type labels → vpnkit TRANSFORM_TYPES names. */
const WS_TRANSFORM_TYPE: Record<number, string> = { 1: "ENCR", 2: "PRF", 3: "INTEG", 4: "KE", 5: "ESN" };

export function isakmpNode(roots: TNode[]): TNode | undefined {
  return roots.find((n) => n.text === "Internet Security Association and Key Management Protocol");
}

/** tshark shortens long hex fields with a trailing "…": compare the shown prefix then. */
export function expectHex(b: Uint8Array, ws: string | undefined, ctx: string): void {
  expect(ws, ctx).toBeDefined();
  const h = toHex(b);
  if (ws!.endsWith("…")) {
    const pre = ws!.slice(0, -1);
    expect(h.startsWith(pre) && h.length > pre.length, `${ctx}: ${h} vs ${ws}`).toBe(true);
  } else expect(h, ctx).toBe(ws!);
}

export const counts = { payloads: 0, messages: 0 };

export function comparePayload(ws: TNode, p: Ikev2Payload, ctx: string): void {
  expect(p.type, ctx).toBe(wsPayloadType(ws.text));
  expect(p.nextPayload, ctx).toBe(paren(field(ws, "Next payload:")));
  expect(p.critical, ctx).toBe(field(ws, "0... .... = Critical Bit:") === undefined ? true : false);
  expect(p.length, ctx).toBe(Number(field(ws, "Payload length:")));
  counts.payloads++;
  switch (p.kind) {
    case "sa": {
      const props = kids(ws, "Payload: Proposal (2)");
      expect(p.proposals.length, ctx).toBe(props.length);
      props.forEach((wp, i) => {
        const pr = p.proposals[i];
        const c = `${ctx} proposal ${i}`;
        expect(pr.num, c).toBe(Number(field(wp, "Proposal number:")));
        expect(pr.protocol, c).toBe(paren(field(wp, "Protocol ID:")));
        expect(pr.protocolName, c).toBe(nameOf(field(wp, "Protocol ID:")));
        expect(pr.spiSize, c).toBe(Number(field(wp, "SPI Size:")));
        if (pr.spiSize) expect(toHex(pr.spi), c).toBe(field(wp, "SPI:")!);
        expect(pr.numTransforms, c).toBe(Number(field(wp, "Proposal transforms:")));
        expect(pr.length, c).toBe(Number(field(wp, "Payload length:")));
        const wts = kids(wp, "Payload: Transform (3)");
        expect(pr.transforms.length, c).toBe(wts.length);
        wts.forEach((wt, j) => {
          const t = pr.transforms[j];
          const tc = `${c} transform ${j}`;
          expect(t.type, tc).toBe(paren(field(wt, "Transform Type:")));
          expect(t.typeName, tc).toBe(WS_TRANSFORM_TYPE[t.type]);
          const idLine = wt.children.find((x) => x.text.startsWith("Transform ID"))!;
          const idText = idLine.text.replace(/^Transform ID \([^)]*\): /, "");
          expect(t.id, tc).toBe(paren(idText));
          expect(t.idName, tc).toBe(wsName(nameOf(idText)));
          const attrs = kids(wt, "Transform Attribute");
          expect(t.attributes.length, tc).toBe(attrs.length);
          const kl = attrs.map((a) => field(a, "Key Length:")).find((x) => x !== undefined);
          expect(t.keyLength, tc).toBe(kl === undefined ? undefined : Number(kl));
        });
      });
      break;
    }
    case "ke":
      expect(p.group, ctx).toBe(paren(field(ws, "DH Group #:")));
      expect(p.groupName, ctx).toBe(wsName(nameOf(field(ws, "DH Group #:"))));
      expectHex(p.data, field(ws, "Key Exchange Data:"), ctx);
      break;
    case "nonce":
      expectHex(p.nonce, field(ws, "Nonce DATA:"), ctx);
      break;
    case "notify": {
      expect(p.protocol, ctx).toBe(paren(field(ws, "Protocol ID:")));
      expect(p.spiSize, ctx).toBe(Number(field(ws, "SPI Size:")));
      expect(p.notifyType, ctx).toBe(paren(field(ws, "Notify Message Type:")));
      expect(p.notifyName, ctx).toBe(nameOf(field(ws, "Notify Message Type:")));
      if (p.spiSize) expect(toHex(p.spi), ctx).toBe(field(ws, "SPI:")!);
      if (p.notifyType === 16393) expect(p.value?.spi, ctx).toBe(field(ws, "SPI:")!);
      if (p.notifyType === 16397) expect(p.value?.address, ctx).toBe(ipv4Text(p.data));
      expect(p.isError, ctx).toBe(p.notifyType < 16384);
      const data = field(ws, "Notification DATA:");
      if (data === "<MISSING>" || data === undefined) expect(p.data.length, ctx).toBe(0);
      else expectHex(p.data, data, ctx);
      const hashes = kids(ws, "Supported Signature Hash Algorithm:").map((n) => n.text.replace("Supported Signature Hash Algorithm: ", ""));
      if (p.notifyType === 16431) {
        expect(p.value?.hashAlgorithms?.map((h) => `${h.name} (${h.id})`), ctx).toEqual(hashes);
      }
      if (p.notifyType === 16388 || p.notifyType === 16389) expectHex(p.value!.hash!, data, ctx);
      break;
    }
    case "certreq": {
      expect(p.encoding, ctx).toBe(paren(field(ws, "Certificate Type:")));
      expect(p.encodingName, ctx).toBe(nameOf(field(ws, "Certificate Type:")));
      const cas = kids(ws, "Certificate Authority Data:").map((n) => n.text.replace("Certificate Authority Data: ", ""));
      expect(p.caHashes.map((h) => toHex(h)), ctx).toEqual(cas);
      break;
    }
    case "vendor":
      expectHex(p.data, field(ws, "Vendor ID:"), ctx);
      break;
    case "sk":
      // Only the header is compared: the body stays encrypted here.
      expect(p.encrypted.length, ctx).toBe(p.length - 4);
      break;
    case "skf":
      expect(p.fragmentNumber, ctx).toBe(Number(field(ws, "Fragment Number:")));
      expect(p.totalFragments, ctx).toBe(Number(field(ws, "Total Fragments:")));
      expect(p.encrypted.length, ctx).toBe(p.length - 8);
      break;
    case "id": {
      expect(p.idType, ctx).toBe(paren(field(ws, "ID type:")));
      expect(p.idTypeName, ctx).toBe(wsName(nameOf(field(ws, "ID type:"))));
      // tshark: "Identification Data:<text>" for FQDN / RFC 822 identities.
      const idd = ws.children.find((c) => c.text.startsWith("Identification Data:"));
      if (p.idType === 2 || p.idType === 3) expect(p.text, ctx).toBe(idd!.text.slice("Identification Data:".length));
      if (p.idType === 1) expect(p.text, ctx).toBe(field(idd!, "ID_IPV4_ADDR:") ?? ipv4Text(p.data));
      break;
    }
    case "cert":
      expect(p.encoding, ctx).toBe(paren(field(ws, "Certificate Encoding:")));
      expect(p.encodingName, ctx).toBe(nameOf(field(ws, "Certificate Encoding:")));
      expect(p.data.length, ctx).toBe(p.length - 5);
      if (p.encoding === 4) {
        // tshark: "rdnSequence: n items (id-at-commonName=…,id-at-countryName=XX)" — last RDN first.
        const cd = ws.children.find((c) => c.text.startsWith("Certificate Data"))!;
        const tbs = cd.children.find((c) => c.text === "signedCertificate")!;
        for (const which of ["issuer", "subject"] as const) {
          const rdn = tbs.children.find((c) => c.text.startsWith(`${which}: rdnSequence`))!.children[0].text;
          const list = /\((.*)\)$/.exec(rdn)![1].split(",").map((x) => {
            const [k, v] = x.split("=");
            return `${WS_RDN[k] ?? k}=${v}`;
          });
          expect(p[which], `${ctx} ${which}`).toBe(list.reverse().join(", "));
        }
      }
      break;
    case "auth": {
      expect(p.method, ctx).toBe(paren(field(ws, "Authentication Method:")));
      expect(p.methodName, ctx).toBe(nameOf(field(ws, "Authentication Method:")));
      const ad = ws.children.find((c) => c.text.startsWith("Authentication Data:"))!;
      expectHex(p.data, field(ws, "Authentication Data:"), ctx);
      if (p.method === 14) {
        expect(p.asn1Length, ctx).toBe(Number(field(ad, "ASN.1 Length:")));
        const asn = ad.children.find((c) => c.text.startsWith("ASN.1 Data:"))!;
        const oid = field(asn.children[0], "OID:")!;
        expect(p.signatureAlgorithm?.oid, ctx).toBe(oid.split(" ")[0]);
        expect(p.signatureAlgorithm?.oidName, ctx).toBe(/\((.*)\)/.exec(oid)![1]);
        expectHex(p.signature!, field(ad, "Signature Value:"), ctx);
      }
      break;
    }
    case "ts": {
      expect(p.numTs, ctx).toBe(Number(field(ws, "Number of Traffic Selectors:")));
      const sels = kids(ws, "Traffic Selector:");
      expect(p.selectors.length, ctx).toBe(sels.length);
      sels.forEach((w, i) => {
        const t = p.selectors[i];
        const c = `${ctx} TS ${i}`;
        expect(t.type, c).toBe(paren(field(w, "Traffic Selector Type:")));
        expect(t.typeName, c).toBe(nameOf(field(w, "Traffic Selector Type:")));
        const proto = field(w, "Protocol ID:")!;
        expect(t.ipProtocol, c).toBe(proto === "Unused" ? 0 : paren(proto));
        expect(t.length, c).toBe(Number(field(w, "Selector Length:")));
        expect(t.startPort, c).toBe(Number(field(w, "Start Port:")));
        expect(t.endPort, c).toBe(Number(field(w, "End Port:")));
        expect(t.start, c).toBe(field(w, "Starting Addr:")!);
        expect(t.end, c).toBe(field(w, "Ending Addr:")!);
      });
      break;
    }
    case "delete":
      expect(p.protocol, ctx).toBe(paren(field(ws, "Protocol ID:")));
      expect(p.spiSize, ctx).toBe(Number(field(ws, "SPI Size:")));
      expect(p.numSpis, ctx).toBe(Number(field(ws, "Number of SPIs:")));
      expect(p.spis.map((x) => toHex(x)), ctx).toEqual(kids(ws, "Delete SPI:").map((n) => n.text.slice("Delete SPI: ".length)));
      break;
    default:
      throw new Error(`${ctx}: payload kind ${p.kind} has no tshark comparison`);
  }
}

