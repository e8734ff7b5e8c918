// The infrastructure components under runtime mocks, built from the real stack files:
// what each stack gets, where secrets go, and how a recovery config builds the database.
import { strict as assert } from "assert";
import * as pulumi from "@pulumi/pulumi";
import {
  byType,
  installMocks,
  named,
  recordBuild,
  Recorded,
  sampleApps,
  stackConfigFromFile,
  valueOf,
  samplePublicKey,
} from "../helpers/infraHarness";

installMocks(); // before the components load: resources register against these mocks

import { appBucketPolicy } from "../../components/infra/appNodes";
import { buildInfrastructure, Infrastructure, infrastructureOutputs, publishSites } from "../../components/infra/buildInfrastructure";
import { planSubnets } from "../../components/infra/network";
import { renderSites } from "../../render/nginx";
import { NGINX_TLS_DIR } from "../../rollout/layout";
import { StackConfig } from "../../config/stackConfig";
import { publishCommand } from "../../components/infra/edgeHost";
import { replicaBucketName } from "../../components/infra/storage";
import { LOG_SHIPPER } from "../../render/cloudInit";
import { parse as parseYaml } from "yaml";

const INSTANCE = "aws:ec2/instance:Instance";
const INGRESS = "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule";
const RDS = "aws:rds/instance:Instance";
const BUCKET = "aws:s3/bucket:Bucket";
const COMMAND = "command:remote:Command";
const LOG_GROUP = "aws:cloudwatch/logGroup:LogGroup";

interface Built {
  cfg: StackConfig;
  infra: Infrastructure;
  resources: Recorded[];
}

async function build(stack: string, overrides: Record<string, unknown> = {}, configStack = stack): Promise<Built> {
  const cfg = stackConfigFromFile(configStack, overrides, stack);
  const { value, resources } = await recordBuild(() => {
    const infra = buildInfrastructure(cfg, sampleApps(), samplePublicKey);
    // As if blog had switched on every node and wiki on the first one only (index.ts reads
    // these from the apps' switch steps).
    const ips = infra.appNodes.privateIps;
    publishSites(infra, sampleApps(), { blog: pulumi.all(ips), wiki: pulumi.all([ips[0]]) });
    return infra;
  });
  return { cfg, infra: value, resources };
}

const tag = (r: Recorded, key: string) => (r.inputs.tags as Record<string, string> | undefined)?.[key];

describe("infrastructure components (runtime mocks)", () => {
  let alpha: Built;
  let production: Built;

  before(async () => {
    installMocks();
    alpha = await build("alpha");
    production = await build("production");
  });

  it("builds both stacks from their stack files, one component per kind", () => {
    for (const b of [alpha, production]) {
      for (const type of ["Network", "SshKey", "AppNodes", "Database", "Storage"]) {
        assert.equal(byType(b.resources, `fleet:infra:${type}`).length, 1, `${b.cfg.stack}: ${type}`);
      }
      // one component per nginx host (fleet:staticHost.count: alpha 1, production 2)
      assert.equal(byType(b.resources, "fleet:infra:EdgeHost").length, b.cfg.staticHost.count, `${b.cfg.stack}: EdgeHost`);
      // Every AWS/command resource sits under one of the components.
      const components = new Set(b.resources.filter((r) => r.type.startsWith("fleet:infra:")).map((r) => r.urn));
      for (const r of b.resources.filter((x) => !x.type.startsWith("fleet:")))
        assert.ok(components.has(r.parent), `${r.name} has a component parent`);
    }
  });

  it("names the instances node-1..N and static-host, static-host-2, ... (the e2e address map relies on it)", () => {
    assert.deepEqual(
      byType(alpha.resources, INSTANCE)
        .map((r) => r.name)
        .sort(),
      ["node-1", "static-host"],
    );
    assert.deepEqual(
      byType(production.resources, INSTANCE)
        .map((r) => r.name)
        .sort(),
      ["node-1", "node-2", "node-3", "static-host", "static-host-2"],
    );
    assert.deepEqual(
      production.infra.appNodes.nodes.map((n) => n.name),
      ["node-1", "node-2", "node-3"],
    );
    assert.equal(production.infra.staticHost.host.name, "static-host");
  });

  it("differs between alpha and production exactly where the config says", () => {
    const db = (b: Built) => named(b.resources, RDS, "database").inputs;
    assert.deepEqual(
      [db(alpha).instanceClass, db(alpha).multiAz, db(alpha).deletionProtection, db(alpha).backupRetentionPeriod],
      ["db.t4g.micro", false, false, 1],
    );
    assert.deepEqual(
      [db(production).instanceClass, db(production).multiAz, db(production).deletionProtection, db(production).backupRetentionPeriod],
      ["db.t4g.medium", true, true, 14],
    );
    assert.equal(named(alpha.resources, INSTANCE, "node-1").inputs.instanceType, "t3.small");
    assert.equal(named(production.resources, INSTANCE, "node-2").inputs.instanceType, "t3.medium");
    // protect: production's stateful resources, none of alpha's
    assert.ok(named(production.resources, RDS, "database").protect);
    assert.ok(byType(production.resources, BUCKET).every((b) => b.protect));
    assert.ok(alpha.resources.every((r) => !r.protect));
    // bastion vs direct: NAT and private nodes only in production
    assert.equal(byType(alpha.resources, "aws:ec2/natGateway:NatGateway").length, 0);
    assert.equal(byType(production.resources, "aws:ec2/natGateway:NatGateway").length, 1);
    assert.equal(named(alpha.resources, INSTANCE, "node-1").inputs.associatePublicIpAddress, true);
    assert.equal(named(production.resources, INSTANCE, "node-1").inputs.associatePublicIpAddress, false);
    // media replication only where a replication region is set
    assert.equal(byType(alpha.resources, BUCKET).length, 2);
    assert.equal(byType(production.resources, BUCKET).length, 4);
    assert.equal(named(production.resources, BUCKET, "blog_media-replica").inputs.region, "eu-central-1");
    assert.equal(byType(production.resources, "aws:s3/bucketReplicationConfig:BucketReplicationConfig").length, 2);
    // automated backups copied to the recovery region only in production
    const backups = "aws:rds/instanceAutomatedBackupsReplication:InstanceAutomatedBackupsReplication";
    assert.equal(byType(alpha.resources, backups).length, 0);
    const replica = named(production.resources, backups, "database-backups").inputs;
    assert.deepEqual([replica.region, replica.retentionPeriod], ["eu-central-1", 14]);
    assert.equal(named(production.resources, "aws:kms/key:Key", "database-backups").inputs.region, "eu-central-1");
  });

  it("spreads the nodes over both zones' app subnets", () => {
    const subnets = production.resources
      .filter((r) => r.type === "aws:ec2/instance:Instance" && r.name.startsWith("node-"))
      .map((r) => r.inputs.subnetId);
    assert.deepEqual(subnets, ["app-a-id", "app-b-id", "app-a-id"]);
    assert.deepEqual(planSubnets("10.30.0.0/16"), {
      public: ["10.30.0.0/19", "10.30.32.0/19"],
      app: ["10.30.64.0/19", "10.30.96.0/19"],
      database: ["10.30.128.0/19", "10.30.160.0/19"],
    });
  });

  it("hardens every instance: pinned AMI, IMDSv2, encrypted root volume", () => {
    for (const b of [alpha, production]) {
      for (const i of byType(b.resources, INSTANCE)) {
        assert.equal(i.inputs.ami, b.cfg.nodes.ami);
        assert.deepEqual(i.inputs.metadataOptions, { httpEndpoint: "enabled", httpPutResponseHopLimit: 1, httpTokens: "required" });
        assert.equal((i.inputs.rootBlockDevice as Record<string, unknown>).encrypted, true);
      }
    }
  });

  it("opens the network only as the rules say", () => {
    const rules = byType(production.resources, INGRESS);
    const world = rules.filter((r) => r.inputs.cidrIpv4 === "0.0.0.0/0");
    assert.deepEqual(world.map((r) => [tag(r, "role"), r.inputs.fromPort]).sort(), [
      ["static-host", 443],
      ["static-host", 80],
    ]);
    // The sample apps' ports 8101 and 8102: the port ranges' rules, both ways, the same for every catalog.
    const appPorts = rules.filter((r) => r.name.startsWith("app-node-in-app-"));
    assert.deepEqual(
      appPorts.map((r) => [r.name, r.inputs.fromPort, r.inputs.toPort, r.inputs.referencedSecurityGroupId]),
      [
        ["app-node-in-app-ports-8100-8899", 8100, 8899, "static-host-sg-id"],
        ["app-node-in-app-ports-10000-32750", 10000, 32750, "static-host-sg-id"],
      ],
    );
    const toNodes = byType(production.resources, "aws:vpc/securityGroupEgressRule:SecurityGroupEgressRule").filter((r) =>
      r.name.startsWith("static-host-out-app-"),
    );
    assert.deepEqual(
      toNodes.map((r) => [r.inputs.fromPort, r.inputs.toPort, r.inputs.referencedSecurityGroupId]),
      [
        [8100, 8899, "app-node-sg-id"],
        [10000, 32750, "app-node-sg-id"],
      ],
    );
    assert.deepEqual(named(production.resources, INGRESS, "database-in-db-5432").inputs.referencedSecurityGroupId, "app-node-sg-id");
    // bastion: nodes take SSH from the nginx host's group only; direct: from the admin ranges
    const ssh = (b: Built) => byType(b.resources, INGRESS).filter((r) => r.inputs.fromPort === 22 && tag(r, "role") === "app-node");
    assert.deepEqual(
      ssh(production).map((r) => r.inputs.referencedSecurityGroupId),
      ["static-host-sg-id"],
    );
    assert.deepEqual(
      ssh(alpha).map((r) => r.inputs.cidrIpv4),
      alpha.cfg.adminCidrs,
    );
  });

  it("grants the apps' buckets to the nodes with one policy naming the stack's media buckets by pattern", async () => {
    const policies = byType(alpha.resources, "aws:iam/rolePolicy:RolePolicy").filter((p) => p.name !== "node-logs");
    assert.deepEqual(policies.map((p) => p.name).sort(), ["node-media"]);
    const pattern = "arn:aws:s3:::uni-fleet-alpha-*-media";
    assert.deepEqual(JSON.parse(String(policies[0].inputs.policy)), appBucketPolicy(pattern));
    // every app's bucket matches it, and neither a replica nor another stack's bucket does
    const matches = (name: string) => new RegExp(`^${pattern.replace(/[.]/g, "\\.").replace("*", ".*")}$`).test(`arn:aws:s3:::${name}`);
    assert.equal(await valueOf(alpha.infra.storage.buckets.blog), "uni-fleet-alpha-blog-media");
    assert.ok(matches("uni-fleet-alpha-blog-media") && matches("uni-fleet-alpha-wiki-media"));
    assert.ok(!matches("uni-fleet-alpha-blog-media-dr") && !matches("uni-fleet-production-blog-media"));
  });

  it("declares a CloudWatch log group per app, kept for fleet:logs.retentionDays, the only groups the nodes may write, and the nodes' shipper sends there", async () => {
    const groups = (b: Built) => byType(b.resources, LOG_GROUP).map((g) => [g.inputs.name, g.inputs.retentionInDays, tag(g, "app")]);
    assert.deepEqual(groups(alpha), [
      ["/fleet/alpha/app_blog", 30, "blog"],
      ["/fleet/alpha/app_wiki", 30, "wiki"],
    ]);
    const kept = await build("alpha", { logs: { retentionDays: 365 } });
    assert.deepEqual(groups(kept), [
      ["/fleet/alpha/app_blog", 365, "blog"],
      ["/fleet/alpha/app_wiki", 365, "wiki"],
    ]);
    assert.equal(await valueOf(alpha.infra.logs.groups.wiki), "/fleet/alpha/app_wiki");
    const policy = byType(production.resources, "aws:iam/rolePolicy:RolePolicy").find((p) => p.name === "node-logs");
    assert.ok(policy);
    const statements = (JSON.parse(String(policy.inputs.policy)) as { Statement: { Action: string[]; Resource: string[] }[] }).Statement;
    assert.deepEqual(
      statements.map((st) => [st.Action, st.Resource]),
      [
        [
          ["logs:CreateLogStream", "logs:PutLogEvents", "logs:DescribeLogStreams"],
          ["arn:aws:logs:*:*:log-group:/fleet/production/*", "arn:aws:logs:*:*:log-group:/fleet/production/*:log-stream:*"],
        ],
      ],
    );
    for (const i of byType(production.resources, INSTANCE)) {
      const doc = parseYaml(String(i.revealed.userData)) as {
        packages: string[];
        runcmd: string[][];
        write_files: { path: string; content: string }[];
      };
      const shipper = doc.write_files.find((f) => f.path === LOG_SHIPPER);
      if (i.name.startsWith("static-host")) {
        assert.equal(shipper, undefined, i.name);
        continue;
      }
      assert.ok(shipper, i.name);
      assert.match(shipper.content, /^GROUP_PREFIX = "\/fleet\/production\/"$/m, i.name);
      assert.match(shipper.content, new RegExp(`^REGION = "${production.cfg.region}"$`, "m"), i.name);
      assert.ok(doc.packages.includes("python3-boto3"), i.name);
      assert.deepEqual(doc.runcmd.at(-1), ["systemctl", "enable", "--now", "fleet-logship.service"], i.name);
    }
  });

  it("tags every AWS resource with stack and managed-by, and app where it belongs to one", () => {
    for (const b of [alpha, production]) {
      for (const r of b.resources.filter((x) => x.inputs.tags !== undefined)) {
        assert.equal(tag(r, "stack"), b.cfg.stack, r.name);
        assert.equal(tag(r, "managed-by"), "fleet", r.name);
      }
      for (const bucket of byType(b.resources, BUCKET)) assert.equal(tag(bucket, "app"), bucket.name.replace(/_media(-replica)?$/, ""));
    }
  });

  it("keeps secrets secret: key, connection, master password", async () => {
    const infra = production.infra;
    assert.ok(await pulumi.isSecret(infra.sshKey.privateKey));
    assert.ok(await pulumi.isSecret(infra.database.masterPassword));
    for (const n of [...infra.appNodes.nodes, infra.staticHost.host])
      assert.ok(await pulumi.isSecret(n.connection), `${n.name} connection`);
    assert.ok(!(await pulumi.isSecret(infra.sshKey.publicKey)));
    // inputs that carry them are secret on the wire
    assert.deepEqual(named(production.resources, RDS, "database").secretPaths, ["password"]);
    for (const cmd of byType(production.resources, COMMAND)) assert.ok(cmd.secretPaths.includes("connection"), cmd.name);
    // the connection itself: deploy user, key, retries; nodes through the bastion
    const conn = await valueOf(infra.appNodes.nodes[0].connection);
    const key = await valueOf(infra.sshKey.privateKey);
    assert.equal(conn.user, "deploy");
    assert.equal(conn.privateKey, key);
    assert.equal(conn.dialErrorLimit, -1);
    assert.equal(conn.host, await valueOf(infra.appNodes.nodes[0].privateIp));
    assert.equal(((await valueOf(conn.proxy ?? {})) as { host?: string }).host, await valueOf(infra.staticHost.publicIp));
    assert.equal((await valueOf(alpha.infra.appNodes.nodes[0].connection)).proxy, undefined);
  });

  it("puts no secret in user data, and the deploy user's public key in it", async () => {
    const key = await valueOf(production.infra.sshKey.privateKey);
    const password = await valueOf(production.infra.database.masterPassword);
    const publicKey = await valueOf(production.infra.sshKey.publicKey);
    for (const i of byType(production.resources, INSTANCE)) {
      assert.ok(!i.secretPaths.includes("userData"), `${i.name} userData is not secret`);
      const userData = String(i.revealed.userData);
      assert.match(userData, /^#cloud-config\n/);
      assert.ok(userData.includes(publicKey), "public key authorised");
      assert.ok(!userData.includes(key.trim().split("\n")[1]), "no private key");
      assert.ok(!userData.includes(password), "no password");
      if (i.name.startsWith("static-host")) {
        assert.match(userData, /name: deploy[\s\S]*NOPASSWD:ALL/);
      } else {
        // an app node's deploy user: the node helper only (render/cloudInit.ts)
        assert.match(userData, /name: deploy[\s\S]*deploy ALL=\(root\) NOPASSWD: \/usr\/local\/sbin\/fleet-node/);
        assert.doesNotMatch(userData, /NOPASSWD:ALL/);
      }
      assert.match(
        userData,
        i.name.startsWith("static-host") ? /- nginx/ : /gunicorn@\.service[\s\S]*- python3-venv|- python3-venv[\s\S]*gunicorn@\.service/,
      );
    }
  });

  it("exports endpoints, node addresses and bucket names, nothing secret", async () => {
    const outputs = infrastructureOutputs(production.infra);
    const password = await valueOf(production.infra.database.masterPassword);
    const resolved: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(outputs) as [string, pulumi.Input<unknown>][]) {
      assert.ok(!(await pulumi.isSecret(pulumi.output(v))), `${k} is not secret`);
      resolved[k] = await valueOf(pulumi.output(v));
    }
    const text = JSON.stringify(resolved);
    assert.ok(!text.includes(password));
    assert.doesNotMatch(text, /PRIVATE KEY/);
    assert.deepEqual(Object.keys(resolved.nodeAddresses as object), ["node-1", "node-2", "node-3"]);
    assert.deepEqual(resolved.mediaBuckets, { blog: "uni-fleet-production-blog-media", wiki: "uni-fleet-production-wiki-media" });
    assert.match(String(resolved.databaseEndpoint), /:5432$/);
  });

  it("publishes the nginx config generated from the catalog and the nodes each app serves on, deterministically", async () => {
    const cmd = named(production.resources, COMMAND, "nginx-config");
    const ips = await Promise.all(production.infra.appNodes.privateIps.map((ip) => valueOf(ip)));
    assert.equal(cmd.inputs.stdin, renderSites(sampleApps(), { blog: ips, wiki: [ips[0]] }, {}, { tlsDir: NGINX_TLS_DIR }));
    assert.equal((String(cmd.inputs.stdin).match(/ server \d+\.\d+\.\d+\.\d+:/g) ?? []).length, 4, "3 nodes for blog, 1 for wiki");
    assert.equal(cmd.inputs.create, publishCommand("sites"));
    assert.equal(cmd.inputs.update, publishCommand("sites"));
    assert.ok(cmd.dependsOn.includes(named(production.resources, COMMAND, "static-host-ready").urn));
    const again = await build("production");
    const cmd2 = named(again.resources, COMMAND, "nginx-config");
    assert.deepEqual(
      [cmd2.inputs.stdin, cmd2.inputs.create, cmd2.inputs.triggers],
      [cmd.inputs.stdin, cmd.inputs.create, cmd.inputs.triggers],
    );
  });

  it("runs a readiness check on each machine before anything else uses it", () => {
    const ready = byType(production.resources, COMMAND)
      .filter((c) => c.name.endsWith("-ready"))
      .map((c) => c.name)
      .sort();
    assert.deepEqual(ready, ["node-1-ready", "node-2-ready", "node-3-ready", "static-host-2-ready", "static-host-ready"]);
    // private nodes are reached through the static host, so their check waits for it
    const nodeReady = named(production.resources, COMMAND, "node-1-ready");
    assert.ok(nodeReady.dependsOn.includes(named(production.resources, COMMAND, "static-host-ready").urn));
  });
});

describe("recovery stack configs", () => {
  before(installMocks);

  const recovering = (database: Record<string, unknown>, media = "empty") =>
    build("production-dr", { recovery: { replaces: "production", database, media } }, "production");

  it("builds the database from a named snapshot, keeping the snapshot's master user", async () => {
    const snapshot = "arn:aws:rds:eu-west-1:123456789012:snapshot:fleet-production-final";
    const { resources } = await recovering({ from: "snapshot", snapshot });
    const db = named(resources, RDS, "database").inputs;
    assert.equal(db.snapshotIdentifier, snapshot);
    assert.equal(db.username, undefined);
    assert.equal(db.identifier, "fleet-production-dr");
    assert.equal(db.storageEncrypted, true);
    assert.equal(db.password, "[secret]");
    // dropping the recovery settings later must not replace the restored database
    assert.deepEqual(named(resources, RDS, "database").ignoreChanges.sort(), ["restoreToPointInTime", "snapshotIdentifier", "username"]);
  });

  it("builds the database from the newest snapshot of an instance", async () => {
    const { resources } = await recovering({ from: "latestSnapshot", sourceInstance: "fleet-production" });
    assert.equal(
      named(resources, RDS, "database").inputs.snapshotIdentifier,
      "arn:aws:rds:eu-west-1:123456789012:snapshot:rds:fleet-production-2026-11-26-03-10",
    );
  });

  it("builds the database from a point in time (given, or the latest restorable)", async () => {
    const at = await recovering({ from: "pointInTime", source: "fleet-production", time: "2026-11-26T03:00:00Z" });
    assert.deepEqual(named(at.resources, RDS, "database").inputs.restoreToPointInTime, {
      restoreTime: "2026-11-26T03:00:00Z",
      sourceDbInstanceIdentifier: "fleet-production",
    });
    const arn = "arn:aws:rds:eu-central-1:123456789012:auto-backup:ab-4x2";
    const latest = await recovering({ from: "pointInTime", source: arn });
    assert.deepEqual(named(latest.resources, RDS, "database").inputs.restoreToPointInTime, {
      sourceDbInstanceAutomatedBackupsArn: arn,
      useLatestRestorableTime: true,
    });
  });

  it("serves media from the replica buckets of the replaced stack instead of creating new ones", async () => {
    const { infra, resources } = await recovering({ from: "latestSnapshot", sourceInstance: "fleet-production" }, "replica");
    assert.equal(byType(resources, BUCKET).length, 0);
    const name = replicaBucketName("uni-fleet", "production", "blog");
    assert.equal(await valueOf(infra.storage.buckets.blog), name);
    assert.deepEqual(
      JSON.parse(String(named(resources, "aws:iam/rolePolicy:RolePolicy", "node-media").inputs.policy)),
      appBucketPolicy(`arn:aws:s3:::${replicaBucketName("uni-fleet", "production", "*")}`),
    );
  });
});
