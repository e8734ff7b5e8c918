// Deterministic fake cloud values for the offline plan.
//
// The same inputs always give the same ids, addresses and passwords, so two runs of the plan
// print byte-identical JSON and a diff shows only what the catalog or the code changed.
import { createHash } from "crypto";
import * as pulumi from "@pulumi/pulumi";
import { ed25519KeyPair } from "../render/sshKeyPair";

type State = Record<string, unknown>;

export interface MockOptions {
  region: string;
  /** Resource logical name -> IP address the resource answers with (EC2 privateIp/publicIp, RDS address). */
  addresses: Record<string, string>;
  /** Resource logical name -> output values merged over everything else (tests). */
  overrides: Record<string, State>;
  /** "type::name" -> output names the resource declared secret (read off the request). */
  secretOutputs: Map<string, string[]>;
}

function digest(...parts: string[]): string {
  return createHash("sha256").update(parts.join("\0")).digest("hex");
}

/** A stable 10.x address for a name, inside the /16 the network component uses by default. */
function fakeIp(name: string, publicAddress: boolean): string {
  const h = digest(name, publicAddress ? "public" : "private");
  const a = parseInt(h.slice(0, 2), 16);
  const b = (parseInt(h.slice(2, 4), 16) % 250) + 4;
  return publicAddress ? `198.51.100.${(a % 250) + 4}` : `10.0.${a % 200}.${b}`;
}

function fakeSecretText(name: string, field: string, length = 32): string {
  const h = digest("secret", name, field);
  return Buffer.from(h, "hex")
    .toString("base64")
    .replace(/[^A-Za-z0-9]/g, "x")
    .slice(0, length);
}

function fakeOutputs(type: string, name: string, inputs: State, opts: MockOptions): State {
  const arn = `arn:aws:${type.split(":")[1]?.split("/")[0] ?? "x"}:${opts.region}:123456789012:${name}`;
  const address = opts.addresses[name];
  switch (type) {
    case "aws:ec2/instance:Instance":
      return {
        arn,
        privateIp: address ?? fakeIp(name, false),
        publicIp: address ?? fakeIp(name, true),
        privateDns: `ip-${name}.${opts.region}.compute.internal`,
        availabilityZone: inputs.availabilityZone ?? `${opts.region}a`,
      };
    case "aws:ec2/eip:Eip":
      return { arn, publicIp: address ?? fakeIp(name, true), allocationId: `eipalloc-${digest(name).slice(0, 8)}` };
    case "aws:lb/loadBalancer:LoadBalancer":
      return { arn, dnsName: `${name}-${digest(name).slice(0, 16)}.elb.${opts.region}.amazonaws.com`, zoneId: "Z2IFOLAFXWLO4F" };
    case "aws:rds/instance:Instance": {
      const port = (inputs.port as number | undefined) ?? (String(inputs.engine).startsWith("mysql") ? 3306 : 5432);
      const host = address ?? `${name}.abcdefghij.${opts.region}.rds.amazonaws.com`;
      return { arn, address: host, endpoint: `${host}:${port}`, port, hostedZoneId: "Z0000000000000" };
    }
    case "aws:s3/bucket:Bucket":
    case "aws:s3/bucketV2:BucketV2": {
      const bucket = (inputs.bucket as string | undefined) ?? `${name}-${digest(name).slice(0, 7)}`;
      return { arn: `arn:aws:s3:::${bucket}`, bucket, bucketDomainName: `${bucket}.s3.amazonaws.com`, region: opts.region };
    }
    case "random:index/randomPassword:RandomPassword":
    case "random:index/randomString:RandomString":
      return { result: fakeSecretText(name, "result", (inputs.length as number | undefined) ?? 32) };
    case "random:index/randomBytes:RandomBytes": {
      // Deterministic bytes from the name (components/app/appKeys.ts derives every app's key from them).
      const bytes = Buffer.from(digest("random-bytes", name), "hex").subarray(0, (inputs.length as number | undefined) ?? 32);
      return { base64: bytes.toString("base64"), hex: bytes.toString("hex") };
    }
    case "tls:index/privateKey:PrivateKey": {
      // A real key pair (from the name): where the plan's commands run for real, a key's private
      // half must open what its public half was authorised for.
      const pair = ed25519KeyPair(Buffer.from(digest("ssh-key", name), "hex"));
      const blob = Buffer.from(pair.publicKeyOpenssh.split(" ")[1], "base64");
      return { ...pair, publicKeyFingerprintSha256: `SHA256:${createHash("sha256").update(blob).digest("base64").replace(/=+$/, "")}` };
    }
    default:
      return arn.includes(":aws:") && type.startsWith("aws:") ? { arn } : {};
  }
}

/** Wraps the outputs the resource declared secret, as the engine would. */
function markSecrets(state: State, secretNames: string[]): State {
  const out: State = { ...state };
  for (const key of secretNames) {
    if (key in out && out[key] !== undefined) out[key] = pulumi.secret(out[key]);
  }
  return out;
}

/**
 * A resource's id, the same for the same resource: a new one only where the cloud would make a
 * new resource, so the ids other resources take as `triggers` replace them exactly when the engine
 * would. An instance is another one on another machine (the address the test bed maps its name
 * to), image or subnet; a remote command or copy is made again when its triggers change.
 */
function fakeId(type: string, name: string, inputs: State, opts: MockOptions): string {
  if (type === "aws:ec2/instance:Instance") {
    return `i-${digest(name, opts.addresses[name] ?? "", String(inputs.ami ?? ""), String(inputs.subnetId ?? "")).slice(0, 17)}`;
  }
  if (inputs.triggers !== undefined) return `${name}-${digest(JSON.stringify(inputs.triggers)).slice(0, 8)}`;
  return `${name}-id`;
}

export class FleetMocks implements pulumi.runtime.Mocks {
  constructor(private readonly opts: MockOptions) {}

  newResource(args: pulumi.runtime.MockResourceArgs): { id: string | undefined; state: State } {
    const inputs = (args.inputs ?? {}) as State;
    const state = { ...inputs, ...fakeOutputs(args.type, args.name, inputs, this.opts), ...(this.opts.overrides[args.name] ?? {}) };
    const id = args.custom === false ? undefined : fakeId(args.type, args.name, inputs, this.opts);
    return { id, state: markSecrets(state, this.opts.secretOutputs.get(`${args.type}::${args.name}`) ?? []) };
  }

  call(args: pulumi.runtime.MockCallArgs): Record<string, unknown> {
    const region = this.opts.region;
    switch (args.token) {
      case "aws:index/getAvailabilityZones:getAvailabilityZones":
        return { names: ["a", "b", "c"].map((z) => `${region}${z}`), zoneIds: ["1", "2", "3"].map((z) => `euw1-az${z}`), id: region };
      case "aws:index/getRegion:getRegion":
        return { name: region, region, id: region, description: region };
      case "aws:index/getCallerIdentity:getCallerIdentity":
        return { accountId: "123456789012", arn: "arn:aws:iam::123456789012:user/offline-plan", userId: "OFFLINE", id: "123456789012" };
      case "aws:index/getPartition:getPartition":
        return { partition: "aws", dnsSuffix: "amazonaws.com", id: "aws" };
      case "aws:iam/getPolicyDocument:getPolicyDocument":
        return { json: JSON.stringify({ Version: "2012-10-17", Statement: args.inputs.statements ?? [] }), id: "policy" };
      default:
        return { ...(args.inputs as State) };
    }
  }
}
