/**
 * Parsed configuration shared by every IKE SA made from the same settings: proposals,
 * traffic selectors, identities, our certificate chain and private key are parsed once and
 * the same (frozen) objects are held by all the SAs of a server, instead of a parsed copy per
 * SA (issue 12: memory per held SA). Keyed by the configuration's text (a caller that
 * changes its settings gets a new parse); each table is bounded (cleared when full), so a
 * process that makes SAs with ever new identities (a load generator) does not grow.
 * Nothing here is secret: the PSK stays a per-SA copy (zeroed when the SA dies).
 * @module
 */
import { derBlocks } from "../../pki/x509.ts";
import { X509Certificate, type KeyObject } from "node:crypto";
import { loadPrivateKey } from "./auth-sig.ts";
import { parseIdentity, type Identity } from "./identity.ts";
import { parseProposalList, type Suite } from "./proposals.ts";
import { tsFromText, type TrafficSelector } from "./ts.ts";

/** Entries per table before it is cleared. */
const CAP = 256;

function cached<V>(m: Map<string, V>, key: string, make: () => V): V {
  let v = m.get(key);
  if (v === undefined) {
    v = make();
    if (m.size >= CAP) m.clear();
    m.set(key, v);
  }
  return v;
}

const suites = new Map<string, readonly Suite[]>();
const selectors = new Map<string, readonly TrafficSelector[]>();
const identities = new Map<string, Identity>();
const chains = new Map<string, readonly Uint8Array[]>();
const privateKeys = new Map<string, KeyObject>();
const privateKeysBin = new WeakMap<Uint8Array, KeyObject>();

/** Parsed proposals (frozen; throws on a bad one, like {@link parseProposal}). */
export function sharedSuites(list: readonly string[], kind: "ike" | "esp"): Suite[] {
  // parseProposalList shares one frozen parse per list already (proposal strings: lib/ike/v2/sa/proposal-string.ts)
  return cached(suites, `${kind}\n${list.join("\n")}`, () => parseProposalList(list, kind)) as Suite[];
}

const suiteObjects = new Map<string, Suite>();

/** One frozen object per distinct suite (a negotiated suite kept by a Child SA). */
export function sharedSuite(s: Suite): Suite {
  return cached(suiteObjects, JSON.stringify(s), () => Object.freeze({ ...s }));
}

/** Parsed traffic selectors (the array and its selectors are shared: never change them). */
export function sharedSelectors(list: readonly string[]): TrafficSelector[] {
  return cached(selectors, list.join("\n"), () => Object.freeze(list.map((t) => Object.freeze(tsFromText(t))))) as TrafficSelector[];
}

/** A parsed identity (shared: never change it). */
export function sharedIdentity(text: string): Identity {
  return cached(identities, text, () => Object.freeze(parseIdentity(text)));
}

/** DER of our certificate and its intermediates (throws on bad PEM). */
/** No certificates: one frozen array for every SA without any. */
const NO_CERTS: readonly Uint8Array[] = Object.freeze([]);

export function sharedChain(pems: readonly string[]): Uint8Array[] {
  if (pems.length === 0) return NO_CERTS as Uint8Array[];
  // every certificate of each PEM text: a certificate file may hold the chain to send
  return cached(chains, pems.join("\n"), () => {
    const ders = pems.flatMap((c) => derBlocks(c));
    for (const d of ders) new X509Certificate(d); // throws on a bad certificate
    return Object.freeze(ders);
  }) as Uint8Array[];
}

/** Our private key object (throws on a bad key). */
export function sharedPrivateKey(pem: string | Uint8Array): KeyObject {
  if (typeof pem === "string") return cached(privateKeys, pem, () => loadPrivateKey(pem));
  let k = privateKeysBin.get(pem);
  if (!k) privateKeysBin.set(pem, (k = loadPrivateKey(pem)));
  return k;
}
