// The one recorder of what a Pulumi program registers under runtime mocks, used by the offline
// plan (offline/planWorker.ts) and by every test that runs components under mocks.
//
// Runtime mocks apply no resource transforms, so the only place that sees each resource's parent,
// dependencies (explicit and implied by Output inputs), options and serialized inputs is the mock
// monitor's registerResource: the recorder wraps it, and decodes the wire format of the inputs.
import { createHmac } from "crypto";
import * as pulumi from "@pulumi/pulumi";
import { SECRET_TEXT } from "./planTypes";

/** One registered resource, as the mock monitor received it. */
export interface Registration {
  urn: string;
  type: string;
  name: string;
  /** The parent's URN ("" for none). */
  parent: string;
  /** The provider reference ("urn::id"; "" for the default provider). */
  provider: string;
  protect: boolean;
  ignoreChanges: string[];
  /** URNs this resource depends on, each once, in the order the SDK listed them. */
  dependsOn: string[];
  /** The inputs in Pulumi's wire format: decode them with decodeWire. */
  wire: Record<string, unknown>;
}

/** The getters of @pulumi/pulumi's RegisterResourceRequest the recorder reads. */
interface RegisterRequest {
  getType(): string;
  getName(): string;
  getParent(): string;
  getProvider(): string;
  getProtect(): boolean;
  getIgnorechangesList(): string[];
  getDependenciesList(): string[];
  getAdditionalsecretoutputsList(): string[];
  getObject(): { toJavaScript(): unknown } | undefined;
}
type Callback = (err: unknown, resp?: { getUrn(): string }) => void;
interface Monitor {
  registerResource(req: RegisterRequest, cb: Callback): unknown;
}

/** Output names each resource declared secret, by "type::name": the mocks read it to mark them. */
export type SecretOutputs = Map<string, string[]>;

/** Where a resource's declared secret outputs are kept (FleetMocks reads this key). */
export const secretOutputsKey = (type: string, name: string) => `${type}::${name}`;

export class Recorder {
  private recorded: Registration[] = [];

  constructor(readonly secretOutputs: SecretOutputs) {}

  /** Every resource registered since the last drain, in registration order; starts a new list. */
  drain(): Registration[] {
    const out = this.recorded;
    this.recorded = [];
    return out;
  }

  /** Wraps the monitor that setMocks installed. */
  attach(monitor: Monitor): void {
    const register = monitor.registerResource.bind(monitor);
    monitor.registerResource = (request, cb) => {
      // Before registering: the mocks' newResource (called inside) marks these outputs secret.
      this.secretOutputs.set(secretOutputsKey(request.getType(), request.getName()), request.getAdditionalsecretoutputsList());
      return register(request, (err, resp) => {
        if (!err && resp) this.recorded.push(registration(request, resp.getUrn()));
        cb(err, resp);
      });
    };
  }
}

function registration(request: RegisterRequest, urn: string): Registration {
  return {
    urn,
    type: request.getType(),
    name: request.getName(),
    parent: request.getParent(),
    provider: request.getProvider(),
    protect: request.getProtect(),
    ignoreChanges: request.getIgnorechangesList(),
    dependsOn: [...new Set(request.getDependenciesList())],
    wire: (request.getObject()?.toJavaScript() ?? {}) as Record<string, unknown>,
  };
}

/**
 * Installs runtime mocks (made with the map of declared secret outputs they should honour) for a
 * project and stack, and returns the recorder of everything registered against them. Call it again
 * to start afresh: each call replaces the mock monitor.
 */
export function recordUnderMocks(
  makeMocks: (secretOutputs: SecretOutputs) => pulumi.runtime.Mocks,
  project: string,
  stack: string,
): Recorder {
  const recorder = new Recorder(new Map());
  pulumi.runtime.setMocks(makeMocks(recorder.secretOutputs), project, stack, false);
  const monitor = pulumi.runtime.getMonitor() as unknown as Monitor | undefined;
  if (!monitor) throw new Error("setMocks installed no monitor");
  recorder.attach(monitor);
  return recorder;
}

// Pulumi's SDK offers no public way to wait until every registration has reached the monitor.
// waitForRPCs (marked @internal, exported on pulumi.runtime at run time; the SDK's own disconnect()
// awaits it) is that wait; typed here, in this one place, instead of importing the private
// @pulumi/pulumi/runtime/settings module.
const runtimeInternals = pulumi.runtime as unknown as { waitForRPCs?: () => Promise<void> };

/** Resolves once every resource and call the program started has reached the mock monitor. */
export async function settle(): Promise<void> {
  const wait = runtimeInternals.waitForRPCs;
  if (typeof wait !== "function")
    throw new Error("@pulumi/pulumi no longer exports runtime.waitForRPCs: offline/recorder.ts needs another way to wait");
  await wait();
  await new Promise((r) => setImmediate(r));
  await wait();
}

/**
 * How a decoded value shows a secret: as SECRET_TEXT (false), as itself (true), or as a keyed
 * fingerprint of it (a function): equal secrets give equal text, so two plans compare through
 * the mask, and nothing of the secret is written anywhere.
 */
export type SecretView = boolean | ((secret: unknown) => string);

/** A SecretView that shows each secret as "[secret HMAC]" under a key only this run knows. */
export function fingerprintSecrets(key: string): (secret: unknown) => string {
  return (secret) =>
    `${SECRET_TEXT.slice(0, -1)} ${createHmac("sha256", key)
      .update(JSON.stringify(decodeWire(secret, true)))
      .digest("hex")}]`;
}

/**
 * Wire-format values as plain JSON: object keys sorted, references as their URNs, unknowns as
 * "[unknown]", secrets as SECRET_TEXT, their values (reveal) or their fingerprints. The dotted
 * path of every secret goes into `secretPaths` when given.
 */
export function decodeWire(v: unknown, reveal: SecretView, secretPaths?: string[], at = ""): unknown {
  if (Array.isArray(v)) return v.map((x, i) => decodeWire(x, reveal, secretPaths, `${at}[${i}]`));
  if (v === pulumi.runtime.unknownValue) return "[unknown]";
  if (v === null || typeof v !== "object") return v;
  const o = v as Record<string, unknown>;
  if (o[pulumi.runtime.specialSigKey] === pulumi.runtime.specialSecretSig) {
    secretPaths?.push(at);
    if (typeof reveal === "function") return reveal(o.value);
    return reveal ? decodeWire(o.value, reveal, undefined, at) : SECRET_TEXT;
  }
  if (o[pulumi.runtime.specialSigKey] === pulumi.runtime.specialResourceSig) return o.urn;
  return Object.fromEntries(
    Object.keys(o)
      .sort()
      .map((k) => [k, decodeWire(o[k], reveal, secretPaths, at ? `${at}.${k}` : k)]),
  );
}

/** A wire value with the secret wrapped around it (if any) taken off. */
export function unwrapSecret(v: unknown): unknown {
  const o = v as Record<string, unknown> | undefined;
  return o && typeof o === "object" && o[pulumi.runtime.specialSigKey] === pulumi.runtime.specialSecretSig ? o.value : v;
}
