/**
 * A real S3 API on the test bed: s3rver (an S3-compatible server over HTTP, objects on disk),
 * listening on the cluster's bridge address, which every node reaches. Apps reach it through
 * AWS_S3_ENDPOINT_URL with s3rver's one key pair (S3RVER / S3RVER); requests are signed and
 * checked as S3 would.
 */
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import type { Readable } from "node:stream";
// s3rver ships no types; only run(), close() and its store's getObject are used.
// eslint-disable-next-line @typescript-eslint/no-require-imports
const S3rver = require("s3rver") as new (opts: Record<string, unknown>) => S3rverInstance;

interface S3rverInstance {
  run(): Promise<{ address: string; port: number }>;
  close(): Promise<void>;
  store: { getObject(bucket: string, key: string): Promise<{ content?: Readable } | null> };
}

export const S3_ACCESS_KEY = "S3RVER";
export const S3_SECRET_KEY = "S3RVER";

export class S3Server {
  private constructor(
    private readonly server: S3rverInstance,
    private readonly dir: string,
    readonly endpoint: string,
  ) {}

  /** Starts on `address` (a free port) with `buckets` made. */
  static async start(address: string, buckets: string[]): Promise<S3Server> {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "fleet-s3-"));
    const server = new S3rver({
      address,
      port: 0,
      silent: true,
      directory: dir,
      vhostBuckets: false,
      configureBuckets: buckets.map((name) => ({ name })),
    });
    const bound = await server.run();
    return new S3Server(server, dir, `http://${address}:${bound.port}`);
  }

  /** The object's bytes, or undefined when the bucket has no such key. */
  async object(bucket: string, key: string): Promise<Buffer | undefined> {
    const found = await this.server.store.getObject(bucket, key);
    if (!found?.content) return undefined;
    const chunks: Buffer[] = [];
    for await (const chunk of found.content) chunks.push(Buffer.from(chunk as Buffer));
    return Buffer.concat(chunks);
  }

  async stop(): Promise<void> {
    await this.server.close().catch(() => undefined);
    fs.rmSync(this.dir, { recursive: true, force: true });
  }
}
