// Everything the apps run on, built from the typed stack config and the stack's apps.
// index.ts calls buildInfrastructure once and hands the pieces to the per-app deployments.
import * as pulumi from "@pulumi/pulumi";
import { AppNodes } from "./appNodes";
import { AppForStack } from "../config/catalog";
import { Database, ENGINE_PORTS } from "./database";
import { Network } from "./network";
import { SshKey } from "./sshKey";
import { mediaFromStack, StackConfig } from "../config/stackConfig";
import { EdgeHost } from "./edgeHost";
import { Storage } from "./storage";
import { TlsFiles } from "../config/tlsConfig";

/** The parts of an app the infrastructure needs (AppForStack has them all). */
export type InfraApp = Pick<AppForStack, "name" | "domain" | "port">;

export interface Infrastructure {
    network: Network;
    sshKey: SshKey;
    appNodes: AppNodes;
    staticHost: EdgeHost;
    database: Database;
    storage: Storage;
}

/** Everything but the nginx host's sites, which follow the apps' rollouts (publishSites). */
export function buildInfrastructure(cfg: StackConfig, apps: InfraApp[], opts?: pulumi.ComponentResourceOptions): Infrastructure {
    const stack = cfg.stack;
    const network = new Network("network", {
        stack, cidr: cfg.network.cidr, sshAccess: cfg.network.sshAccess, adminCidrs: cfg.adminCidrs,
        appPorts: apps.map((a) => a.port), databasePort: ENGINE_PORTS[cfg.database.engine],
    }, opts);
    const sshKey = new SshKey("deploy-key", { stack }, opts);
    const storage = new Storage("storage", {
        stack, region: cfg.region, bucketPrefix: cfg.storage.bucketPrefix, apps: apps.map((a) => a.name),
        replicationRegion: cfg.storage.replicationRegion, mediaFromStack: mediaFromStack(cfg), protect: cfg.protect,
    }, opts);
    const database = new Database("database", {
        stack, ...cfg.database, subnetIds: network.databaseSubnetIds, securityGroupId: network.databaseSecurityGroupId,
        recovery: cfg.recovery?.database, protect: cfg.protect,
    }, opts);
    const staticHost = new EdgeHost("static-host", {
        stack, instanceType: cfg.staticHost.instanceType, ami: cfg.staticHost.ami ?? cfg.nodes.ami, rootVolumeGb: cfg.staticHost.rootVolumeGb,
        subnetId: network.publicSubnetIds[0], securityGroupId: network.staticHostSecurityGroupId, address: network.staticHostAddress, sshKey,
    }, opts);
    const appNodes = new AppNodes("app-nodes", {
        stack, count: cfg.nodes.count, instanceType: cfg.nodes.instanceType, ami: cfg.nodes.ami, rootVolumeGb: cfg.nodes.rootVolumeGb, heavyJobs: cfg.nodes.heavyJobs,
        subnetIds: network.appSubnetIds, securityGroupId: network.appNodeSecurityGroupId, sshKey,
        publicAddresses: network.appNodesPublic, bastion: network.appNodesPublic ? undefined : staticHost.bastion,
        appBucketArns: storage.bucketArns,
    }, opts);
    // Before any app's publish step; the sites follow the rollouts (publishSites).
    staticHost.grantPublishAccess({ apps, nodeIps: appNodes.privateIps });
    return { network, sshKey, appNodes, staticHost, database, storage };
}

/**
 * Every app's site on the nginx host, its upstream the nodes it serves on (per app name, from
 * AppDeployment.servingAddresses): published after the switch steps those are read through, so
 * a node gets an app's traffic only once the app passed its health check there, and a node that
 * leaves is out of every upstream (and drained) before the engine deletes anything (docs/infrastructure.md).
 * `certificates`: per app name, the certificate and key its domain is served with over HTTPS.
 */
export function publishSites(
    infra: Infrastructure, apps: InfraApp[], upstreams: Record<string, pulumi.Input<string[]>>, certificates?: Record<string, TlsFiles>,
): void {
    infra.staticHost.publishSites({ apps, upstreams, certificates });
}

/** The stack outputs the infrastructure contributes; nothing secret (the password stays inside). */
export function infrastructureOutputs(infra: Infrastructure) {
    return {
        staticHostIp: infra.staticHost.publicIp,
        nodeAddresses: Object.fromEntries(infra.appNodes.nodes.map((n) => [n.name, n.privateIp])),
        databaseEndpoint: pulumi.interpolate`${infra.database.address}:${infra.database.port}`,
        mediaBuckets: infra.storage.buckets,
        replicaBuckets: infra.storage.replicaBuckets,
    };
}
