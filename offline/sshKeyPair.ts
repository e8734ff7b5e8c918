// A real ed25519 key pair from a seed, in the formats tls.PrivateKey outputs: the offline plan
// answers a key resource with one, so a plan's keys work where they are used for real (the test
// bed: a publish key's private half logs in where its public half is authorised) and two runs
// of the plan still print the same text. Never a key for a real stack: the seed is the name.
import { createPrivateKey, createPublicKey } from "crypto";

export interface SshKeyPair {
  privateKeyOpenssh: string;
  privateKeyPem: string;
  publicKeyOpenssh: string;
}

/** PKCS#8 DER of an ed25519 private key: this prefix, then the 32-byte seed (RFC 8410). */
const PKCS8_ED25519_PREFIX = Buffer.from("302e020100300506032b657004220420", "hex");

/** An SSH wire-format string: uint32 length, then the bytes. */
function sshString(data: Buffer | string): Buffer {
  const bytes = Buffer.isBuffer(data) ? data : Buffer.from(data);
  const length = Buffer.alloc(4);
  length.writeUInt32BE(bytes.length);
  return Buffer.concat([length, bytes]);
}

function uint32(n: number): Buffer {
  const b = Buffer.alloc(4);
  b.writeUInt32BE(n >>> 0);
  return b;
}

/** The key pair of a 32-byte seed; `comment` ends the public line, as tls.PrivateKey's has none. */
export function ed25519KeyPair(seed: Buffer, comment = ""): SshKeyPair {
  if (seed.length !== 32) throw new Error("ed25519KeyPair: the seed must be 32 bytes");
  const privateKey = createPrivateKey({ key: Buffer.concat([PKCS8_ED25519_PREFIX, seed]), format: "der", type: "pkcs8" });
  const spki = createPublicKey(privateKey).export({ format: "der", type: "spki" });
  const publicBytes = spki.subarray(spki.length - 32);
  const publicBlob = Buffer.concat([sshString("ssh-ed25519"), sshString(publicBytes)]);
  // openssh-key-v1, unencrypted (PROTOCOL.key in OpenSSH's source).
  const check = uint32(seed.readUInt32BE(0));
  let secret = Buffer.concat([check, check, sshString("ssh-ed25519"), sshString(publicBytes), sshString(Buffer.concat([seed, publicBytes])), sshString(comment)]);
  const pad = (8 - (secret.length % 8)) % 8;
  secret = Buffer.concat([secret, Buffer.from(Array.from({ length: pad }, (_, i) => i + 1))]);
  const body = Buffer.concat([Buffer.from("openssh-key-v1\0"), sshString("none"), sshString("none"), sshString(""), uint32(1), sshString(publicBlob), sshString(secret)]);
  const wrapped = body.toString("base64").replace(/(.{70})/g, "$1\n").replace(/\n$/, "");
  return {
    privateKeyOpenssh: `-----BEGIN OPENSSH PRIVATE KEY-----\n${wrapped}\n-----END OPENSSH PRIVATE KEY-----\n`,
    privateKeyPem: privateKey.export({ format: "pem", type: "pkcs8" }).toString(),
    publicKeyOpenssh: `ssh-ed25519 ${publicBlob.toString("base64")}${comment ? ` ${comment}` : ""}\n`,
  };
}
