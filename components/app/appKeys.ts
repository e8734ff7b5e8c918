// Each app's SSH key on this stack, derived from one secret seed (render/sshKeyPair.ts appKeyPair).
//
// One key per app does two things, both only for that app: its public half is the read-only
// deploy key of the app's GitHub repository (the nodes clone the release tags with it), and the
// nginx hosts let it write the app's static files (render/publishAccess.ts), nothing else. Every
// node already holds it for the clone, and root on a node already serves the app's pages, so one
// key gives a node no more than the two did.
//
// Why a seed and not a tls.PrivateKey per app: at 200 apps that is 200 resources, each a state
// entry and a step of every `pulumi up`; the seed is one (issue 11). The seed is a Pulumi secret
// like the private keys were, so who can read the state could read the keys either way.
// Rotation: `pulumi up --replace <the seed's URN>` gives every app a new key (the deploy keys and
// the publish access follow in the same update); docs/github.md.
import * as pulumi from "@pulumi/pulumi";
import * as random from "@pulumi/random";
import { appKeyPair } from "../../render/sshKeyPair";

export interface AppKey {
  /** OpenSSH private key: a secret. */
  privateKey: pulumi.Output<string>;
  /** One OpenSSH public key line (`ssh-ed25519 AAAA... fleet-<app>`): not secret. */
  publicKey: pulumi.Output<string>;
}

export class AppKeys {
  private readonly seed: random.RandomBytes;
  private readonly keys = new Map<string, AppKey>();

  constructor(name: string, opts?: pulumi.CustomResourceOptions) {
    this.seed = new random.RandomBytes(name, { length: 32 }, opts);
  }

  /** The app's key (the same object for the same app). */
  of(app: string): AppKey {
    let key = this.keys.get(app);
    if (!key) {
      const pair = this.seed.base64.apply((seed) => appKeyPair(Buffer.from(seed, "base64"), app));
      key = {
        privateKey: pulumi.secret(pair.privateKeyOpenssh),
        // The public half tells nothing of the seed: a plan and the stack outputs show it.
        publicKey: pulumi.unsecret(pair.publicKeyOpenssh.apply((k) => k.trim())),
      };
      this.keys.set(app, key);
    }
    return key;
  }
}
