// The policy pack as the Pulumi engine runs it: policy/index.ts started as its own process
// (it serves the analyzer gRPC protocol and prints its port, as under `pulumi preview
// --policy-pack policy`), then asked for its policies and to analyze resources.
import { strict as assert } from "assert";
import { ChildProcess, spawn } from "child_process";
import * as path from "path";
import * as grpc from "@grpc/grpc-js";
import { Empty } from "google-protobuf/google/protobuf/empty_pb";
import { Struct } from "google-protobuf/google/protobuf/struct_pb";
import { AnalyzerClient } from "@pulumi/pulumi/proto/analyzer_grpc_pb";
import {
  AnalyzeRequest,
  AnalyzeResponse,
  AnalyzerInfo,
  AnalyzerResource,
  AnalyzerResourceOptions,
  AnalyzeStackRequest,
} from "@pulumi/pulumi/proto/analyzer_pb";
import { fleetTags } from "../../components/infra/awsTags";
import { RULE_NAMES, T } from "../../policy/rules";

const POLICY_DIR = path.resolve(__dirname, "../../policy");

const urn = (stack: string, type: string, name: string) => `urn:pulumi:${stack}::fleet::${type}::${name}`;

function call<Req, Res>(fn: (req: Req, cb: (err: grpc.ServiceError | null, res: Res) => void) => unknown, req: Req): Promise<Res> {
  return new Promise((resolve, reject) => fn(req, (err, res) => (err ? reject(err) : resolve(res))));
}

/** Policy name and message of each diagnostic. */
const diagnostics = (res: AnalyzeResponse) => res.getDiagnosticsList().map((d) => [d.getPolicyname(), d.getMessage().split("\n").pop()]);

function analyzeRequest(stack: string, type: string, name: string, props: Record<string, unknown>): AnalyzeRequest {
  const req = new AnalyzeRequest();
  req.setType(type);
  req.setName(name);
  req.setUrn(urn(stack, type, name));
  req.setProperties(Struct.fromJavaScript(props as Parameters<typeof Struct.fromJavaScript>[0]));
  req.setOptions(new AnalyzerResourceOptions());
  return req;
}

describe("policy pack served to the engine (policy/index.ts over gRPC)", function () {
  this.timeout(60000);
  let pack: ChildProcess;
  let client: AnalyzerClient;

  before(async () => {
    // cwd = the pack's folder, as the engine runs it (the pack reads its version from package.json there).
    pack = spawn(process.execPath, ["-r", "ts-node/register/transpile-only", "index.ts"], {
      cwd: POLICY_DIR,
      stdio: ["ignore", "pipe", "pipe"],
    });
    const port = await new Promise<string>((resolve, reject) => {
      pack.stdout?.once("data", (d) => resolve(String(d).trim()));
      pack.once("exit", (code) => reject(new Error(`policy pack exited with ${code}`)));
    });
    assert.match(port, /^\d+$/);
    client = new AnalyzerClient(`127.0.0.1:${port}`, grpc.credentials.createInsecure());
  });

  after(() => {
    client?.close();
    pack?.kill();
  });

  it("announces every rule, each mandatory", async () => {
    const info = await call<Empty, AnalyzerInfo>(client.getAnalyzerInfo.bind(client), new Empty());
    assert.equal(info.getName(), "fleet-security");
    const policies = info.getPoliciesList();
    assert.deepEqual(policies.map((p) => p.getName()).sort(), [...RULE_NAMES].sort());
    // EnforcementLevel.MANDATORY
    assert.ok(policies.every((p) => p.getEnforcementlevel() === 1));
  });

  it("reports world-open SSH under both network rules, using the stack file's adminCidrs", async () => {
    const props = {
      ipProtocol: "tcp",
      fromPort: 22,
      toPort: 22,
      cidrIpv4: "0.0.0.0/0",
      securityGroupId: "sg-1",
      tags: fleetTags("production", "ssh", { role: "static-host" }),
    };
    const res = await call<AnalyzeRequest, AnalyzeResponse>(
      client.analyze.bind(client),
      analyzeRequest("production", T.ingressRule, "static-host-in-ssh-anywhere", props),
    );
    assert.deepEqual(diagnostics(res).sort(), [
      ["no-world-open-ingress", "ingress tcp 22-22 is open to the internet"],
      ["ssh-only-from-admin-cidrs", "SSH allowed from 0.0.0.0/0, which is not in adminCidrs (192.0.2.0/24)"],
    ]);
  });

  it("passes a compliant resource", async () => {
    const props = {
      ipProtocol: "tcp",
      fromPort: 443,
      toPort: 443,
      cidrIpv4: "0.0.0.0/0",
      securityGroupId: "sg-1",
      tags: fleetTags("production", "https", { role: "static-host" }),
    };
    const res = await call<AnalyzeRequest, AnalyzeResponse>(
      client.analyze.bind(client),
      analyzeRequest("production", T.ingressRule, "static-host-in-https", props),
    );
    assert.deepEqual(diagnostics(res), []);
  });

  it("checks a bucket against its settings in a stack analysis", async () => {
    const resource = (type: string, name: string, props: Record<string, unknown>, dependencies: string[] = []) => {
      const r = new AnalyzerResource();
      r.setType(type);
      r.setName(name);
      r.setUrn(urn("alpha", type, name));
      r.setProperties(Struct.fromJavaScript(props as Parameters<typeof Struct.fromJavaScript>[0]));
      r.setOptions(new AnalyzerResourceOptions());
      r.setDependenciesList(dependencies);
      return r;
    };
    const bucket = resource(T.bucket, "media-blog", { bucket: "uni-fleet-alpha-blog", tags: fleetTags("alpha", "media-blog") });
    const versioning = resource(
      T.versioning,
      "media-blog-versioning",
      { bucket: "media-blog-id", versioningConfiguration: { status: "Enabled" } },
      [bucket.getUrn()],
    );
    const req = new AnalyzeStackRequest();
    req.setResourcesList([bucket, versioning]);
    const res = await call<AnalyzeStackRequest, AnalyzeResponse>(client.analyzeStack.bind(client), req);
    // No encryption configuration is fine (S3 applies SSE-S3 to every bucket); no public access block, no TLS-only policy are not.
    assert.deepEqual(
      diagnostics(res)
        .map(([policy]) => policy)
        .sort(),
      ["s3-public-access-blocked", "s3-tls-only"],
    );
    assert.ok(res.getDiagnosticsList().every((d) => d.getUrn() === bucket.getUrn()));
  });
});
