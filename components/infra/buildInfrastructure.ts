// Everything the apps run on, built from the typed stack config and the stack's apps.
// index.ts calls buildInfrastructure once and hands the pieces to the per-app deployments.
import * as pulumi from "@pulumi/pulumi";
import { AppNodes } from "./appNodes";
import { AppForStack } from "../../config/catalog";
import { Database, ENGINE_PORTS } from "./database";
import { Network } from "./network";
import { SshKey } from "./sshKey";
import { mediaFromStack, StackConfig } from "../../config/stackConfig";
import { EdgeHost } from "./edgeHost";
import { BeforeTraffic, Edge } from "./edge";
import { Storage } from "./storage";
import { logGroupPrefix, LogGroups } from "./logGroups";
import { TlsFiles } from "../../config/tlsConfig";

/** The parts of an app the infrastructure needs (AppForStack has them all). */
export type InfraApp = Pick<AppForStack, "name" | "domain" | "port" | "maintenance" | "maintenanceMessage">;

export interface Infrastructure {
  network: Network;
  sshKey: SshKey;
  appNodes: AppNodes;
  /** Every nginx host, and the load balancer over them when there are two or more. */
  edge: Edge;
  /** Host 1 of the edge: the Elastic IP, the SSH bastion of private nodes. */
  staticHost: EdgeHost;
  database: Database;
  storage: Storage;
  /** Each app's CloudWatch log group. */
  logs: LogGroups;
}

/** Everything but the nginx hosts' sites, which follow the apps' rollouts (publishSites).
 *  `publicKeyOf`: the public half of an app's key (components/app/appKeys.ts), which the nginx hosts let
 *  write that app's static files. */
export function buildInfrastructure(
  cfg: StackConfig,
  apps: InfraApp[],
  publicKeyOf: (app: string) => pulumi.Input<string>,
  opts?: pulumi.ComponentResourceOptions,
): Infrastructure {
  const stack = cfg.stack;
  const network = new Network(
    "network",
    {
      stack,
      cidr: cfg.network.cidr,
      sshAccess: cfg.network.sshAccess,
      adminCidrs: cfg.adminCidrs,
      appPorts: apps.map((a) => a.port),
      databasePort: ENGINE_PORTS[cfg.database.engine],
    },
    opts,
  );
  const sshKey = new SshKey("deploy-key", { stack }, opts);
  const storage = new Storage(
    "storage",
    {
      stack,
      region: cfg.region,
      bucketPrefix: cfg.storage.bucketPrefix,
      apps: apps.map((a) => a.name),
      replicationRegion: cfg.storage.replicationRegion,
      mediaFromStack: mediaFromStack(cfg),
      protect: cfg.protect,
    },
    opts,
  );
  const logs = new LogGroups("logs", { stack, apps: apps.map((a) => a.name), retentionDays: cfg.logs.retentionDays }, opts);
  const database = new Database(
    "database",
    {
      stack,
      ...cfg.database,
      subnetIds: network.databaseSubnetIds,
      securityGroupId: network.databaseSecurityGroupId,
      recovery: cfg.recovery?.database,
      protect: cfg.protect,
    },
    opts,
  );
  const edge = new Edge(
    {
      stack,
      count: cfg.staticHost.count,
      instanceType: cfg.staticHost.instanceType,
      ami: cfg.staticHost.ami ?? cfg.nodes.ami,
      rootVolumeGb: cfg.staticHost.rootVolumeGb,
      vpcId: network.vpcId,
      subnetIds: network.publicSubnetIds,
      securityGroupId: network.staticHostSecurityGroupId,
      address: network.staticHostAddress,
      sshKey,
    },
    opts,
  );
  const staticHost = edge.hosts[0];
  const appNodes = new AppNodes(
    "app-nodes",
    {
      stack,
      count: cfg.nodes.count,
      instanceType: cfg.nodes.instanceType,
      ami: cfg.nodes.ami,
      rootVolumeGb: cfg.nodes.rootVolumeGb,
      heavyJobs: cfg.nodes.heavyJobs,
      subnetIds: network.appSubnetIds,
      securityGroupId: network.appNodeSecurityGroupId,
      sshKey,
      publicAddresses: network.appNodesPublic,
      bastion: network.appNodesPublic ? undefined : staticHost.bastion,
      mediaBucketArnPattern: storage.bucketArnPattern,
      logShipping: { groupPrefix: logGroupPrefix(stack), region: cfg.region },
    },
    opts,
  );
  // Before any app's publish step, on every nginx host; the sites follow the rollouts (publishSites).
  edge.grantPublishAccess({ publicKeys: Object.fromEntries(apps.map((a) => [a.name, publicKeyOf(a.name)])), nodeIps: appNodes.privateIps });
  return { network, sshKey, appNodes, edge, staticHost, database, storage, logs };
}

/**
 * Every app's site on the nginx host, its upstream the nodes it serves on (per app name, from
 * AppDeployment.servingAddresses): published after the switch steps those are read through, so
 * a node gets an app's traffic only once the app passed its health check there, and a node that
 * leaves is out of every upstream (and drained) before the engine deletes anything (docs/infrastructure.md).
 * `certificates`: per app name, the certificate and key its domain is served with over HTTPS.
 * `beforeTraffic`: per nginx host, what must have run there before the load balancer sends it
 * traffic (components/infra/edge.ts).
 */
export function publishSites(
  infra: Infrastructure,
  apps: InfraApp[],
  upstreams: Record<string, pulumi.Input<string[]>>,
  certificates?: Record<string, TlsFiles>,
  beforeTraffic?: BeforeTraffic,
): void {
  // The same server blocks on every nginx host; each takes traffic only once it has them and
  // what `beforeTraffic` names for it (every app's static files).
  infra.edge.publishSites({ apps, upstreams, certificates });
  infra.edge.sendTraffic(beforeTraffic);
}

/** The stack outputs the infrastructure contributes; nothing secret (the password stays inside). */
export function infrastructureOutputs(infra: Infrastructure) {
  return {
    /** Where the apps' DNS records point: the load balancer's DNS name (CNAME or alias), or
     *  with one nginx host its Elastic IP (A record). */
    publicAddress: infra.edge.publicAddress,
    /** Host 1's Elastic IP: the SSH bastion (and, with one nginx host, the entry point). */
    staticHostIp: infra.staticHost.publicIp,
    /** Every nginx host's private address, host 1 first. */
    edgeHosts: Object.fromEntries(infra.edge.machines.map((h) => [h.name, h.privateIp])),
    nodeAddresses: Object.fromEntries(infra.appNodes.nodes.map((n) => [n.name, n.privateIp])),
    databaseEndpoint: pulumi.interpolate`${infra.database.address}:${infra.database.port}`,
    mediaBuckets: infra.storage.buckets,
    replicaBuckets: infra.storage.replicaBuckets,
    /** Per app: the CloudWatch log group its nodes ship its journal to. */
    logGroups: infra.logs.groups,
  };
}
