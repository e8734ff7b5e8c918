// Each app's key from the stack's one seed (components/app/appKeys.ts, render/sshKeyPair.ts): a real
// ed25519 key that OpenSSH reads, the same for the same seed and app, another for another app,
// its private half a secret and its public half not. Runtime mocks (the seed) and ssh-keygen.
import { strict as assert } from "assert";
import { execFileSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import * as pulumi from "@pulumi/pulumi";
import { AppKeys } from "../../components/app/appKeys";
import { appKeyPair } from "../../render/sshKeyPair";
import { installMocks, recordBuild, valueOf } from "../helpers/infraHarness";

/** The public line OpenSSH derives from a private key file. */
function publicOf(privateKey: string): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "fleet-key-"));
  try {
    const file = path.join(dir, "key");
    fs.writeFileSync(file, privateKey, { mode: 0o600 });
    return execFileSync("ssh-keygen", ["-y", "-f", file], { encoding: "utf8" }).trim();
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

describe("each app's key from the stack seed", () => {
  const seed = Buffer.alloc(32, 7);

  it("is an ed25519 key OpenSSH reads, with the public line it derives", () => {
    const pair = appKeyPair(seed, "polls");
    const [type, blob, comment] = pair.publicKeyOpenssh.trim().split(" ");
    assert.equal(type, "ssh-ed25519");
    assert.equal(comment, "fleet-polls");
    assert.equal(publicOf(pair.privateKeyOpenssh).split(" ").slice(0, 2).join(" "), `${type} ${blob}`);
  });

  it("the same seed and app give the same key; another app or seed another key", () => {
    const key = (s: Buffer, app: string) => appKeyPair(s, app).publicKeyOpenssh;
    assert.equal(key(seed, "polls"), key(Buffer.alloc(32, 7), "polls"));
    assert.notEqual(key(seed, "polls").split(" ")[1], key(seed, "room-booking").split(" ")[1]);
    assert.notEqual(key(seed, "polls").split(" ")[1], key(Buffer.alloc(32, 8), "polls").split(" ")[1]);
    assert.throws(() => appKeyPair(Buffer.alloc(16), "polls"), /must be 32 bytes/);
  });

  it("one seed resource for every app: the private half is a secret, the public half is not", async () => {
    installMocks();
    const { value: keys, resources } = await recordBuild(() => {
      const k = new AppKeys("app-key-seed");
      return { k, polls: k.of("polls"), again: k.of("polls"), wiki: k.of("wiki") };
    });
    assert.deepEqual(
      resources.map((r) => [r.type, r.name]),
      [["random:index/randomBytes:RandomBytes", "app-key-seed"]],
    );
    assert.equal(keys.polls, keys.again);
    assert.equal(await pulumi.isSecret(keys.polls.privateKey), true);
    assert.equal(await pulumi.isSecret(keys.polls.publicKey), false);
    const [privateKey, publicKey, wiki] = await Promise.all([
      valueOf(keys.polls.privateKey),
      valueOf(keys.polls.publicKey),
      valueOf(keys.wiki.publicKey),
    ]);
    assert.equal(publicOf(privateKey).split(" ").slice(0, 2).join(" "), publicKey.split(" ").slice(0, 2).join(" "));
    assert.notEqual(publicKey, wiki);
  });
});
