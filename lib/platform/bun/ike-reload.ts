/**
 * Reload of a running IKEv2 tunnel (SIGHUP, `vpnkit reload`), shared by the UDP and TCP paths:
 * plan against the configuration in force (lib/tunnel/config-reload.ts), route new pools into
 * the TUN, hand the plan to the driver, keep the new configuration.
 * @module
 */
import type { Subsystem } from "../../core/log.ts";
import type { IkeTunnelConfig } from "../../tunnel/config.ts";
import { planReload, type ReloadPlan } from "../../tunnel/config-reload.ts";
import type { IkeDriver, LogLevel } from "../../tunnel/ike-driver.ts";
import { configureLink } from "./tun.ts";

export function ikeReloader(
  initial: IkeTunnelConfig, drv: IkeDriver, tunName: string, log: (level: LogLevel, msg: string, subsystem?: Subsystem) => void,
): (next: IkeTunnelConfig) => ReloadPlan {
  let current = initial;
  return (next) => {
    const plan = planReload(current, next);
    if (plan.newRoutes.length) {
      try {
        configureLink(tunName, { mtu: current.tunMtu, addresses: [], routes: plan.newRoutes });
      } catch (e) {
        log("error", `reload: cannot route ${plan.newRoutes.join(" ")} into ${tunName}: ${(e as Error).message}`, "cfg");
      }
    }
    drv.reload(plan);
    current = plan.effective;
    return plan;
  };
}
