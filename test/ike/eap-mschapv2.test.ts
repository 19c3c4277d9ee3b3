/** MS-CHAPv2 crypto against RFC 2759 §9.2 and RFC 3079 §3.5.3 test vectors. */
import { describe, expect, test } from "bun:test";
import { fromHex, toHex } from "../../lib/core/bytes.ts";
import {
  asymmetricStartKey, authenticatorResponse, challengeHash, hashNtPasswordHash, masterKey, ntPasswordHash, ntResponse, verifyNtResponse,
} from "../../lib/ike/v2/eap/mschapv2-crypto.ts";

const h = (s: string) => fromHex(s.replace(/\s+/g, ""))!;

describe("MS-CHAPv2 (RFC 2759 §9.2)", () => {
  const user = "User", pw = "clientPass";
  const authChallenge = h("5B 5D 7C 7D 7B 3F 2F 3E 3C 2C 60 21 32 26 26 28");
  const peerChallenge = h("21 40 23 24 25 5E 26 2A 28 29 5F 2B 3A 33 7C 7E");
  test("ChallengeHash, NtPasswordHash, NT-Response, AuthenticatorResponse", () => {
    expect(toHex(challengeHash(peerChallenge, authChallenge, user))).toBe("d02e4386bce91226");
    const ph = ntPasswordHash(pw);
    expect(toHex(ph)).toBe("44ebba8d5312b8d611474411f56989ae");
    expect(toHex(hashNtPasswordHash(ph))).toBe("41c00c584bd2d91c4017a2a12fa59f3f");
    const nt = ntResponse(authChallenge, peerChallenge, user, ph);
    expect(toHex(nt)).toBe("82309ecd8d708b5ea08faa3981cd83544233114a3d85d6df");
    expect(authenticatorResponse(ph, nt, peerChallenge, authChallenge, user)).toBe("S=407A5589115FD0D6209F510FE9C04566932CDA56");
    expect(verifyNtResponse(nt, authChallenge, peerChallenge, user, ph)).toBe(true);
    expect(verifyNtResponse(nt, authChallenge, peerChallenge, user, ntPasswordHash("wrong"))).toBe(false);
  });
});

describe("MPPE keys (RFC 3079 §3.5.3)", () => {
  test("master key; the client's send key is the server's receive key (the MSK itself is checked against charon in test/interop)", () => {
    const ph = ntPasswordHash("clientPass");
    const nt = h("82309ECD8D708B5EA08FAA3981CD83544233114A3D85D6DF");
    const mk = masterKey(hashNtPasswordHash(ph), nt);
    expect(toHex(mk)).toBe("fdece3717a8c838cb388e527ae3cdd31");
    expect(toHex(asymmetricStartKey(mk, true, false))).toBe(toHex(asymmetricStartKey(mk, false, true)));
    expect(toHex(asymmetricStartKey(mk, false, false))).toBe(toHex(asymmetricStartKey(mk, true, true)));
    expect(toHex(asymmetricStartKey(mk, true, false))).not.toBe(toHex(asymmetricStartKey(mk, false, false)));
  });
});

import fc from "fast-check";
import { randomBytes } from "node:crypto";
import { EAP_FAILURE, EAP_SUCCESS, MschapPeer, MschapServer, parseEap } from "../../lib/ike/v2/eap/mschapv2.ts";
import { ntPasswordHash as nth } from "../../lib/ike/v2/eap/mschapv2-crypto.ts";

const rng = (n: number) => new Uint8Array(randomBytes(n));
const users = new Map([["alice", nth("correct horse battery")]]);

function converse(server: MschapServer, peer: MschapPeer, first: Uint8Array) {
  let toPeer: Uint8Array | undefined = first;
  for (let i = 0; i < 10 && toPeer; i++) {
    const p = peer.step(toPeer);
    if ("done" in p && !p.send) return { peer: p };
    const s = server.step(p.send!);
    if ("done" in s) return { server: s, peer: s.send ? peer.step(s.send) : p };
    toPeer = s.send;
  }
  throw new Error("no end");
}

describe("EAP-MSCHAPv2 server and peer", () => {
  test("identity, challenge, response, success: both sides hold the same 32-byte MSK", () => {
    const server = new MschapServer((u) => users.get(u), rng);
    const r = converse(server, new MschapPeer("alice", "correct horse battery", rng), server.start());
    expect(r.server).toMatchObject({ done: "success", user: "alice" });
    expect(r.peer).toMatchObject({ done: "success" });
    const a = (r.server as { msk: Uint8Array }).msk, b = (r.peer as { msk: Uint8Array }).msk;
    expect(a.length).toBe(32);
    expect(toHex(a)).toBe(toHex(b));
    expect(parseEap((r.server as { send: Uint8Array }).send)!.code).toBe(EAP_SUCCESS);
  });
  test("the identity known from IDi: the challenge comes first", () => {
    const server = new MschapServer((u) => users.get(u), rng);
    const r = converse(server, new MschapPeer("alice", "correct horse battery", rng), server.start("alice"));
    expect(r.server).toMatchObject({ done: "success", user: "alice" });
  });
  test("a wrong password and an unknown user: EAP-Failure with one reason each", () => {
    for (const [u, pw, why] of [["alice", "wrong", /wrong password for EAP user "alice"/], ["mallory", "x", /unknown EAP user "mallory"/]] as const) {
      const server = new MschapServer((n) => users.get(n), rng);
      const r = converse(server, new MschapPeer(u, pw, rng), server.start());
      expect(r.server).toMatchObject({ done: "failure", reason: expect.stringMatching(why) });
      expect(parseEap((r.server as { send: Uint8Array }).send)!.code).toBe(EAP_FAILURE);
      expect(r.peer).toMatchObject({ done: "failure" });
    }
  });
  test("a user name from the wire with a newline cannot forge a log line: the reason escapes it", () => {
    const server = new MschapServer((n) => users.get(n), rng);
    const r = converse(server, new MschapPeer("mallory\n2026 info: [ike] admin authenticated", "x", rng), server.start());
    const reason = (r.server as { reason: string }).reason;
    expect(reason).toContain('unknown EAP user "mallory\\x0a2026 info');
    expect(reason).not.toContain("\n");
  });
  test("a server that does not know the password cannot fake Success to the peer", () => {
    const server = new MschapServer((u) => users.get(u), rng);
    const peer = new MschapPeer("alice", "correct horse battery", rng);
    const id = peer.step(server.start()) as { send: Uint8Array };
    const challenge = (server.step(id.send) as { send: Uint8Array }).send;
    const resp = peer.step(challenge) as { send: Uint8Array };
    // a forged Success request: right shape, an authenticator response made up
    const eapId = parseEap(resp.send)!.id + 1;
    const msg = new TextEncoder().encode("S=" + "AB".repeat(20) + " M=ok");
    const body = new Uint8Array(4 + msg.length);
    body[0] = 3; body[1] = eapId - 1; body[2] = 0; body[3] = body.length; body.set(msg, 4);
    const forged = new Uint8Array(5 + body.length);
    forged[0] = 1; forged[1] = eapId; forged[2] = 0; forged[3] = forged.length; forged[4] = 26; forged.set(body, 5);
    expect(peer.step(forged)).toMatchObject({ done: "failure", reason: expect.stringContaining("does not know the password") });
    // and an EAP-Success without a verified authenticator response is refused too
    expect(new MschapPeer("alice", "x", rng).step(Uint8Array.of(3, 1, 0, 4))).toMatchObject({ done: "failure" });
  });
  test("hostile input never throws and ends within the round limit", () => {
    fc.assert(fc.property(fc.array(fc.uint8Array({ maxLength: 80 }), { maxLength: 12 }), (msgs) => {
      const s = new MschapServer((u) => users.get(u), rng);
      const p = new MschapPeer("alice", "pw", rng);
      s.start();
      for (const m of msgs) {
        s.step(m);
        p.step(m);
      }
    }), { numRuns: 500 });
  });
});
