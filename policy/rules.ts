// The fleet's security rules as pure functions over resource records. Pure (no Pulumi, no
// @pulumi/policy) so the SAME rules run in three places: the mocha tests over every resource
// the components declare, the tests over the offline plan of each stack, and the real
// policy pack (policy/index.ts) under `pulumi preview --policy-pack policy`.

/** One declared resource: what the offline plan prints and what the policy pack sees. */
export interface PolicyRecord {
  type: string;
  name: string;
  inputs: Record<string, unknown>;
  urn?: string;
  /** URNs this resource depends on (explicitly or through its inputs). */
  dependsOn?: string[];
}

export interface PolicyContext {
  stack: string;
  /** The stack config's adminCidrs: the only sources SSH may come from. */
  adminCidrs: string[];
}

export interface Violation {
  policy: string;
  resource: string;
  message: string;
}

export interface ResourceRule {
  name: string;
  description: string;
  /** Problems with one resource; empty when it complies or the rule does not apply. */
  check(r: PolicyRecord, ctx: PolicyContext): string[];
}

export interface StackRule {
  name: string;
  description: string;
  /** Problems that need more than one resource to see (a bucket and its settings). */
  check(all: PolicyRecord[], ctx: PolicyContext): { resource: string; message: string }[];
}

export const T = {
  ingressRule: "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule",
  legacyRule: "aws:ec2/securityGroupRule:SecurityGroupRule",
  securityGroup: "aws:ec2/securityGroup:SecurityGroup",
  instance: "aws:ec2/instance:Instance",
  launchTemplate: "aws:ec2/launchTemplate:LaunchTemplate",
  volume: "aws:ebs/volume:Volume",
  rds: "aws:rds/instance:Instance",
  bucket: "aws:s3/bucket:Bucket",
  bucketV2: "aws:s3/bucketV2:BucketV2",
  publicAccessBlock: "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock",
  accountPublicAccessBlock: "aws:s3/accountPublicAccessBlock:AccountPublicAccessBlock",
  versioning: "aws:s3/bucketVersioning:BucketVersioning",
  versioningV2: "aws:s3/bucketVersioningV2:BucketVersioningV2",
  encryption: "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration",
  encryptionV2: "aws:s3/bucketServerSideEncryptionConfigurationV2:BucketServerSideEncryptionConfigurationV2",
  bucketPolicy: "aws:s3/bucketPolicy:BucketPolicy",
} as const;

/** Production-like stacks get the stricter database rules (production, production-recovery, ...). */
export function isProduction(stack: string): boolean {
  return stack === "production" || stack.startsWith("production-");
}

// ---- helpers over loosely typed inputs -------------------------------------------------------

type Obj = Record<string, unknown>;
const obj = (v: unknown): Obj => (v !== null && typeof v === "object" && !Array.isArray(v) ? (v as Obj) : {});
const list = (v: unknown): unknown[] => (Array.isArray(v) ? v : []);
const tagsOf = (r: PolicyRecord): Obj => obj(r.inputs.tags);

/** A CIDR that matches every address (0.0.0.0/0, ::/0). */
function isWorld(cidr: unknown): boolean {
  return typeof cidr === "string" && /\/0$/.test(cidr);
}

interface IngressView {
  protocol: string;
  from: number;
  to: number;
  cidrs: string[];
}

/** Ingress permissions of any of the three ways AWS lets you write them. */
function ingressViews(r: PolicyRecord): IngressView[] {
  const view = (p: Obj, cidrs: unknown[]): IngressView => ({
    protocol: String(p.ipProtocol ?? p.protocol ?? "tcp"),
    from: Number(p.fromPort ?? 0),
    to: Number(p.toPort ?? 65535),
    cidrs: cidrs.filter((c): c is string => typeof c === "string"),
  });
  if (r.type === T.ingressRule) return [view(r.inputs, [r.inputs.cidrIpv4, r.inputs.cidrIpv6])];
  if (r.type === T.legacyRule && r.inputs.type === "ingress") {
    return [view(r.inputs, [...list(r.inputs.cidrBlocks), ...list(r.inputs.ipv6CidrBlocks)])];
  }
  if (r.type === T.securityGroup) {
    return list(r.inputs.ingress).map((i) => view(obj(i), [...list(obj(i).cidrBlocks), ...list(obj(i).ipv6CidrBlocks)]));
  }
  return [];
}

const allProtocols = (v: IngressView) => v.protocol === "-1" || v.protocol === "all";
const covers = (v: IngressView, port: number) => allProtocols(v) || (v.from <= port && port <= v.to);

// ---- resource rules --------------------------------------------------------------------------

const noWorldOpenIngress: ResourceRule = {
  name: "no-world-open-ingress",
  description: "Only the nginx host takes traffic from the whole internet, and only on 80 and 443.",
  check(r) {
    const onStaticHost = tagsOf(r).role === "static-host";
    return ingressViews(r)
      .filter((v) => v.cidrs.some(isWorld))
      .filter((v) => !(onStaticHost && !allProtocols(v) && v.from === v.to && (v.from === 80 || v.from === 443)))
      .map(
        (v) =>
          `ingress ${v.protocol} ${v.from}-${v.to} is open to the internet${onStaticHost ? "" : " on a machine that is not the nginx host"}`,
      );
  },
};

const sshOnlyFromAdmins: ResourceRule = {
  name: "ssh-only-from-admin-cidrs",
  description: "SSH (22) comes only from the stack's adminCidrs or from another security group (the bastion).",
  check(r, ctx) {
    return ingressViews(r)
      .filter((v) => covers(v, 22))
      .flatMap((v) => v.cidrs.filter((c) => !ctx.adminCidrs.includes(c)))
      .map((c) => `SSH allowed from ${c}, which is not in adminCidrs (${ctx.adminCidrs.join(", ") || "none"})`);
  },
};

const rdsPrivateEncrypted: ResourceRule = {
  name: "rds-private-encrypted",
  description: "The database is not publicly accessible and its storage is encrypted.",
  check(r) {
    if (r.type !== T.rds) return [];
    const problems: string[] = [];
    if (r.inputs.publiclyAccessible === true) problems.push("publiclyAccessible is true");
    if (r.inputs.storageEncrypted !== true) problems.push("storageEncrypted is not true");
    return problems;
  },
};

const rdsBackups: ResourceRule = {
  name: "rds-backups-kept",
  description: "Backups are kept (7+ days in production), survive the instance, and deleting it takes a final snapshot.",
  check(r, ctx) {
    if (r.type !== T.rds) return [];
    const problems: string[] = [];
    const minimum = isProduction(ctx.stack) ? 7 : 1;
    const days = Number(r.inputs.backupRetentionPeriod ?? 0);
    if (!(days >= minimum)) problems.push(`backupRetentionPeriod is ${days}, needs >= ${minimum}`);
    if (r.inputs.deleteAutomatedBackups !== false) problems.push("deleteAutomatedBackups must be false");
    if (r.inputs.skipFinalSnapshot === true || !r.inputs.finalSnapshotIdentifier) problems.push("no final snapshot on delete");
    return problems;
  },
};

const rdsProtectedInProduction: ResourceRule = {
  name: "rds-protected-in-production",
  description: "In production the database has deletion protection and a standby in a second zone.",
  check(r, ctx) {
    if (r.type !== T.rds || !isProduction(ctx.stack)) return [];
    const problems: string[] = [];
    if (r.inputs.deletionProtection !== true) problems.push("deletionProtection is not true");
    if (r.inputs.multiAz !== true) problems.push("multiAz is not true");
    return problems;
  },
};

const imdsv2: ResourceRule = {
  name: "ec2-imdsv2-required",
  description: "Instances answer only IMDSv2 (session tokens), so a plain GET cannot read role credentials.",
  check(r) {
    if (r.type !== T.instance && r.type !== T.launchTemplate) return [];
    return obj(r.inputs.metadataOptions).httpTokens === "required" ? [] : ['metadataOptions.httpTokens is not "required"'];
  },
};

const volumesEncrypted: ResourceRule = {
  name: "ec2-volumes-encrypted",
  description: "Every EBS volume (root, attached, standalone) is encrypted.",
  check(r) {
    if (r.type === T.volume) return r.inputs.encrypted === true ? [] : ["volume is not encrypted"];
    if (r.type !== T.instance) return [];
    const problems: string[] = [];
    if (obj(r.inputs.rootBlockDevice).encrypted !== true) problems.push("rootBlockDevice.encrypted is not true");
    list(r.inputs.ebsBlockDevices).forEach((d, i) => {
      if (obj(d).encrypted !== true) problems.push(`ebsBlockDevices[${i}] is not encrypted`);
    });
    return problems;
  },
};

/** What a leaked credential looks like in clear text. */
const SECRET_PATTERNS = [/PRIVATE KEY-----/, /\bpassword\s*[:=]\s*\S+/i, /\bSECRET_KEY\s*[:=]/, /\[secret\]/];

const noSecretsInUserData: ResourceRule = {
  name: "no-secrets-in-user-data",
  description: "EC2 user data is stored and shown in clear text: no keys, passwords or Pulumi secrets in it.",
  check(r) {
    if (r.type !== T.instance && r.type !== T.launchTemplate) return [];
    const userData = r.inputs.userData;
    if (userData === undefined) return [];
    if (typeof userData !== "string") return ["userData is not plain text (a secret flowed into it?)"];
    return SECRET_PATTERNS.filter((p) => p.test(userData)).map((p) => `userData matches ${p}`);
  },
};

/** AWS resource types that take tags; settings-only types (rules attachments, bucket configs) do not. */
const UNTAGGABLE = new Set<string>([
  T.publicAccessBlock,
  T.accountPublicAccessBlock,
  T.versioning,
  T.versioningV2,
  T.encryption,
  T.encryptionV2,
  T.bucketPolicy,
  "aws:s3/bucketReplicationConfig:BucketReplicationConfig",
  "aws:iam/rolePolicy:RolePolicy",
  "aws:iam/rolePolicyAttachment:RolePolicyAttachment",
  "aws:ec2/routeTableAssociation:RouteTableAssociation",
  "aws:ec2/eipAssociation:EipAssociation",
  "aws:ec2/route:Route",
  T.legacyRule,
  "aws:lb/targetGroupAttachment:TargetGroupAttachment",
  "aws:rds/instanceAutomatedBackupsReplication:InstanceAutomatedBackupsReplication",
]);

const fleetTagsRule: ResourceRule = {
  name: "fleet-tags",
  description: "Every taggable AWS resource carries `stack` (this stack) and `managed-by: fleet`.",
  check(r, ctx) {
    if (!r.type.startsWith("aws:") || UNTAGGABLE.has(r.type) || r.type.startsWith("aws:index/") || r.type.includes("/get")) return [];
    const tags = tagsOf(r);
    const problems: string[] = [];
    if (tags.stack !== ctx.stack) problems.push(`tag stack is ${JSON.stringify(tags.stack)}, expected ${JSON.stringify(ctx.stack)}`);
    if (tags["managed-by"] !== "fleet") problems.push('tag managed-by is not "fleet"');
    return problems;
  },
};

export const RESOURCE_RULES: ResourceRule[] = [
  noWorldOpenIngress,
  sshOnlyFromAdmins,
  rdsPrivateEncrypted,
  rdsBackups,
  rdsProtectedInProduction,
  imdsv2,
  volumesEncrypted,
  noSecretsInUserData,
  fleetTagsRule,
];

// ---- stack rules: a bucket and the resources that configure it --------------------------------

const isBucket = (r: PolicyRecord) => r.type === T.bucket || r.type === T.bucketV2;

/** The settings resources of `type` that belong to `bucket` (by dependency, or by literal name). */
function settingsFor(bucket: PolicyRecord, all: PolicyRecord[], types: string[]): PolicyRecord[] {
  return all.filter(
    (r) =>
      types.includes(r.type) &&
      ((bucket.urn !== undefined && (r.dependsOn ?? []).includes(bucket.urn)) ||
        (typeof bucket.inputs.bucket === "string" && r.inputs.bucket === bucket.inputs.bucket)),
  );
}

function bucketRule(
  name: string,
  description: string,
  types: string[],
  ok: (setting: PolicyRecord) => boolean,
  missing: string,
): StackRule {
  return {
    name,
    description,
    check(all) {
      return all
        .filter(isBucket)
        .filter((b) => !settingsFor(b, all, types).some(ok))
        .map((b) => ({ resource: b.name, message: missing }));
    },
  };
}

function parsePolicy(v: unknown): Obj {
  if (typeof v !== "string") return obj(v);
  try {
    return obj(JSON.parse(v));
  } catch {
    return {};
  }
}

const deniesPlainHttp = (p: PolicyRecord) =>
  list(parsePolicy(p.inputs.policy).Statement).some((s) => {
    const st = obj(s);
    const secure = obj(obj(st.Condition).Bool)["aws:SecureTransport"];
    return st.Effect === "Deny" && (secure === "false" || secure === false);
  });

const blocksAll = (p: PolicyRecord) =>
  ["blockPublicAcls", "blockPublicPolicy", "ignorePublicAcls", "restrictPublicBuckets"].every((k) => p.inputs[k] === true);

/** Every bucket is covered by a public access block with all four settings on: the account's
 *  (S3 Block Public Access, which covers every bucket of the account) or its own. */
const publicAccessBlocked: StackRule = {
  name: "s3-public-access-blocked",
  description: "Every bucket is covered by a public access block with all four settings on (the account's, or its own).",
  check(all) {
    if (all.some((r) => r.type === T.accountPublicAccessBlock && blocksAll(r))) return [];
    return all
      .filter(isBucket)
      .filter((b) => !settingsFor(b, all, [T.publicAccessBlock]).some(blocksAll))
      .map((b) => ({
        resource: b.name,
        message:
          "no public access block with blockPublicAcls, blockPublicPolicy, ignorePublicAcls and restrictPublicBuckets all true, on the account or the bucket",
      }));
  },
};

/** S3 encrypts every bucket with SSE-S3 at least (since 5 January 2023, and it cannot be turned
 *  off): a bucket without its own configuration is encrypted; one with it must name a real algorithm. */
const encrypted: StackRule = {
  name: "s3-encrypted",
  description: "Every bucket encrypts objects at rest: S3's own SSE-S3, or a configuration naming AES256 or KMS.",
  check(all) {
    const sound = (e: PolicyRecord) =>
      list(e.inputs.rules).some((rule) =>
        ["AES256", "aws:kms", "aws:kms:dsse"].includes(String(obj(obj(rule).applyServerSideEncryptionByDefault).sseAlgorithm)),
      );
    return all
      .filter(isBucket)
      .filter((b) => settingsFor(b, all, [T.encryption, T.encryptionV2]).some((e) => !sound(e)))
      .map((b) => ({
        resource: b.name,
        message: "a default server-side encryption configuration names no known algorithm (AES256, aws:kms, aws:kms:dsse)",
      }));
  },
};

export const STACK_RULES: StackRule[] = [
  publicAccessBlocked,
  bucketRule(
    "s3-versioned",
    "Every bucket keeps old versions (a deleted or overwritten file can be recovered).",
    [T.versioning, T.versioningV2],
    (v) => obj(v.inputs.versioningConfiguration).status === "Enabled",
    "versioning is not Enabled",
  ),
  encrypted,
  bucketRule(
    "s3-tls-only",
    "Every bucket's policy denies requests that do not use TLS.",
    [T.bucketPolicy],
    deniesPlainHttp,
    "no bucket policy denying aws:SecureTransport=false",
  ),
];

/** Every rule's name, for the pack and for tests that must see each one. */
export const RULE_NAMES = [...RESOURCE_RULES, ...STACK_RULES].map((r) => r.name);

/** Applies every rule to every record. */
export function checkAll(records: PolicyRecord[], ctx: PolicyContext): Violation[] {
  const violations: Violation[] = [];
  for (const r of records) {
    for (const rule of RESOURCE_RULES) {
      for (const message of rule.check(r, ctx)) violations.push({ policy: rule.name, resource: r.name, message });
    }
  }
  for (const rule of STACK_RULES) {
    for (const v of rule.check(records, ctx)) violations.push({ policy: rule.name, ...v });
  }
  return violations;
}

export function formatViolation(v: Violation): string {
  return `${v.policy}: ${v.resource}: ${v.message}`;
}
