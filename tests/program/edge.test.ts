// The edge under runtime mocks, built from the real stack files: production's two nginx hosts
// behind a Network Load Balancer, alpha's one host with its Elastic IP exactly as before, and
// the order that keeps a host out of traffic until it serves what the others serve.
import { strict as assert } from "assert";
import * as command from "@pulumi/command";
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

import { buildInfrastructure, Infrastructure, infrastructureOutputs, publishSites } from "../../components/infra/buildInfrastructure";
import { BeforeTraffic } from "../../components/infra/edge";
import { EDGE_HEALTH_CHECK } from "../../rollout/topology";
import { EdgeMachine } from "../../components/infra/edgeHost";
import { shippedPlan } from "../helpers/shippedPlan";

const T = {
  instance: "aws:ec2/instance:Instance",
  eipAssociation: "aws:ec2/eipAssociation:EipAssociation",
  command: "command:remote:Command",
  edgeHost: "fleet:infra:EdgeHost",
  balancer: "aws:lb/loadBalancer:LoadBalancer",
  listener: "aws:lb/listener:Listener",
  targetGroup: "aws:lb/targetGroup:TargetGroup",
  attachment: "aws:lb/targetGroupAttachment:TargetGroupAttachment",
};

interface Built {
  infra: Infrastructure;
  resources: Recorded[];
}

async function build(stack: string, beforeTraffic?: BeforeTraffic, more?: () => void): Promise<Built> {
  const cfg = stackConfigFromFile(stack);
  const { value, resources } = await recordBuild(() => {
    const apps = sampleApps();
    const infra = buildInfrastructure(cfg, apps, samplePublicKey);
    // Every app serving on every node (what the switch steps report, in the program).
    publishSites(
      infra,
      apps,
      Object.fromEntries(apps.map((a) => [a.name, pulumi.all(infra.appNodes.privateIps)])),
      undefined,
      beforeTraffic,
    );
    more?.();
    return infra;
  });
  return { infra: value, resources };
}

/** The resources a component holds, as "type name" (its direct children). */
const childrenOf = (resources: Recorded[], parent: Recorded) =>
  resources
    .filter((r) => r.parent === parent.urn)
    .map((r) => `${r.type} ${r.name}`)
    .sort();

describe("the edge: nginx hosts and their load balancer (runtime mocks)", () => {
  let alpha: Built;
  let production: Built;
  /** Each production nginx host's instance id, as the mocks answered. */
  const ids: Record<string, string> = {};

  before(async () => {
    installMocks();
    alpha = await build("alpha");
    production = await build("production");
    for (const m of production.infra.edge.machines) ids[m.name] = String(await valueOf(m.instanceId));
  });

  it("alpha keeps exactly today's edge: one host with its Elastic IP, no load balancer", async () => {
    const hosts = byType(alpha.resources, T.edgeHost);
    assert.deepEqual(
      hosts.map((h) => h.name),
      ["static-host"],
    );
    assert.deepEqual(childrenOf(alpha.resources, hosts[0]), [
      `${T.eipAssociation} static-host`,
      `${T.instance} static-host`,
      `${T.command} nginx-config`,
      `${T.command} publish-access`,
      `${T.command} static-host-ready`,
    ]);
    assert.equal(alpha.resources.filter((r) => r.type.startsWith("aws:lb/") || r.type === "fleet:infra:EdgeBalancer").length, 0);
    assert.equal(named(alpha.resources, T.instance, "static-host").inputs.associatePublicIpAddress, false);
    const outputs = infrastructureOutputs(alpha.infra);
    assert.equal(await valueOf(outputs.publicAddress), await valueOf(alpha.infra.network.staticHostAddress.publicIp));
    assert.equal(await valueOf(outputs.publicAddress), await valueOf(outputs.staticHostIp));
  });

  it("production: two nginx hosts, one per zone; host 1 keeps its names, Elastic IP and steps", () => {
    assert.deepEqual(
      byType(production.resources, T.edgeHost)
        .map((h) => h.name)
        .sort(),
      ["static-host", "static-host-2"],
    );
    // host 1's URNs are alpha's (same names, same parents): an existing stack replaces nothing
    const urnsOf = (b: Built) =>
      b.resources
        .filter((r) => r.parent === named(b.resources, T.edgeHost, "static-host").urn)
        .map((r) => r.urn.replace(/^urn:pulumi:\w+::/, ""))
        .sort();
    assert.deepEqual(urnsOf(production), urnsOf(alpha));
    assert.deepEqual(childrenOf(production.resources, named(production.resources, T.edgeHost, "static-host-2")), [
      `${T.instance} static-host-2`,
      `${T.command} static-host-2-nginx-config`,
      `${T.command} static-host-2-publish-access`,
      `${T.command} static-host-2-ready`,
    ]);
    assert.deepEqual(
      [1, 2].map((i) => named(production.resources, T.instance, i === 1 ? "static-host" : "static-host-2").inputs.subnetId),
      ["public-a-id", "public-b-id"],
    );
    // the Elastic IP stays on host 1 (the bastion's address); host 2 has its own public address
    assert.deepEqual(
      byType(production.resources, T.eipAssociation).map((a) => [a.name, a.inputs.instanceId]),
      [["static-host", ids["static-host"]]],
    );
    assert.equal(named(production.resources, T.instance, "static-host-2").inputs.associatePublicIpAddress, true);
    assert.deepEqual(named(production.resources, T.instance, "static-host-2").inputs.vpcSecurityGroupIds, ["static-host-sg-id"]);
  });

  it("production: an internet-facing NLB over both public subnets, cross-zone, TCP 80 and 443 to the hosts", () => {
    const [lb] = byType(production.resources, T.balancer);
    assert.deepEqual(
      [lb.inputs.loadBalancerType, lb.inputs.internal, lb.inputs.enableCrossZoneLoadBalancing, lb.inputs.subnets],
      ["network", false, true, ["public-a-id", "public-b-id"]],
    );
    const groups = byType(production.resources, T.targetGroup);
    assert.deepEqual(
      groups.map((g) => [g.name, g.inputs.port, g.inputs.protocol, g.inputs.targetType, g.inputs.preserveClientIp]),
      [
        ["edge-http", 80, "TCP", "instance", "true"],
        ["edge-https", 443, "TCP", "instance", "true"],
      ],
    );
    for (const g of groups) {
      assert.deepEqual(g.inputs.healthCheck, { enabled: true, ...EDGE_HEALTH_CHECK });
      assert.deepEqual(g.inputs.targetHealthStates, [{ enableUnhealthyConnectionTermination: true }]);
    }
    assert.deepEqual(EDGE_HEALTH_CHECK.protocol, "TCP");
    // each listener passes TCP through (no certificate on the balancer: TLS stays on nginx)
    const listeners = byType(production.resources, T.listener);
    assert.deepEqual(
      listeners.map((l) => [
        l.inputs.port,
        l.inputs.protocol,
        l.inputs.certificateArn,
        (l.inputs.defaultActions as { type: string }[])[0].type,
      ]),
      [
        [80, "TCP", undefined, "forward"],
        [443, "TCP", undefined, "forward"],
      ],
    );
    for (const l of listeners) {
      assert.ok(l.dependsOn.includes(named(production.resources, T.targetGroup, l.name).urn), `${l.name} forwards to its own target group`);
      assert.ok(l.dependsOn.includes(lb.urn));
    }
  });

  it("production: every host in both target groups, each only after its own server blocks", () => {
    const attachments = byType(production.resources, T.attachment);
    assert.deepEqual(attachments.map((a) => [a.name, a.inputs.targetId, a.inputs.port]).sort(), [
      ["static-host-2-http", ids["static-host-2"], 80],
      ["static-host-2-https", ids["static-host-2"], 443],
      ["static-host-http", ids["static-host"], 80],
      ["static-host-https", ids["static-host"], 443],
    ]);
    for (const a of attachments) {
      const host = a.name.replace(/-https?$/, "");
      const sites = named(production.resources, T.command, host === "static-host" ? "nginx-config" : `${host}-nginx-config`);
      assert.ok(a.dependsOn.includes(sites.urn), `${a.name} waits for ${sites.name}`);
      assert.ok(
        a.dependsOn.includes(named(production.resources, T.targetGroup, `edge-${a.name.endsWith("https") ? "https" : "http"}`).urn),
      );
    }
  });

  it("production: the same server blocks on every host", () => {
    const [one, two] = [
      named(production.resources, T.command, "nginx-config"),
      named(production.resources, T.command, "static-host-2-nginx-config"),
    ];
    assert.deepEqual([two.inputs.create, two.inputs.update, two.inputs.stdin], [one.inputs.create, one.inputs.update, one.inputs.stdin]);
    assert.deepEqual(two.inputs.triggers, [ids["static-host-2"]], "a replaced host 2 gets them again");
    assert.ok(two.dependsOn.includes(named(production.resources, T.command, "static-host-2-ready").urn));
  });

  it("the public address is the NLB's DNS name in production; host 1 stays the bastion", async () => {
    const outputs = infrastructureOutputs(production.infra);
    assert.match(await valueOf(outputs.publicAddress), /^edge-[0-9a-f]+\.elb\.eu-west-1\.amazonaws\.com$/);
    assert.equal(await valueOf(outputs.publicAddress), await valueOf(production.infra.edge.balancer!.dnsName));
    assert.equal(await valueOf(outputs.staticHostIp), await valueOf(production.infra.network.staticHostAddress.publicIp));
    assert.deepEqual(Object.keys(outputs.edgeHosts), ["static-host", "static-host-2"]);
    const proxy = (await valueOf((await valueOf(production.infra.appNodes.nodes[0].connection)).proxy ?? {})) as { host?: string };
    assert.equal(proxy.host, await valueOf(production.infra.staticHost.publicIp), "private nodes are reached through host 1");
  });

  it("lists every edge host with its name, private IP, connection (secret), ready step and instance id", async () => {
    const machines: EdgeMachine[] = production.infra.edge.machines;
    assert.deepEqual(
      machines.map((m) => m.name),
      ["static-host", "static-host-2"],
    );
    for (const m of machines) {
      // the id the balancer registers (its attachments' targetId), an EC2 instance id
      assert.match(String(await valueOf(m.instanceId)), /^i-[0-9a-f]{17}$/, m.name);
      assert.equal(named(production.resources, T.attachment, `${m.name}-http`).inputs.targetId, await valueOf(m.instanceId));
      assert.match(await valueOf(m.privateIp), /^10\.\d+\.\d+\.\d+$/);
      assert.ok(await pulumi.isSecret(m.connection), `${m.name} connection is secret`);
      assert.equal(await valueOf(m.ready.urn), named(production.resources, T.command, `${m.name}-ready`).urn);
    }
    // each host is dialled at its own public address: host 1 through the Elastic IP
    assert.equal((await valueOf(machines[0].connection)).host, await valueOf(production.infra.network.staticHostAddress.publicIp));
    assert.notEqual((await valueOf(machines[1].connection)).host, (await valueOf(machines[0].connection)).host);
  });

  it("a host takes traffic only after what beforeTraffic names for it, even when that is declared later", async () => {
    // As index.ts will: the app deployments (here, one command per host) exist only after the infrastructure.
    const declared: Record<string, command.remote.Command> = {};
    let resolve: (r: Record<string, command.remote.Command>) => void = () => undefined;
    const later = new Promise<Record<string, command.remote.Command>>((r) => (resolve = r));
    const built = await build(
      "production",
      (host) => later.then((all) => [all[host.name]]),
      () => {
        for (const name of ["static-host", "static-host-2"])
          declared[name] = new command.remote.Command(`static-files-on-${name}`, { connection: { host: "10.0.0.1" }, create: "true" });
        resolve(declared);
      },
    );
    for (const a of byType(built.resources, T.attachment)) {
      const host = a.name.replace(/-https?$/, "");
      assert.ok(
        a.dependsOn.includes(named(built.resources, T.command, `static-files-on-${host}`).urn),
        `${a.name} waits for its host's files`,
      );
      const other = host === "static-host" ? "static-host-2" : "static-host";
      assert.ok(
        !a.dependsOn.includes(named(built.resources, T.command, `static-files-on-${other}`).urn),
        `${a.name} does not wait for the other host`,
      );
    }
  });
});

describe("the edge in the whole program (offline plan)", function () {
  this.timeout(120000);

  it("production: the rollout's scripts on every nginx host; the server blocks of both follow every app's switches, every publish waits for both hosts' access", async () => {
    const plan = await shippedPlan({ stack: "production" });
    const names = new Set(plan.resources.map((r) => r.name));
    for (const n of ["static-host-scripts-copy", "static-host-2-scripts-copy"]) assert.ok(names.has(n), n);
    const urnOf = (name: string) => plan.resources.find((r) => r.name === name)!.urn;
    const switches = plan.resources.filter((r) => /-switch-node-\d$/.test(r.name));
    assert.ok(switches.length > 0);
    for (const sites of ["nginx-config", "static-host-2-nginx-config"]) {
      const step = plan.resources.find((r) => r.name === sites)!;
      for (const s of switches) assert.ok(step.dependsOn.includes(s.urn), `${sites} waits for ${s.name}`);
    }
    const publishes = plan.resources.filter((r) => r.type === "command:remote:Command" && /-publish$/.test(r.name));
    assert.ok(publishes.length > 0);
    for (const p of publishes) {
      for (const access of ["publish-access", "static-host-2-publish-access"])
        assert.ok(p.dependsOn.includes(urnOf(access)), `${p.name} waits for ${access}`);
    }
    assert.match(
      String(plan.outputs.infrastructure && (plan.outputs.infrastructure as { publicAddress?: string }).publicAddress),
      /\.elb\./,
    );
  });
});
