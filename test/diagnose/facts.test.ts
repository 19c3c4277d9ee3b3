/** What the diagnoser keeps of real decrypted IKE messages (c_ikev2_cert_frag: certificates, SKF). */
import { expect, test } from "bun:test";
import { ikev2Content } from "../../lib/diagnose/access.ts";
import { ikev2Facts } from "../../lib/diagnose/facts.ts";
import type { Ikev2Message } from "../../lib/ike/v2/message.ts";
import { loadKeyStore } from "../../lib/keys/load.ts";
import { decodeFile, FIX } from "../decode/helpers.ts";

test("IKE_AUTH of c: identities, AUTH method, certificate subjects and issuers, proposals, selectors", async () => {
  const dir = `${FIX}made/c_ikev2_cert_frag/`;
  const { packets } = await decodeFile(`${dir}c_ikev2_cert_frag.pcap`, { keys: loadKeyStore([`${dir}ikev2_decryption_table`]) });
  const msg = (no: number) => packets[no - 1].layers.find((l) => l.layer === "ikev2") as Ikev2Message;
  const req = ikev2Content(msg(14));
  expect(req.protection).toBe("decrypted");
  const f = ikev2Facts(req.payloads);
  expect(f.idi).toBe("ID_FQDN vf1.example.org");
  expect(f.auth?.method).toBe(14);
  expect(f.certs).toBe(2);
  expect(f.certNames).toHaveLength(2);
  expect(f.certNames.every((c) => c.includes("(issued by "))).toBe(true);
  expect(f.sa?.protocol).toBe("ESP");
  expect(f.sa?.proposals[0].transforms.ENCR).toEqual(["AES_GCM_16 256-bit"]);
  expect(f.tsi).toBe("198.51.100.0-198.51.100.255 (any protocol, any port)");
  // A fragment that does not complete the message has no content of its own.
  expect(ikev2Content(msg(5)).protection).toBe("encrypted");
});
