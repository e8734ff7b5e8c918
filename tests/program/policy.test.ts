// The security policies (policy/rules.ts), applied to every resource the infrastructure
// declares for both stacks and to both stacks' offline plans; each rule broken on purpose
// must be reported under its own name. Also drives the @pulumi/policy adapters (policy/pack.ts).
import { strict as assert } from "assert";
import * as aws from "@pulumi/aws";
import { PolicyResource, ReportViolation, ResourceValidationArgs, StackValidationArgs } from "@pulumi/policy";
import { installMocks, named, recordBuild, Recorded, sampleApps, stackConfigFromFile, samplePublicKey } from "../helpers/infraHarness";

installMocks();

import { shippedPlan } from "../helpers/shippedPlan";
import { buildInfrastructure } from "../../components/infra/buildInfrastructure";
import { fleetTags } from "../../components/infra/awsTags";
import { adminCidrsFromStackFile, resourcePolicies, stackOfUrn, stackPolicies } from "../../policy/pack";
import { checkAll, formatViolation, PolicyContext, PolicyRecord, RULE_NAMES, T, Violation } from "../../policy/rules";

interface StackBuild {
  ctx: PolicyContext;
  records: Recorded[];
}

async function buildStack(stack: string, overrides: Record<string, unknown> = {}): Promise<StackBuild> {
  const cfg = stackConfigFromFile(stack, overrides);
  const { resources } = await recordBuild(() => buildInfrastructure(cfg, sampleApps(), samplePublicKey));
  return { ctx: { stack, adminCidrs: cfg.adminCidrs }, records: resources };
}

/** A deep copy whose one named resource is changed by `edit` (or removed when edit returns null). */
function broken(records: Recorded[], type: string, name: string, edit: (inputs: Record<string, unknown>) => void | null): Recorded[] {
  named(records, type, name); // must exist, or the test would prove nothing
  return records.flatMap((r) => {
    if (r.type !== type || r.name !== name) return [r];
    const copy = structuredClone(r);
    return edit(copy.inputs) === null ? [] : [copy];
  });
}

const policiesIn = (violations: Violation[]) => [...new Set(violations.map((v) => v.policy))];

describe("security policies over the infrastructure", () => {
  let alpha: StackBuild;
  let production: StackBuild;

  before(async () => {
    installMocks();
    alpha = await buildStack("alpha");
    production = await buildStack("production");
  });

  it("find nothing wrong with either stack", () => {
    for (const s of [alpha, production]) {
      assert.ok(s.records.length > 50, `${s.ctx.stack} has resources`);
      assert.deepEqual(checkAll(s.records, s.ctx).map(formatViolation), []);
    }
  });

  // Each rule, broken on purpose in one resource of the production plan.
  const breakers: Record<string, (r: Recorded[]) => Recorded[]> = {
    "no-world-open-ingress": (r) =>
      broken(r, T.ingressRule, "app-node-in-app-ports-8100-8899", (i) => {
        i.cidrIpv4 = "0.0.0.0/0";
        delete i.referencedSecurityGroupId;
      }),
    "ssh-only-from-admin-cidrs": (r) => broken(r, T.ingressRule, "static-host-in-ssh-admin-1", (i) => void (i.cidrIpv4 = "10.0.0.0/8")),
    "rds-private-encrypted": (r) => broken(r, T.rds, "database", (i) => void (i.publiclyAccessible = true)),
    "rds-backups-kept": (r) => broken(r, T.rds, "database", (i) => void (i.deleteAutomatedBackups = true)),
    "rds-protected-in-production": (r) => broken(r, T.rds, "database", (i) => void (i.deletionProtection = false)),
    "ec2-imdsv2-required": (r) => broken(r, T.instance, "node-2", (i) => void (i.metadataOptions = { httpTokens: "optional" })),
    "ec2-volumes-encrypted": (r) => broken(r, T.instance, "static-host", (i) => void (i.rootBlockDevice = { encrypted: false })),
    "no-secrets-in-user-data": (r) =>
      broken(r, T.instance, "node-1", (i) => void (i.userData = `${i.userData}\nwrite_files: [{content: "[secret]"}]`)),
    "fleet-tags": (r) => broken(r, "aws:ec2/subnet:Subnet", "app-a", (i) => void (i.tags = { stack: "production" })),
    "s3-public-access-blocked": (r) =>
      broken(r, T.accountPublicAccessBlock, "account-public-access", (i) => void (i.restrictPublicBuckets = false)),
    "s3-versioned": (r) =>
      broken(r, T.versioning, "wiki_media-versioning", (i) => void (i.versioningConfiguration = { status: "Suspended" })),
    // No bucket has its own encryption configuration (S3's SSE-S3 covers them): one naming no algorithm breaks it.
    "s3-encrypted": (r) => {
      const bucket = named(r, T.bucket, "blog_media");
      const inputs = { bucket: bucket.inputs.bucket, rules: [{ applyServerSideEncryptionByDefault: { sseAlgorithm: "none" } }] };
      return [...r, { ...bucket, type: T.encryption, name: "blog_media-encryption", urn: `${bucket.urn}-encryption`, inputs }];
    },
    "s3-tls-only": (r) =>
      broken(r, T.bucketPolicy, "wiki_media-tls-only", (i) => void (i.policy = JSON.stringify({ Version: "2012-10-17", Statement: [] }))),
  };

  it("have a deliberate-breakage test for every rule", () => {
    assert.deepEqual(Object.keys(breakers).sort(), [...RULE_NAMES].sort());
  });

  for (const rule of Object.keys(breakers)) {
    it(`report ${rule} when it is broken`, () => {
      const violations = checkAll(breakers[rule](production.records), production.ctx);
      assert.deepEqual(policiesIn(violations), [rule], violations.map(formatViolation).join("\n"));
    });
  }

  it("report a world-open SSH rule declared in code, under both network rules", async () => {
    const { resources } = await recordBuild(
      () =>
        new aws.vpc.SecurityGroupIngressRule("static-host-in-ssh-anywhere", {
          securityGroupId: "static-host-sg-id",
          ipProtocol: "tcp",
          fromPort: 22,
          toPort: 22,
          cidrIpv4: "0.0.0.0/0",
          tags: fleetTags("production", "ssh-anywhere", { role: "static-host" }),
        }),
    );
    const violations = checkAll([...production.records, ...resources], production.ctx);
    assert.deepEqual(policiesIn(violations).sort(), ["no-world-open-ingress", "ssh-only-from-admin-cidrs"]);
    assert.ok(violations.every((v) => v.resource === "static-host-in-ssh-anywhere"));
  });

  it("report inline rules and all-protocol rules too", () => {
    const group: PolicyRecord = {
      type: T.securityGroup,
      name: "legacy-sg",
      inputs: {
        tags: fleetTags("production", "legacy-sg"),
        ingress: [{ protocol: "-1", fromPort: 0, toPort: 0, cidrBlocks: ["0.0.0.0/0"] }],
      },
    };
    assert.deepEqual(policiesIn(checkAll([group], production.ctx)).sort(), ["no-world-open-ingress", "ssh-only-from-admin-cidrs"]);
  });

  it("report a production database configured without protection, built through the components", async () => {
    const unprotected = await buildStack("production", {
      database: { ...stackConfigFromFile("production").database, deletionProtection: false, multiAz: false, backupRetentionDays: 3 },
    });
    const violations = checkAll(unprotected.records, unprotected.ctx);
    assert.deepEqual(policiesIn(violations).sort(), ["rds-backups-kept", "rds-protected-in-production"]);
    // the same settings are fine on alpha
    assert.deepEqual(
      checkAll(unprotected.records, { ...unprotected.ctx, stack: "alpha" }).filter((v) => v.policy.startsWith("rds-")),
      [],
    );
  });

  it("report a bucket left without its settings resources, and every bucket without the account's public access block", () => {
    const bare = production.records.filter((r) => !/^wiki_media-(versioning|tls-only)$/.test(r.name));
    const violations = checkAll(bare, production.ctx).filter((v) => v.policy.startsWith("s3-"));
    assert.deepEqual(violations.map((v) => `${v.policy}:${v.resource}`).sort(), ["s3-tls-only:wiki_media", "s3-versioned:wiki_media"]);
    const open = production.records.filter((r) => r.type !== T.accountPublicAccessBlock);
    const buckets = production.records
      .filter((r) => r.type === T.bucket)
      .map((r) => r.name)
      .sort();
    assert.ok(buckets.length >= 4);
    assert.deepEqual(
      checkAll(open, production.ctx)
        .map((v) => `${v.policy}:${v.resource}`)
        .sort(),
      buckets.map((b) => `s3-public-access-blocked:${b}`),
    );
  });
});

describe("security policies over the offline plans (index.ts)", function () {
  this.timeout(120000);
  for (const stack of ["alpha", "production"]) {
    it(`find nothing wrong in every resource of ${stack}'s plan`, async () => {
      const plan = await shippedPlan({ stack });
      const violations = checkAll(plan.resources, { stack, adminCidrs: adminCidrsFromStackFile(stack) });
      assert.deepEqual(violations.map(formatViolation), []);
    });
  }
});

// ---- the @pulumi/policy adapters -------------------------------------------------------------------

function collect(): { report: ReportViolation; messages: string[]; urns: (string | undefined)[] } {
  const messages: string[] = [];
  const urns: (string | undefined)[] = [];
  return {
    report: (message, urn) => {
      messages.push(message);
      urns.push(urn);
    },
    messages,
    urns,
  };
}

const urnOf = (stack: string, type: string, name: string) => `urn:pulumi:${stack}::fleet::${type}::${name}`;

describe("policy pack adapters (policy/pack.ts)", () => {
  it("finds the stack in a URN and the admin CIDRs in that stack's file", () => {
    assert.equal(stackOfUrn(urnOf("production", T.rds, "database")), "production");
    assert.deepEqual(adminCidrsFromStackFile("production"), stackConfigFromFile("production").adminCidrs);
    assert.deepEqual(adminCidrsFromStackFile("no-such-stack"), []);
  });

  it("registers every rule as a mandatory policy", () => {
    const all = [...resourcePolicies, ...stackPolicies];
    assert.deepEqual(all.map((p) => p.name).sort(), [...RULE_NAMES].sort());
    assert.ok(all.every((p) => p.enforcementLevel === "mandatory"));
  });

  it("reports a resource violation through the pack, with admin CIDRs from pack config or the stack file", () => {
    const policy = resourcePolicies.find((p) => p.name === "ssh-only-from-admin-cidrs");
    assert.ok(policy && typeof policy.validateResource === "function");
    const args = (config: object) =>
      ({
        type: T.ingressRule,
        name: "static-host-in-ssh-admin-1",
        urn: urnOf("production", T.ingressRule, "static-host-in-ssh-admin-1"),
        props: { ipProtocol: "tcp", fromPort: 22, toPort: 22, cidrIpv4: "192.0.2.0/24" },
        getConfig: () => config,
      }) as unknown as ResourceValidationArgs;
    const fromFile = collect();
    policy.validateResource(args({}), fromFile.report);
    assert.deepEqual(fromFile.messages, []);
    const fromConfig = collect();
    policy.validateResource(args({ adminCidrs: ["198.51.100.7/32"] }), fromConfig.report);
    assert.deepEqual(fromConfig.messages, ["SSH allowed from 192.0.2.0/24, which is not in adminCidrs (198.51.100.7/32)"]);
  });

  it("links a bucket to its settings through dependencies in a stack validation", () => {
    const policy = stackPolicies.find((p) => p.name === "s3-versioned");
    assert.ok(policy);
    const resource = (type: string, name: string, props: Record<string, unknown>, dependencies: PolicyResource[] = []) =>
      ({ type, name, urn: urnOf("alpha", type, name), props, dependencies }) as unknown as PolicyResource;
    const bucket = resource(T.bucket, "media-blog", { tags: fleetTags("alpha", "media-blog") });
    const run = (status: string) => {
      const versioning = resource(T.versioning, "media-blog-versioning", { bucket: "[unknown]", versioningConfiguration: { status } }, [
        bucket,
      ]);
      const out = collect();
      policy.validateStack({ resources: [bucket, versioning], getConfig: () => ({}) } as unknown as StackValidationArgs, out.report);
      return out;
    };
    assert.deepEqual(run("Enabled").messages, []);
    const suspended = run("Suspended");
    assert.deepEqual(suspended.messages, ["versioning is not Enabled"]);
    assert.deepEqual(suspended.urns, [bucket.urn]);
  });
});
