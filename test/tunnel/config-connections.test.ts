/**
 * `[connections.NAME]` and `[secrets]` (lib/tunnel/config-connections.ts through
 * validateIkeConfig), the secrets lookup of the driver (ike-connections.ts), and the
 * reload plan (config-reload.ts): what is added, removed, changed, kept, and which keys need
 * a restart. Property test: any TOML-shaped value under [connections] / [secrets] is either
 * accepted or refused with a ConfigError, never another exception.
 */
import { describe, expect, test } from "bun:test";
import fc from "fast-check";
import { ConfigError, parseConfigText, validateIkeConfig } from "../../lib/tunnel/config.ts";
import { planReload } from "../../lib/tunnel/config-reload.ts";
import { ConnectionSet } from "../../lib/tunnel/ike-connections.ts";
import { unknownConfigKeys } from "../../lib/tunnel/config-keys.ts";
import { secretFiles } from "../../lib/tunnel/ops-config.ts";
import { parseIdentity } from "../../lib/ike/v2/sa/identity.ts";

const files: Record<string, string> = {
  "/k/alice.psk": "alice-pre-shared-key-0123456789\n",
  "/k/any.psk": "fallback-pre-shared-key-0123456789",
  "/k/short.psk": "short\n",
  "/k/ca.crt": "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n",
  "/k/srv.crt": "-----BEGIN CERTIFICATE-----\nMIIC\n-----END CERTIFICATE-----\n",
  "/k/srv.key": "-----BEGIN PRIVATE KEY-----\nMIID\n-----END PRIVATE KEY-----\n",
};
const readFile = (p: string) => {
  if (!(p in files)) throw new Error(`ENOENT: ${p}`);
  return new TextEncoder().encode(files[p]);
};

const SERVER = `
tun_name = "vks0"
control = "/tmp/vks0.sock"
[ike]
dpd = 20
[secrets]
"alice@example.org" = { psk_file = "/k/alice.psk" }
"%any" = { psk_file = "/k/any.psk" }
[connections.psk]
local_id = "vpn.example.org"
remote_id = "*@example.org"
pools = ["10.99.1.0/24"]
[connections.psk.children.lan]
local_ts = ["10.1.0.0/24"]
[connections.certs]
auth = "pubkey"
certs = "/k/srv.crt"
key = "/k/srv.key"
cacerts = ["/k/ca.crt"]
pools = ["10.99.2.0/24", "fd99::/64"]
esp_proposals = ["chacha20poly1305"]
[connections.certs.children.lan]
local_ts = ["10.1.0.0/24", "fd01::/64"]
`;

const load = (text: string) => validateIkeConfig(parseConfigText(text), readFile);

function refused(text: string): string {
  try {
    load(text);
  } catch (e) {
    expect(e).toBeInstanceOf(ConfigError);
    return (e as Error).message;
  }
  throw new Error("accepted");
}

describe("[connections] and [secrets]", () => {
  test("a server with a PSK and a certificate connection: a responder on any address, routes to every pool", () => {
    const c = load(SERVER);
    expect([c.ike.responder, c.ike.remoteAny, c.ike.dpdSec]).toEqual([true, true, 20]);
    expect(c.connections!.map((x) => [x.name, x.auth, x.remoteId, x.pools])).toEqual([
      ["psk", "psk", "*@example.org", ["10.99.1.0/24"]],
      ["certs", "pubkey", undefined, ["10.99.2.0/24", "fd99::/64"]],
    ]);
    expect(c.connections![0].children).toEqual([{ name: "lan", localTs: ["10.1.0.0/24"], remoteTs: ["10.99.1.0/24"], espProposals: ["aes256gcm16", "chacha20poly1305"] }]);
    expect(c.connections![1].children[0].espProposals).toEqual(["chacha20poly1305"]);
    expect(c.connections![1].peerCa).toEqual([files["/k/ca.crt"]]);
    expect(c.routes.map((r) => r.text).sort()).toEqual(["10.99.1.0/24", "10.99.2.0/24", "fd99::/64"]);
    expect(c.tunAddr).toEqual([]);
    expect(c.ike.peerCa).toEqual([files["/k/ca.crt"]]);
    expect(c.secrets!.map((s) => [s.id, new TextDecoder().decode(s.psk)])).toEqual([["alice@example.org", "alice-pre-shared-key-0123456789"], ["%any", "fallback-pre-shared-key-0123456789"]]);
    expect(unknownConfigKeys(parseConfigText(SERVER) as Record<string, unknown>)).toEqual([]);
  });

  test('auth = "eap-tls": the client CA is cacerts, our certificate is required; either missing is a start-up error naming the key', () => {
    const tlsConf = SERVER.replace('auth = "pubkey"', 'auth = "eap-tls"');
    const c = load(tlsConf);
    expect(c.connections![1].auth).toBe("eap-tls");
    expect(c.connections![1].peerCa).toEqual([files["/k/ca.crt"]]);
    expect(new ConnectionSet(c, () => {}).peerConfigs[1]).toMatchObject({ name: "certs", auth: "eap-tls", peerCa: [files["/k/ca.crt"]] });
    expect(refused(tlsConf.replace('cacerts = ["/k/ca.crt"]', ""))).toBe(`config: connections.certs.cacerts: missing: auth = "eap-tls" checks the client's certificate against these CAs`);
    expect(refused(tlsConf.replace('certs = "/k/srv.crt"\nkey = "/k/srv.key"\n', ""))).toBe('config: connections.certs.certs: missing: with auth = "eap-tls" clients check our certificate first (certs and key)');
  });

  test("every mistake names its key", () => {
    expect(refused(SERVER + '[ike.limits]\n[connections.x]\nremote_id = "a@b"\n')).toBe("config: connections.x.children: at least one child: [connections.x.children.NAME] with local_ts");
    expect(refused(SERVER.replace('auth = "pubkey"', 'auth = "eap"'))).toBe('config: connections.certs.auth: must be "psk", "pubkey", "eap-mschapv2" or "eap-tls", not "eap"');
    expect(refused(SERVER.replace('cacerts = ["/k/ca.crt"]', ""))).toContain("config: connections.certs.cacerts: missing");
    expect(refused(SERVER.replace('key = "/k/srv.key"', ""))).toBe("config: connections.certs.key: give both certs and key (our certificate and its private key)");
    expect(refused(SERVER.replace("[ike]\n", '[ike]\npsk_file = "/k/alice.psk"\n'))).toContain("config: ike.psk_file: with [connections] this is set per connection");
    expect(refused(SERVER.replace('tun_name = "vks0"', 'remote = "192.0.2.9"'))).toContain("config: remote: with [connections] peers come from any address");
    expect(refused(SERVER.replace("/k/any.psk", "/k/short.psk"))).toBe("config: secrets.%any: the pre-shared key is 5 bytes, at least 16 needed (or psk_allow_short = true)");
    expect(refused(SERVER.replace("/k/any.psk", "/k/none.psk"))).toContain("config: secrets.%any.psk_file: cannot read /k/none.psk");
    expect(refused(SERVER.replace('"%any" = { psk_file = "/k/any.psk" }', '"%any" = { pskfile = "x" }'))).toContain("config: secrets.%any.pskfile: unknown key");
    expect(refused(SERVER.replace('pools = ["10.99.1.0/24"]', 'pools = ["10.99.1.0/24", "10.98.0.0/24"]'))).toContain("one IPv4 and one IPv6 prefix at most");
    expect(refused(SERVER.replace('local_ts = ["10.1.0.0/24"]\n[connections.certs]', 'local_ts = ["10.1.0.0/33"]\n[connections.certs]'))).toBe("config: connections.psk.children.lan.local_ts: not a prefix: 10.1.0.0/33");
    expect(refused(SERVER.replace('esp_proposals = ["chacha20poly1305"]', 'esp_proposals = ["aes192-sha256"]'))).toContain('"aes192" is not supported by the ESP data plane');
    expect(refused(SERVER.replace("[connections.psk]", "[connections.\"bad name\"]").replace("connections.psk.children", "connections.\"bad name\".children"))).toContain("a connection name is");
    expect(refused(SERVER.replace(/\[secrets\][^[]*/, ""))).toContain('config: secrets: connection psk uses auth = "psk"');
    expect(unknownConfigKeys({ connections: { a: { remote_idd: 1, children: { c: { local_tss: 1 } } } }, secrets: { x: { pskk: 1 } } })).toEqual(["connections.a.remote_idd", "connections.a.children.c.local_tss", "secrets.x.pskk"]);
  });

  test("secret files of connections are checked like the others", () => {
    expect(secretFiles(parseConfigText(SERVER), "/etc/vpnkit/s.toml").map((f) => f.what)).toEqual([
      "PSK file (secrets.alice@example.org.psk_file)", "PSK file (secrets.%any.psk_file)", "private key (connections.certs.key)",
    ]);
    expect(secretFiles(parseConfigText('[secrets]\n"a@b" = { psk = "x" }\n'), "/c.toml").map((f) => f.path)).toEqual(["/c.toml"]);
  });

  test("the PSK lookup: exact ID, then a pattern, then %any", () => {
    const c = load(SERVER.replace('"%any"', '"*@example.com" = { psk = "pattern-pre-shared-key-0123456" }\n"%any"'));
    const set = new ConnectionSet(c, () => {});
    const psk = (id: string) => {
      const k = set.lookup(parseIdentity(id), id);
      return k ? new TextDecoder().decode(k) : null;
    };
    expect(psk("alice@example.org")).toBe("alice-pre-shared-key-0123456789");
    expect(psk("bob@example.com")).toBe("pattern-pre-shared-key-0123456");
    expect(psk("bob@example.org")).toBe("fallback-pre-shared-key-0123456789");
    expect(set.peerConfigs.map((p) => [p.name, !!p.virtualIpPool])).toEqual([["psk", true], ["certs", true]]);
    set.wipe();
  });

  test("property: any value under [connections] / [secrets] is accepted or refused with a ConfigError", () => {
    const leaf = fc.oneof(fc.string({ maxLength: 12 }), fc.integer(), fc.boolean(), fc.array(fc.string({ maxLength: 12 }), { maxLength: 3 }), fc.constantFrom("10.1.0.0/24", "psk", "pubkey", "/k/ca.crt", "/k/alice.psk", "%any", "a@b"));
    const keys = fc.constantFrom("local_id", "remote_id", "auth", "pools", "cacerts", "certs", "key", "children", "psk", "psk_file", "local_ts", "remote_ts", "dns", "x");
    const tbl = fc.dictionary(keys, fc.oneof(leaf, fc.dictionary(fc.string({ maxLength: 4 }), fc.dictionary(keys, leaf, { maxKeys: 3 }), { maxKeys: 2 })), { maxKeys: 5 });
    fc.assert(fc.property(fc.dictionary(fc.string({ maxLength: 6 }), fc.oneof(tbl, leaf), { maxKeys: 3 }), fc.option(fc.dictionary(fc.string({ maxLength: 8 }), fc.oneof(tbl, leaf), { maxKeys: 2 })), (conns, secrets) => {
      try {
        validateIkeConfig({ tun_name: "vkp0", connections: conns, ...(secrets ? { secrets } : {}) }, readFile);
      } catch (e) {
        if (!(e instanceof ConfigError)) throw e;
      }
    }), { numRuns: 1500 });
  });
});

describe("reload plan", () => {
  test("added, removed, changed and unchanged connections; process-wide keys apply; bound keys need a restart", () => {
    const a = load(SERVER);
    const b = load(SERVER.replace('tun_name = "vks0"', 'tun_name = "vks1"').replace("dpd = 20", "dpd = 25")
      .replace('esp_proposals = ["chacha20poly1305"]', 'esp_proposals = ["aes256gcm16"]')
      + '[connections.new]\nremote_id = "carol@example.net"\npools = ["10.99.3.0/24"]\n[connections.new.children.c]\nlocal_ts = ["10.1.0.0/24"]\n');
    const p = planReload(a, b);
    expect([p.added, p.removed, p.changed, p.unchanged]).toEqual([["new"], [], ["certs"], ["psk"]]);
    expect(p.applied).toEqual(["ike.dpd", "routes"]);
    expect(p.newRoutes).toEqual(["10.99.3.0/24"]);
    expect(p.restart).toEqual(["tun_name"]);
    expect([p.effective.tunName, p.effective.control, p.effective.ike.dpdSec]).toEqual(["vks0", "/tmp/vks0.sock", 25]);
    const c = load(SERVER.replace(/\[connections\.certs\][\s\S]*/, ""));
    expect(planReload(a, c)).toMatchObject({ removed: ["certs"], unchanged: ["psk"], added: [], changed: [] });
  });

  test("the single [ike] form is one connection; its PSK counts, switching forms is refused", () => {
    const ike = (psk: string, dpd = 30) => validateIkeConfig(parseConfigText(`[ike]\nresponder = true\npsk = "${psk}"\nlocal_ts = ["10.1.0.0/24"]\nremote_ts = ["10.2.0.0/24"]\ndpd = ${dpd}\n`));
    expect(planReload(ike("a-pre-shared-key-0123456789"), ike("a-pre-shared-key-0123456789", 10))).toMatchObject({ unchanged: ["ike"], applied: ["ike.dpd"], restart: [] });
    expect(planReload(ike("a-pre-shared-key-0123456789"), ike("b-pre-shared-key-0123456789")).changed).toEqual(["ike"]);
    expect(() => planReload(ike("a-pre-shared-key-0123456789"), load(SERVER))).toThrow("switching between the single [ike] form and [connections] needs a restart");
  });
});
