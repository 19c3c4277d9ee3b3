/**
 * Named connections of a responder (peer-config.ts): ranking by the peer's ID, IDr, address
 * and auth method, and IKE_AUTH picking its connection (identities, PSK from a lookup,
 * child selectors, pool) on bare SA contexts; an unknown identity is refused with one reason.
 */
import { describe, expect, test } from "bun:test";
import fc from "fast-check";
import { responderAuth } from "../../../../lib/ike/v2/sa/exchange-auth.ts";
import { parseIdentity } from "../../../../lib/ike/v2/sa/identity.ts";
import { authClass, chooseChild, type PeerConfig, rankPeerConfigs } from "../../../../lib/ike/v2/sa/peer-config.ts";
import { parseProposalList, suiteName } from "../../../../lib/ike/v2/sa/proposals.ts";
import { tsFromText, tsText } from "../../../../lib/ike/v2/sa/ts.ts";
import type { VirtualIpPool } from "../../../../lib/ike/v2/sa/types.ts";
import { establishCtx, ofType } from "./ctx.ts";
import { baseCfg, Loop } from "./harness.ts";

const enc = (s: string) => new TextEncoder().encode(s);
const PSK_A = "connection-a-psk-0123456789abcdef", PSK_B = "connection-b-psk-0123456789abcdef";

function conn(name: string, over: Partial<PeerConfig> = {}): PeerConfig {
  return { name, auth: "psk", children: [{ name: `${name}-net`, localTs: ["203.0.113.0/24"], remoteTs: ["198.51.100.0/24"] }], ...over };
}

const facts = (idText: string, authMethod = 2, address = "192.0.2.1", idr: string | null = null) => ({ id: parseIdentity(idText), idText, idr: idr ? parseIdentity(idr) : null, authMethod, address });

describe("rankPeerConfigs", () => {
  test("exact ID beats a pattern beats %any; file order breaks ties", () => {
    const list = [conn("any1"), conn("pat", { remoteId: "*@example.org" }), conn("exact", { remoteId: "alice@example.org" }), conn("any2", { remoteId: "%any" })];
    expect(rankPeerConfigs(list, facts("alice@example.org")).candidates.map((c) => c.name)).toEqual(["exact", "pat", "any1", "any2"]);
    expect(rankPeerConfigs(list, facts("bob@example.org")).candidates.map((c) => c.name)).toEqual(["pat", "any1", "any2"]);
    expect(rankPeerConfigs(list, facts("bob@example.com")).candidates.map((c) => c.name)).toEqual(["any1", "any2"]);
    // a pattern matches its own identity type only (an FQDN that looks alike does not)
    expect(rankPeerConfigs([conn("pat", { remoteId: "*.example.org" })], facts("vpn.example.org")).candidates.length).toBe(1);
    expect(rankPeerConfigs([conn("pat", { remoteId: "*.example.org" })], facts("a@vpn.example.org")).candidates.length).toBe(0);
  });

  test("auth class: a PSK AUTH does not pick a pubkey connection, and the reason says so", () => {
    const list = [conn("certs", { remoteId: "alice@example.org", auth: "pubkey" }), conn("psk", { remoteId: "*@example.org" })];
    expect(rankPeerConfigs(list, facts("alice@example.org", 2)).candidates.map((c) => c.name)).toEqual(["psk"]);
    expect(rankPeerConfigs(list, facts("alice@example.org", 14)).candidates.map((c) => c.name)).toEqual(["certs"]);
    const r = rankPeerConfigs([list[0]], facts("alice@example.org", 2));
    expect(r.candidates).toEqual([]);
    expect(r.reason).toBe('no connection for "alice@example.org" with psk authentication (matching identity: certs (auth pubkey))');
    expect(rankPeerConfigs(list, facts("mallory@example.com")).reason).toBe('no connection matches peer "mallory@example.com" from 192.0.2.1');
    // 0: no AUTH payload, the initiator asks for EAP (RFC 7296 §2.16)
    expect([1, 2, 9, 10, 11, 14, 12, 0].map(authClass)).toEqual(["pubkey", "psk", "pubkey", "pubkey", "pubkey", "pubkey", null, "eap-mschapv2"]);
  });

  test("IDr must name the connection's local_id; remote_addrs restrict the peer's address", () => {
    const list = [conn("one", { localId: "one.example.org" }), conn("two", { localId: "two.example.org", remoteAddrs: ["192.0.2.0/28"] })];
    expect(rankPeerConfigs(list, facts("a@x", 2, "192.0.2.1", "two.example.org")).candidates.map((c) => c.name)).toEqual(["two"]);
    expect(rankPeerConfigs(list, facts("a@x", 2, "192.0.2.99", "two.example.org")).candidates.map((c) => c.name)).toEqual([]);
    expect(rankPeerConfigs(list, facts("a@x", 2, "192.0.2.99")).candidates.map((c) => c.name)).toEqual(["one"]);
  });

  test("a connection accepts only its own IKE proposals (IKE_SA_INIT offered the union)", () => {
    const list = [conn("gcm", { ikeProposals: ["aes256gcm16-prfsha256-x25519"] }), conn("cbc", { ikeProposals: ["aes128-sha256-ecp256"] })];
    const cbc = suiteName(parseProposalList(["aes128-sha256-ecp256"], "ike")[0]);
    const f = { ...facts("a@b"), ikeSuite: cbc };
    expect(rankPeerConfigs(list, f).candidates.map((c) => c.name)).toEqual(["cbc"]);
    const r = rankPeerConfigs([list[0]], f);
    expect(r.reason).toBe(`no connection for "a@b" with psk authentication and ${cbc} (matching identity: gcm (not ${cbc}))`);
  });

  test("chooseChild picks by the initiator's selectors", () => {
    const c = conn("c", { children: [{ name: "lan", localTs: ["10.1.0.0/24"], remoteTs: ["10.9.0.0/24"] }, { name: "dmz", localTs: ["10.2.0.0/24"], remoteTs: ["10.9.0.0/24"] }] });
    expect(chooseChild(c, [tsFromText("10.9.0.5/32")], [tsFromText("10.2.0.0/16")], null)!.name).toBe("dmz");
    expect(chooseChild(c, [tsFromText("10.9.0.5/32")], [tsFromText("10.1.0.7/32")], null)!.name).toBe("lan");
    expect(chooseChild(c, [tsFromText("10.9.0.5/32")], [tsFromText("172.16.0.0/12")], null)!.name).toBe("lan");
  });

  test("property: any identity text, method and address from the wire never throws; candidates come from the list and fit the method", () => {
    const list = [conn("a", { remoteId: "*@example.org" }), conn("b", { remoteId: "alice@example.org", auth: "pubkey" }), conn("c"), conn("d", { remoteId: "C=CH, O=x, CN=*", auth: "pubkey" })];
    fc.assert(fc.property(
      fc.integer({ min: 0, max: 255 }), fc.uint8Array({ maxLength: 64 }), fc.integer({ min: 0, max: 255 }), fc.string({ maxLength: 40 }), fc.option(fc.uint8Array({ maxLength: 16 })),
      (idType, data, method, text, idr) => {
        const r = rankPeerConfigs(list, { id: { idType, data }, idText: text, idr: idr ? { idType: 2, data: idr } : null, authMethod: method, address: text });
        for (const c of r.candidates) {
          expect(list).toContain(c);
          expect(c.auth).toBe(authClass(method)!);
        }
        expect(r.candidates.length > 0 || r.reason.length > 0).toBe(true);
      },
    ), { numRuns: 2000 });
  });
});

/** A responder config with two PSK connections (secrets keyed by the peer's ID) and no credentials of its own. */
function twoConnections(pool?: VirtualIpPool) {
  const secrets = new Map([["vf1@example.org", PSK_A], ["bob@example.org", PSK_B]]);
  const psk = (_id: unknown, text: string) => (secrets.has(text) ? enc(secrets.get(text)!) : null);
  return baseCfg("r", {
    psk: undefined, localId: "192.0.2.2", remoteId: undefined,
    peerConfigs: [
      conn("a", { remoteId: "vf1@example.org", localId: "a.example.org", psk, children: [{ name: "a-net", localTs: ["203.0.113.0/24"], remoteTs: ["198.51.100.0/24"] }] }),
      conn("b", { remoteId: "*@example.org", localId: "b.example.org", psk, virtualIpPool: pool, dns: ["10.77.0.1"], children: [{ name: "b-net", localTs: ["10.1.0.0/16"], remoteTs: ["10.77.0.0/24"] }] }),
    ],
  });
}

describe("IKE_AUTH picks the connection", () => {
  test("by the peer's ID: its PSK, its local_id, its child's selectors", () => {
    const { i, r, ra } = establishCtx(baseCfg("i", { psk: PSK_A, remoteId: "a.example.org" }), twoConnections(), responderAuth);
    expect(ofType(ra, "failed")).toEqual([]);
    expect([i.state, r.state, r.connection]).toEqual(["established", "established", "a"]);
    expect(i.remoteIdText).toBe("a.example.org");
    expect(ofType(ra, "established")[0].localId).toBe("a.example.org");
    expect(ofType(ra, "install-child")[0].child.tsLocal.map(tsText)).toEqual(["203.0.113.0/24"]);
  });

  test("another ID lands on the pattern connection: its own PSK, pool and selectors", () => {
    const given: string[] = [];
    const pool: VirtualIpPool = { allocate: (peer) => (given.push(peer), "10.77.0.9"), release: () => {} };
    const { i, r, ia, ra } = establishCtx(
      baseCfg("i", { localId: "bob@example.org", psk: PSK_B, remoteId: undefined, requestVirtualIp: true, localTs: undefined, remoteTs: ["10.1.0.0/16"] }), twoConnections(pool), responderAuth,
    );
    expect(ofType(ra, "failed")).toEqual([]);
    expect([i.state, r.connection, i.remoteIdText]).toEqual(["established", "b", "b.example.org"]);
    expect(given).toEqual(["bob@example.org"]);
    expect(ofType(ia, "virtual-ip")).toEqual([{ type: "virtual-ip", address: "10.77.0.9", dns: ["10.77.0.1"] }]);
    const ch = ofType(ra, "install-child")[0].child;
    expect([ch.tsLocal.map(tsText), ch.tsRemote.map(tsText)]).toEqual([["10.1.0.0/16"], ["10.77.0.9/32"]]);
  });

  test("the right ID with another connection's PSK does not verify", () => {
    const { r, ra } = establishCtx(baseCfg("i", { psk: PSK_B, remoteId: undefined }), twoConnections(), responderAuth);
    expect(ofType(ra, "failed")[0]).toMatchObject({ notify: "AUTHENTICATION_FAILED" });
    // best candidate's reason first (a), the pattern connection tried too
    expect(ofType(ra, "failed")[0].reason).toContain("connection a: AUTH of \"vf1@example.org\" (pre-shared key) does not verify");
    expect(r.connection).toBeNull();
  });

  test("an unknown ID is refused with AUTHENTICATION_FAILED and one reason", () => {
    const { i, ra, ia } = establishCtx(baseCfg("i", { localId: "mallory@evil.example", psk: PSK_A, remoteId: undefined }), twoConnections(), responderAuth);
    const f = ofType(ra, "failed");
    expect(f.length).toBe(1);
    expect(f[0]).toMatchObject({ scope: "ike", notify: "AUTHENTICATION_FAILED" });
    expect(f[0].reason).toBe('IKE_AUTH failed: no connection matches peer "mallory@evil.example" from 192.0.2.1; sent AUTHENTICATION_FAILED');
    expect(ofType(ia, "failed")[0].notify).toBe("AUTHENTICATION_FAILED");
    expect(i.state).toBe("dead");
  });

  test("a known ID without a secret: the reason names the missing [secrets] entry", () => {
    const { ra } = establishCtx(baseCfg("i", { localId: "carol@example.org", psk: PSK_A, remoteId: undefined }), twoConnections(), responderAuth);
    expect(ofType(ra, "failed")[0].reason).toContain('connection b: no pre-shared key for "carol@example.org" in [secrets]');
  });
});

describe("children of a connection", () => {
  test("CREATE_CHILD_SA takes the child whose selectors fit; a rekey of the first child still finds its own", () => {
    const psk = () => enc(PSK_A);
    const rcfg = baseCfg("r", {
      psk: undefined, remoteId: undefined,
      peerConfigs: [conn("two", {
        remoteId: "vf1@example.org", localId: "vf2@example.org", psk,
        children: [
          { name: "lan", localTs: ["203.0.113.0/24"], remoteTs: ["198.51.100.0/24"], espProposals: ["aes256gcm16"] },
          { name: "dmz", localTs: ["192.0.2.128/25"], remoteTs: ["198.51.100.0/24"], espProposals: ["chacha20poly1305"] },
        ],
      })],
    });
    const L = new Loop(baseCfg("i", { psk: PSK_A, espProposals: ["aes256gcm16", "chacha20poly1305"] }), rcfg);
    L.run();
    expect([L.i.state, L.r.state, L.r.connection]).toEqual(["established", "established", "two"]);
    const first = L.of("r", "install-child")[0].child;
    expect([first.cipher, first.tsLocal.map(tsText)]).toEqual(["aes256gcm16", ["203.0.113.0/24"]]);
    L.take("i", L.i.initiateChild({ local: ["198.51.100.0/24"], remote: ["192.0.2.128/25"] }, L.now));
    L.run();
    const second = L.of("r", "install-child")[1].child;
    expect([second.cipher, second.tsLocal.map(tsText)]).toEqual(["chacha20poly1305", ["192.0.2.128/25"]]);
    expect(L.acts.r.some((a) => a.type === "log" && /Child SA dmz established/.test(a.msg))).toBe(true);
    // the first child's rekey picks "lan" again by its selectors
    L.take("i", L.i.rekeyChild(L.of("i", "install-child")[0].child.spiIn, L.now));
    L.run();
    const rekey = L.of("r", "install-child")[2].child;
    expect([rekey.cipher, rekey.tsLocal.map(tsText), !!rekey.rekeyOf]).toEqual(["aes256gcm16", ["203.0.113.0/24"], true]);
    expect(L.of("r", "failed")).toEqual([]);
  });
});
