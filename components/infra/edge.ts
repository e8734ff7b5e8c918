// The edge: the nginx hosts the internet reaches (fleet:staticHost.count of them) and, with two
// or more, the AWS Network Load Balancer in front of them.
//
// Why an NLB and not an ALB: TLS stays on nginx. Each app's certificate and key are already on
// the nginx hosts (fleet:tls, the nginx-keys step); the NLB passes TCP 80 and 443 through
// untouched, so nothing about certificates changes. An ALB terminates TLS itself: every
// certificate would move to ACM (imported, renewed there too) and the ALB would re-encrypt to
// nginx, two TLS configurations to keep in step instead of one.
//
// With one host (alpha) nothing here is new: the host's Elastic IP is the entry point and no
// balancer is declared, so a stack built before the edge planned exactly the same resources.
import * as aws from "@pulumi/aws";
import * as command from "@pulumi/command";
import * as pulumi from "@pulumi/pulumi";
import { fleetTags } from "./awsTags";
import { AccessArgs, EdgeHost, EdgeHostArgs, EdgeMachine, SitesArgs } from "./edgeHost";
import { EDGE_DEREGISTRATION_DELAY, EDGE_HEALTH_CHECK, EDGE_PORTS, edgeHostNames } from "../../rollout/topology";

/**
 * Per nginx host: what must have run on it before the balancer sends it traffic (every app's
 * static files published there). A promise may stand in for the list: the app deployments are
 * declared after the infrastructure (index.ts resolves the tags first).
 */
export type BeforeTraffic = (host: EdgeMachine) => pulumi.Resource[] | Promise<pulumi.Resource[]>;

export interface EdgeArgs extends Omit<EdgeHostArgs, "subnetId" | "address"> {
  count: number;
  vpcId: pulumi.Input<string>;
  /** One public subnet per zone: host i goes to subnet i mod n, the balancer spans them all. */
  subnetIds: pulumi.Input<string>[];
  /** Host 1's Elastic IP: the entry point with one host; its SSH address (the bastion) always. */
  address: aws.ec2.Eip;
}

export class Edge {
  /** Every nginx host, host 1 (static-host: the Elastic IP, the SSH bastion) first. */
  public readonly hosts: EdgeHost[];
  /** With two or more hosts: the Network Load Balancer over them (sendTraffic registers them). */
  public readonly balancer?: EdgeBalancer;
  /** Where DNS points: the balancer's DNS name, or host 1's Elastic IP with one host. */
  public readonly publicAddress: pulumi.Output<string>;
  /** Each host's nginx-config step, once publishSites ran: what an app's publish and switches wait for. */
  public sites: command.remote.Command[] = [];

  constructor(args: EdgeArgs, opts?: pulumi.ComponentResourceOptions) {
    const { count, vpcId, subnetIds, address, ...host } = args;
    this.hosts = edgeHostNames(count).map(
      (name, i) =>
        new EdgeHost(
          name,
          {
            ...host,
            subnetId: subnetIds[i % subnetIds.length],
            address: i === 0 ? address : undefined,
          },
          opts,
        ),
    );
    this.balancer = count > 1 ? new EdgeBalancer("edge", { stack: args.stack, vpcId, subnetIds }, opts) : undefined;
    this.publicAddress = this.balancer?.dnsName ?? this.hosts[0].publicIp;
  }

  /** The hosts as the steps on them see them: name, private IP, connection, ready step, instance id. */
  get machines(): EdgeMachine[] {
    return this.hosts.map((h) => h.host);
  }

  /** Each host's publish-access step, once grantPublishAccess ran: what an app's publish waits for. */
  public publishAccess: command.remote.Command[] = [];

  /** The same server blocks (and certificates) on every host. */
  public publishSites(args: SitesArgs): command.remote.Command[] {
    this.sites = this.hosts.map((h) => h.publishSites(args));
    return this.sites;
  }

  /** On every host the access step that lets each app's key (components/app/appKeys.ts, public half per
   *  app name) write that app's static files. */
  public grantPublishAccess(args: AccessArgs): command.remote.Command[] {
    this.publishAccess = this.hosts.map((h) => h.grantPublishAccess(args));
    return this.publishAccess;
  }

  /**
   * Registers every host with the balancer (none with one host), each only once its server
   * blocks are published (publishSites first) and what `beforeTraffic` names for it has run:
   * a replaced host takes traffic only when it serves what the others serve.
   */
  public sendTraffic(beforeTraffic?: BeforeTraffic): void {
    const balancer = this.balancer;
    if (!balancer) return;
    if (this.sites.length !== this.hosts.length) throw new Error("Edge: publishSites before sendTraffic");
    this.hosts.forEach((h, i) => {
      const sites = this.sites[i];
      balancer.attach(
        h.host,
        Promise.resolve(beforeTraffic?.(h.host) ?? []).then((more) => [sites, ...more]),
      );
    });
  }
}

export interface EdgeBalancerArgs {
  stack: string;
  vpcId: pulumi.Input<string>;
  subnetIds: pulumi.Input<string>[];
}

/** An internet-facing NLB over both zones: TCP 80 and 443 to the nginx hosts, cross-zone. */
export class EdgeBalancer extends pulumi.ComponentResource {
  public readonly dnsName: pulumi.Output<string>;
  private readonly targetGroups: { name: string; port: number; group: aws.lb.TargetGroup }[];

  constructor(name: string, args: EdgeBalancerArgs, opts?: pulumi.ComponentResourceOptions) {
    super("fleet:infra:EdgeBalancer", name, {}, opts);
    const tags = (n: string) => fleetTags(args.stack, n, { role: "static-host" });
    const balancer = new aws.lb.LoadBalancer(
      name,
      {
        loadBalancerType: "network",
        internal: false,
        ipAddressType: "ipv4",
        subnets: args.subnetIds,
        // A host in one zone takes traffic arriving in the other: losing a host never halves a zone's capacity to nothing.
        enableCrossZoneLoadBalancing: true,
        tags: tags(name),
      },
      { parent: this },
    );
    this.dnsName = balancer.dnsName;
    this.targetGroups = EDGE_PORTS.map(({ name: what, port }) => {
      const group = new aws.lb.TargetGroup(
        `${name}-${what}`,
        {
          vpcId: args.vpcId,
          port,
          protocol: "TCP",
          targetType: "instance",
          // Instance targets keep the client's address: nginx logs and limits see the real client.
          preserveClientIp: "true",
          deregistrationDelay: EDGE_DEREGISTRATION_DELAY,
          healthCheck: { enabled: true, ...EDGE_HEALTH_CHECK },
          // A host the checks take out loses its connections at once (AWS's default, written
          // down because the test bed's balancer does the same): a client waiting on a dead
          // host gets an error and tries again instead of hanging.
          targetHealthStates: [{ enableUnhealthyConnectionTermination: true }],
          tags: tags(`${name}-${what}`),
        },
        { parent: this },
      );
      new aws.lb.Listener(
        `${name}-${what}`,
        {
          loadBalancerArn: balancer.arn,
          port,
          protocol: "TCP",
          defaultActions: [{ type: "forward", targetGroupArn: group.arn }],
          tags: tags(`${name}-${what}`),
        },
        { parent: this },
      );
      return { name: what, port, group };
    });
    this.registerOutputs({ dnsName: this.dnsName });
  }

  /** The host in every target group, after `before`. */
  public attach(host: EdgeMachine, before: Promise<pulumi.Resource[]>): void {
    for (const { name, port, group } of this.targetGroups) {
      new aws.lb.TargetGroupAttachment(
        `${host.name}-${name}`,
        {
          targetGroupArn: group.arn,
          targetId: host.instanceId,
          port,
        },
        { parent: this, dependsOn: before },
      );
    }
  }
}
