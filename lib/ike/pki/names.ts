/**
 * Does a certificate name an IKE identity (RFC 4945 §3.1, as strongSwan matches)? IP
 * address, FQDN and RFC 822 identities match a subjectAltName of that kind; a DN identity
 * matches the subject (RDN by RDN, {@link dnEqual}) or a directoryName alternative name.
 * The subject's CN is not an FQDN match.
 * @module
 */
import { dnEqual, parseName } from "./dn.ts";
import type { Certificate } from "./x509.ts";

const LATIN1 = new TextDecoder("latin1");

/** `idType` as in the ID payload (1 IPv4, 2 FQDN, 3 RFC822, 5 IPv6, 9 DN); `data` its body. */
export function certNamesIdentity(c: Certificate, idType: number, data: Uint8Array): boolean {
  switch (idType) {
    case 1:
    case 5:
      return c.subjectAltNames.some((g) => g.kind === "ip" && g.value.length === data.length && g.value.every((x, i) => x === data[i]));
    case 2: {
      const want = LATIN1.decode(data).toLowerCase().replace(/\.$/, "");
      return c.subjectAltNames.some((g) => g.kind === "dns" && g.value.toLowerCase().replace(/\.$/, "") === want);
    }
    case 3: {
      const want = LATIN1.decode(data).toLowerCase();
      return c.subjectAltNames.some((g) => g.kind === "email" && g.value.toLowerCase() === want);
    }
    case 9: {
      const dn = parseName(data, 0, data.length);
      if (!dn) return false;
      return dnEqual(dn, c.subject) || c.subjectAltNames.some((g) => g.kind === "dn" && dnEqual(dn, g.value));
    }
    default:
      return false;
  }
}
