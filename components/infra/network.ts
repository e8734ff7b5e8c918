// The network: a VPC over two availability zones, subnets per tier, and one security group
// per tier with one ingress/egress rule resource per rule (aws v7 style: rules are separate
// resources so adding one never rewrites the others).
//
// Who may talk to whom:
//   internet    -> static host : 80, 443 (nothing else is open to the world)
//   static host -> app nodes   : the app port ranges (config/ports.ts), and ports written outside them
//   app nodes   -> database    : the engine's port
//   SSH         : from adminCidrs to every machine ("direct"), or from adminCidrs to the
//                 static host and from there to the nodes ("bastion").
import * as aws from "@pulumi/aws";
import * as pulumi from "@pulumi/pulumi";
import { fleetTags } from "./awsTags";
import { appPortOpenings } from "../../config/ports";

export type SshAccess = "direct" | "bastion";

export interface NetworkArgs {
  stack: string;
  /** VPC CIDR, /18 or larger. */
  cidr: string;
  sshAccess: SshAccess;
  adminCidrs: string[];
  /** The ports the apps' gunicorns listen on (the catalog's `port`s). */
  appPorts: number[];
  /** The database engine's port. */
  databasePort: number;
}

export interface SubnetPlan {
  public: [string, string];
  app: [string, string];
  database: [string, string];
}

/** Splits the VPC CIDR into eight equal blocks and uses six: two per tier, one per zone. Pure. */
export function planSubnets(vpcCidr: string): SubnetPlan {
  const [base, bits] = vpcCidr.split("/");
  const prefix = Number(bits) + 3;
  const start = base.split(".").reduce((acc, octet) => acc * 256 + Number(octet), 0) >>> 0;
  const size = 2 ** (32 - prefix);
  const block = (i: number): string => {
    const n = (start + i * size) >>> 0;
    return `${[24, 16, 8, 0].map((s) => (n >>> s) & 255).join(".")}/${prefix}`;
  };
  return { public: [block(0), block(1)], app: [block(2), block(3)], database: [block(4), block(5)] };
}

type Tier = "static-host" | "app-node" | "database";

interface RuleSpec {
  name: string;
  description: string;
  port: number;
  /** The range's last port (a rule for one port without it). */
  toPort?: number;
  cidr?: string;
  peer?: pulumi.Input<string>;
}

export class Network extends pulumi.ComponentResource {
  public readonly vpcId: pulumi.Output<string>;
  public readonly publicSubnetIds: pulumi.Output<string>[];
  public readonly appSubnetIds: pulumi.Output<string>[];
  public readonly databaseSubnetIds: pulumi.Output<string>[];
  public readonly staticHostSecurityGroupId: pulumi.Output<string>;
  public readonly appNodeSecurityGroupId: pulumi.Output<string>;
  public readonly databaseSecurityGroupId: pulumi.Output<string>;
  /** The static host's fixed public address (DNS points here; the bastion for "bastion" SSH). */
  public readonly staticHostAddress: aws.ec2.Eip;
  /** Whether app nodes get public addresses (direct SSH) or sit behind NAT. */
  public readonly appNodesPublic: boolean;

  private readonly stack: string;

  constructor(name: string, args: NetworkArgs, opts?: pulumi.ComponentResourceOptions) {
    super("fleet:infra:Network", name, {}, opts);
    this.stack = args.stack;
    this.appNodesPublic = args.sshAccess === "direct";
    const tags = (n: string, role = "network") => fleetTags(args.stack, n, { role });
    const child = { parent: this };

    const vpc = new aws.ec2.Vpc(
      "vpc",
      {
        cidrBlock: args.cidr,
        enableDnsHostnames: true,
        enableDnsSupport: true,
        tags: tags("vpc"),
      },
      child,
    );
    this.vpcId = vpc.id;
    const zones = aws.getAvailabilityZonesOutput({ state: "available" }, child).names;
    const plan = planSubnets(args.cidr);

    // Instances ask for a public address explicitly where they need one; subnets never hand them out.
    const subnets = (tier: keyof SubnetPlan) =>
      plan[tier].map((cidr, i) => {
        const subnetName = `${tier}-${"ab"[i]}`;
        return new aws.ec2.Subnet(
          subnetName,
          {
            vpcId: vpc.id,
            cidrBlock: cidr,
            availabilityZone: zones[i],
            mapPublicIpOnLaunch: false,
            tags: tags(subnetName),
          },
          child,
        );
      });
    const publicSubnets = subnets("public");
    const appSubnets = subnets("app");
    const databaseSubnets = subnets("database");
    this.publicSubnetIds = publicSubnets.map((s) => s.id);
    this.appSubnetIds = appSubnets.map((s) => s.id);
    this.databaseSubnetIds = databaseSubnets.map((s) => s.id);

    const igw = new aws.ec2.InternetGateway("igw", { vpcId: vpc.id, tags: tags("igw") }, child);
    const publicRoutes = this.routeTable("public-routes", vpc.id, { gatewayId: igw.id });
    this.associate("public", publicSubnets, publicRoutes);
    if (this.appNodesPublic) {
      this.associate("app", appSubnets, publicRoutes);
    } else {
      const natIp = new aws.ec2.Eip("nat", { domain: "vpc", tags: tags("nat") }, child);
      const nat = new aws.ec2.NatGateway(
        "nat",
        {
          allocationId: natIp.allocationId,
          subnetId: publicSubnets[0].id,
          tags: tags("nat"),
        },
        { parent: this, dependsOn: [igw] },
      );
      this.associate("app", appSubnets, this.routeTable("app-routes", vpc.id, { natGatewayId: nat.id }));
    }
    // The database tier gets a table with no route out at all.
    this.associate("database", databaseSubnets, this.routeTable("database-routes", vpc.id));

    this.staticHostAddress = new aws.ec2.Eip("static-host", { domain: "vpc", tags: tags("static-host", "static-host") }, child);

    const group = (tier: Tier, description: string) =>
      new aws.ec2.SecurityGroup(
        `${tier}-sg`,
        {
          vpcId: vpc.id,
          description,
          tags: tags(`${tier}-sg`, tier),
          // No inline rules: every rule is its own resource below.
        },
        child,
      );
    const staticSg = group("static-host", "fleet nginx host: web from the internet");
    const nodeSg = group("app-node", "fleet app nodes: app ports from the nginx host");
    const dbSg = group("database", "fleet database: engine port from app nodes");
    this.staticHostSecurityGroupId = staticSg.id;
    this.appNodeSecurityGroupId = nodeSg.id;
    this.databaseSecurityGroupId = dbSg.id;

    const openings = appPortOpenings(args.appPorts);
    // The nginx hosts reach the apps' gunicorns: the ranges the ports come from, and the ports written outside them.
    const appPorts = (verb: string, peer: pulumi.Input<string>): RuleSpec[] => [
      ...openings.ranges.map((r) => ({
        name: `app-ports-${r.from}-${r.to}`,
        description: `app ports ${r.from}-${r.to} ${verb}`,
        port: r.from,
        toPort: r.to,
        peer,
      })),
      ...openings.single.map((port) => ({ name: `app-${port}`, description: `app port ${port} ${verb}`, port, peer })),
    ];
    const adminSsh = args.adminCidrs.map((cidr, i): RuleSpec => ({
      name: `ssh-admin-${i + 1}`,
      description: `SSH from admin range ${cidr}`,
      port: 22,
      cidr,
    }));
    const world = (port: number, what: string): RuleSpec => ({
      name: what,
      description: `${what.toUpperCase()} from the internet`,
      port,
      cidr: "0.0.0.0/0",
    });

    // The first node publishes each app's static files as the nginx host's publish user,
    // whose keys may only rrsync into one app's static directory (render/publishAccess.ts).
    const publishSsh: RuleSpec = {
      name: "ssh-publish",
      description: "SSH from the app nodes (static files, restricted publish keys)",
      port: 22,
      peer: nodeSg.id,
    };
    this.ingress("static-host", staticSg.id, [world(80, "http"), world(443, "https"), ...adminSsh, publishSsh]);
    this.ingress("app-node", nodeSg.id, [
      ...appPorts("from the nginx host", staticSg.id),
      ...(this.appNodesPublic
        ? adminSsh
        : [{ name: "ssh-bastion", description: "SSH from the nginx host (bastion)", port: 22, peer: staticSg.id }]),
    ]);
    this.ingress("database", dbSg.id, [
      { name: `db-${args.databasePort}`, description: "database port from app nodes", port: args.databasePort, peer: nodeSg.id },
    ]);

    // Egress: packages and git over HTTPS/HTTP, git over SSH (deploy keys), and the next tier.
    const out = (port: number, what: string): RuleSpec => ({ name: what, description: `${what} to the internet`, port, cidr: "0.0.0.0/0" });
    this.egress("static-host", staticSg.id, [
      out(80, "http"),
      out(443, "https"),
      ...appPorts("to the nodes", nodeSg.id),
      ...(this.appNodesPublic ? [] : [{ name: "ssh-nodes", description: "SSH to the nodes (bastion)", port: 22, peer: nodeSg.id }]),
    ]);
    this.egress("app-node", nodeSg.id, [
      out(80, "http"),
      out(443, "https"),
      out(22, "git-ssh"),
      { name: "ssh-publish", description: "SSH to the nginx host (static files)", port: 22, peer: staticSg.id },
      { name: `db-${args.databasePort}`, description: "database port", port: args.databasePort, peer: dbSg.id },
    ]);
    // The database initiates nothing: its group has no egress rule at all.

    this.registerOutputs({
      vpcId: this.vpcId,
      staticHostSecurityGroupId: staticSg.id,
      appNodeSecurityGroupId: nodeSg.id,
      databaseSecurityGroupId: dbSg.id,
    });
  }

  private routeTable(
    name: string,
    vpcId: pulumi.Input<string>,
    route?: { gatewayId?: pulumi.Input<string>; natGatewayId?: pulumi.Input<string> },
  ): aws.ec2.RouteTable {
    return new aws.ec2.RouteTable(
      name,
      {
        vpcId,
        routes: route ? [{ cidrBlock: "0.0.0.0/0", ...route }] : [],
        tags: fleetTags(this.stack, name, { role: "network" }),
      },
      { parent: this },
    );
  }

  private associate(tier: keyof SubnetPlan, subnets: aws.ec2.Subnet[], table: aws.ec2.RouteTable): void {
    subnets.forEach(
      (subnet, i) =>
        new aws.ec2.RouteTableAssociation(`${tier}-${"ab"[i]}`, { subnetId: subnet.id, routeTableId: table.id }, { parent: this }),
    );
  }

  private ingress(tier: Tier, groupId: pulumi.Input<string>, rules: RuleSpec[]): void {
    this.rules("in", tier, groupId, rules);
  }

  private egress(tier: Tier, groupId: pulumi.Input<string>, rules: RuleSpec[]): void {
    this.rules("out", tier, groupId, rules);
  }

  /** One rule resource per rule, tagged with the tier of the group it belongs to (the policies read that tag). */
  private rules(direction: "in" | "out", tier: Tier, groupId: pulumi.Input<string>, rules: RuleSpec[]): void {
    const Rule = direction === "in" ? aws.vpc.SecurityGroupIngressRule : aws.vpc.SecurityGroupEgressRule;
    for (const r of rules) {
      const name = `${tier}-${direction}-${r.name}`;
      new Rule(
        name,
        {
          securityGroupId: groupId,
          ipProtocol: "tcp",
          fromPort: r.port,
          toPort: r.toPort ?? r.port,
          description: r.description,
          cidrIpv4: r.cidr,
          referencedSecurityGroupId: r.peer,
          tags: fleetTags(this.stack, name, { role: tier }),
        },
        { parent: this },
      );
    }
  }
}
