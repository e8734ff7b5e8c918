// The bench's actions and readings on the test bed's nodes that the rollout itself has no use for:
// the Fabric-style baseline deploy, and which code each node's gunicorn serves.
import * as fs from "fs";
import * as path from "path";
import { scriptsVersion } from "../node/scripts";
import { scriptsDir } from "../rollout/layout";
import type { Cluster, ExecResult, NodeHandle } from "../testbed/cluster";
import { APP_IDENTITY, DOMAIN, get, PORT } from "../testbed/localStack";
import { sshRun } from "../testbed/sshClient";

/**
 * The old Fabric way (bench/naive-fabric-deploy.sh) to `tag`, on every app node at once as
 * `fab -P` did, with the scripts the rollout copied to the nodes: node name -> its run.
 */
export async function naiveFabricDeploy(cluster: Cluster, tag: string): Promise<Record<string, ExecResult>> {
  const script = fs.readFileSync(path.join(__dirname, "naive-fabric-deploy.sh"), "utf8");
  const scripts = scriptsDir(scriptsVersion());
  const runs = await Promise.all(
    cluster.appNodes.map((n) => sshRun(cluster, n, `sh -s -- ${scripts} ${APP_IDENTITY.osUser} ${tag}`, script)),
  );
  return Object.fromEntries(cluster.appNodes.map((n, i) => [n.name, runs[i]]));
}

/** The code each node's gunicorn serves, asked on the node's own port (the fixture's `code:`, the
 *  tag its code was built from; whatever answered instead when there is none): node name -> it. */
export async function codeServedOn(nodes: NodeHandle[]): Promise<Record<string, string>> {
  const answers = await Promise.all(nodes.map((n) => get(`http://${n.address}:${PORT}/`, DOMAIN)));
  return Object.fromEntries(nodes.map((n, i) => [n.name, /code: (\S+)</.exec(answers[i].body)?.[1] ?? `HTTP ${answers[i].status}`]));
}
