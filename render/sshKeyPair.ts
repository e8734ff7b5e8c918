// A real ed25519 key pair from a seed, in the formats tls.PrivateKey outputs. Pure.
//  - Each app's key (its GitHub deploy key, which also publishes its static files) is derived
//    from the stack's one secret seed (components/app/appKeys.ts): one resource for the stack instead of a
//    key resource per app, and the same app always gets the same key while the seed stays.
//  - The offline plan answers a tls.PrivateKey with the pair of a seed made from its name, so a
//    plan's keys work where they are used for real (the test bed) and two runs print the same
//    text. Never a key for a real stack: that seed is the name.
import { createPrivateKey, createPublicKey, hkdfSync } from "crypto";

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
  let secret = Buffer.concat([
    check,
    check,
    sshString("ssh-ed25519"),
    sshString(publicBytes),
    sshString(Buffer.concat([seed, publicBytes])),
    sshString(comment),
  ]);
  const pad = (8 - (secret.length % 8)) % 8;
  secret = Buffer.concat([secret, Buffer.from(Array.from({ length: pad }, (_, i) => i + 1))]);
  const body = Buffer.concat([
    Buffer.from("openssh-key-v1\0"),
    sshString("none"),
    sshString("none"),
    sshString(""),
    uint32(1),
    sshString(publicBlob),
    sshString(secret),
  ]);
  const wrapped = body
    .toString("base64")
    .replace(/(.{70})/g, "$1\n")
    .replace(/\n$/, "");
  return {
    privateKeyOpenssh: `-----BEGIN OPENSSH PRIVATE KEY-----\n${wrapped}\n-----END OPENSSH PRIVATE KEY-----\n`,
    privateKeyPem: privateKey.export({ format: "pem", type: "pkcs8" }).toString(),
    publicKeyOpenssh: `ssh-ed25519 ${publicBlob.toString("base64")}${comment ? ` ${comment}` : ""}\n`,
  };
}

/** What tells one app's key from another's in the derivation (HKDF's info); "v1" names the scheme. */
const APP_KEY_INFO = "fleet app key v1:";

/** The key pair of `app` from the stack's 32-byte seed: HKDF-SHA256 (RFC 5869), so no app's key
 *  tells anything about the seed or another app's key. */
export function appKeyPair(seed: Buffer, app: string): SshKeyPair {
  if (seed.length !== 32) throw new Error("appKeyPair: the stack's key seed must be 32 bytes");
  return ed25519KeyPair(Buffer.from(hkdfSync("sha256", seed, Buffer.alloc(0), `${APP_KEY_INFO}${app}`, 32)), `fleet-${app}`);
}
