// HostScripts: the rollout's scripts on one host, once per host and scripts version, shared by
// every app there. Every app's steps on the host depend on it; none repeats its work, so a
// fleet of many apps makes one first contact and one copy per host, not one per app and host.
//
//  - The first contact waits for a booting host: dial retries without limit (dialErrorLimit -1)
//    inside a timeout, then cloud-init's end; later steps fail fast.
//  - The instance id is a trigger: a replaced machine gets the wait and the copy again (and, by
//    the same trigger, every app's steps); deletedWith the instance keeps anything from aiming
//    at a host that is gone.
//  - Older scripts versions stay on the host: the delete commands in the state of every app's
//    steps name the directory of the version they were made with.
import * as pulumi from "@pulumi/pulumi";
import * as command from "@pulumi/command";
import type { ConnectionArgs, FleetHost } from "../infra/machine";
import { provisionFile, ROLLOUT_SCRIPTS_DIR, scriptsVersion } from "../../node/scripts";
import { scriptsDir } from "../../rollout/layout";
import { waitCommand } from "../../rollout/plan";

/** How long the first step on a host keeps trying to reach SSH (a booting instance). */
const FIRST_CONTACT_TIMEOUT = "20m";

/** What lives and dies with a host (its instance, else its ready step), as triggers and deletedWith use it. */
export function hostAnchor(host: FleetHost): pulumi.CustomResource | undefined {
  return host.instance ?? (host.ready instanceof pulumi.CustomResource ? host.ready : undefined);
}

/** The connection of a step on `host`: the user always set (it defaults to root). */
export function hostConnection(host: FleetHost, defaultUser: string, extra: Partial<ConnectionArgs> = {}): pulumi.Output<ConnectionArgs> {
  return pulumi.output(host.connection).apply((c): ConnectionArgs => ({ ...c, user: c.user ?? defaultUser, ...extra }));
}

export class HostScripts extends pulumi.ComponentResource {
  /** The host these scripts are on. */
  public readonly host: FleetHost;
  /** Their version (scriptsVersion), and where they are: the same path on every host. */
  public readonly version: string;
  public readonly dir: string;
  /** Completes when the scripts are there: every app's steps on the host depend on it. */
  public readonly copied: pulumi.Resource;

  constructor(host: FleetHost, sshUser: string, opts?: pulumi.ComponentResourceOptions) {
    super("fleet:app:HostScripts", `${host.name}-scripts`, {}, opts);
    this.host = host;
    this.version = scriptsVersion();
    this.dir = scriptsDir(this.version);
    const anchor = hostAnchor(host);
    const triggers = anchor ? [anchor.id] : undefined;
    const wait = new command.remote.Command(
      `${host.name}-scripts-wait`,
      {
        connection: hostConnection(host, sshUser, { dialErrorLimit: -1, perDialTimeout: 15 }),
        triggers,
        create: waitCommand(provisionFile("wait-for-cloud-init.sh")),
        addPreviousOutputInEnv: false,
      },
      {
        parent: this,
        dependsOn: host.ready ? [host.ready] : [],
        deletedWith: anchor,
        customTimeouts: { create: FIRST_CONTACT_TIMEOUT, update: FIRST_CONTACT_TIMEOUT },
      },
    );
    this.copied = new command.remote.CopyToRemote(
      `${host.name}-scripts-copy`,
      {
        connection: hostConnection(host, sshUser),
        triggers,
        source: new pulumi.asset.FileArchive(ROLLOUT_SCRIPTS_DIR),
        remotePath: this.dir,
      },
      { parent: this, dependsOn: [wait], deletedWith: anchor },
    );
    this.registerOutputs({ dir: this.dir });
  }
}
