/**
 * The control socket's commands (lib/tunnel/control.ts): `status` (also a client that sends
 * nothing), `reload` answered by the tunnel's reload function (ok or refused with the reason),
 * an unknown command refused, and `vpnkit reload`'s client.
 */
import { afterAll, expect, test } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { createConnection } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ControlServer, readStatus, requestReload, type TunnelStatus } from "../../lib/tunnel/control.ts";

const dir = mkdtempSync(join(tmpdir(), "vkg-ctl-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const snapshot = () => ({ version: 1, pid: 1, tun: "vkg0" }) as unknown as TunnelStatus;

function raw(path: string, send: string | null): Promise<string> {
  return new Promise((resolve, reject) => {
    const c = createConnection(path);
    let d = "";
    if (send !== null) c.write(send);
    c.setEncoding("utf8");
    c.on("data", (x) => (d += x));
    c.on("end", () => resolve(d));
    c.on("error", reject);
  });
}

test("status, reload (applied and refused), unknown commands", async () => {
  const answers = [{ ok: true, message: "reload: added b; unchanged a" }, { ok: false, message: "reload refused: config: x: bad; the running configuration stays" }];
  let calls = 0;
  const srv = new ControlServer(join(dir, "c.sock"), snapshot, async () => answers[calls++]);
  await srv.listen();
  try {
    expect((await readStatus(join(dir, "c.sock"))).tun).toBe("vkg0");
    // a client that only reads (no command) still gets the status
    expect(JSON.parse(await raw(join(dir, "c.sock"), null)).tun).toBe("vkg0");
    expect(await requestReload(join(dir, "c.sock"))).toEqual(answers[0]);
    expect(await requestReload(join(dir, "c.sock"))).toEqual(answers[1]);
    expect(calls).toBe(2);
    expect(JSON.parse(await raw(join(dir, "c.sock"), "frobnicate\n"))).toEqual({ error: 'unknown command "frobnicate" (status, reload)' });
    await expect(requestReload(join(dir, "nope.sock"))).rejects.toThrow("cannot connect");
  } finally {
    srv.close();
  }
  // a server without a reload function (manual keys) refuses it
  const plain = new ControlServer(join(dir, "p.sock"), snapshot);
  await plain.listen();
  try {
    expect(await requestReload(join(dir, "p.sock"))).toEqual({ ok: false, message: "reload is not supported in this mode" });
  } finally {
    plain.close();
  }
});
