import { describe, expect, test } from "bun:test";
import { ConfigError, parseConfigText, type RawConfig, validateConfig } from "../../lib/tunnel/config.ts";

const K36 = "0x" + "11".repeat(36);
function base(extra: RawConfig = {}): RawConfig {
  return {
    local: "192.0.2.1", remote: "192.0.2.2", tun_addr: ["10.9.0.1/30"], routes: ["10.9.0.2/32"],
    sa: { cipher: "aes256gcm16", spi_out: "0xc4ba5861", spi_in: "0x5fba82be", key_out: K36, key_in: K36 },
    ...extra,
  };
}
function errKey(raw: RawConfig): string {
  try {
    validateConfig(raw);
  } catch (e) {
    expect(e).toBeInstanceOf(ConfigError);
    return (e as ConfigError).key;
  }
  throw new Error("validated");
}

describe("config: transport", () => {
  test("default is udp, no role", () => {
    const c = validateConfig(base());
    expect(c.transport).toBe("udp");
    expect(c.tcpRole).toBeNull();
  });
  test("tcp with a role (TOML keys)", () => {
    const raw = parseConfigText('transport = "tcp"\ntcp_role = "server"\n');
    const c = validateConfig(base(raw));
    expect(c.transport).toBe("tcp");
    expect(c.tcpRole).toBe("server");
    // the tunnel MTU is derived as for UDP (same inner MSS on both transports)
    expect(c.tunnelMtu).toBe(validateConfig(base()).tunnelMtu);
  });
  test("errors name the key", () => {
    expect(errKey(base({ transport: "quic" }))).toBe("transport");
    expect(errKey(base({ transport: "tcp" }))).toBe("tcp_role");
    expect(errKey(base({ transport: "tcp", tcp_role: "both" }))).toBe("tcp_role");
    expect(errKey(base({ tcp_role: "client" }))).toBe("tcp_role");
  });
});
