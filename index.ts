// The fleet: one Pulumi program for every Django app of every stack.
//
// Thin wiring only: the catalog (apps.yaml) says which app runs which tag on this stack, the
// stack config says how big things are, and the components (components/infra/, app/) map that onto AWS.
import * as pulumi from "@pulumi/pulumi";
import { AppDeployment } from "./components/app/appDeployment";
import { HostScripts } from "./components/app/hostScripts";
import { AppKeys } from "./components/app/appKeys";
import { organizationRulesets } from "./components/app/appRepository";
import { AppForStack, LATEST } from "./config/catalog";
import { defaultGitUrlTemplate } from "./config/deployConfig";
import { GithubClient, GithubError } from "./github/api";
import { resolveTags } from "./github/resolveTags";
import { loadSettings } from "./config/load";
import { buildInfrastructure, infrastructureOutputs, publishSites } from "./components/infra/buildInfrastructure";
import { RolloutError, siteUrl } from "./rollout/plan";
import { checkCapacity } from "./rollout/capacity";

// Both files checked at once and every setting resolved (config/load.ts): every problem is one
// line, before anything is declared.
const fleet = loadSettings(__dirname);
const { stack, apps, github, infra: stackConfig } = fleet;
/** The rollout's settings: fleet:deploy over the defaults; by default the nodes clone from the
 *  GitHub (Enterprise) host the API lives on. */
const settings = fleet.deploy;

/** The program's own errors are worded for people: RunError makes Pulumi print them without a stack trace. */
function runError(err: unknown): never {
  throw err instanceof GithubError || err instanceof RolloutError ? new pulumi.RunError(err.message) : err;
}

/** HTTPS per app from fleet:tls: the EdgeHost puts the keys only into a secret input, and the
 *  certificates (public) into the readable nginx step. */
const certificates = fleet.certificates;

/** Every app runs on every node: their workers must fit in one node's memory (rollout/capacity.ts). */
function checkNodeCapacity(): void {
  const result = checkCapacity({
    apps,
    settings,
    instanceType: stackConfig.nodes.instanceType,
    stackFile: fleet.stackFile,
    appsFile: fleet.appsFile,
  });
  for (const warning of result.warnings) void pulumi.log.warn(warning);
  if (result.error !== undefined) throw new pulumi.RunError(result.error);
}
checkNodeCapacity();
const https = (app: string) => app in certificates;

/** Per app on this stack: the tag it is pinned to (or "latest") and where it answers: https:// for
 *  an app with a certificate in fleet:tls, http:// for the others. */
export const appReleases = Object.fromEntries(
  apps.map((a) => [a.name, { tag: a.tag, repo: a.repo, url: `${siteUrl(a.domain, https(a.name))}/` }]),
);

/** Each app's key: its GitHub deploy key, which also publishes its static files (components/app/appKeys.ts). */
const appKeys = new AppKeys("app-key-seed");
const infra = buildInfrastructure(stackConfig, apps, (app) => appKeys.of(app).publicKey);
/** One client for the GitHub API (github.com, or the Enterprise instance of fleet:github.apiUrl). */
const githubApi = new GithubClient({ baseUrl: github.apiUrl });
const githubOnline = fleet.githubOnline;

/**
 * known_hosts lines for the host the nodes clone from, from the keys GitHub publishes: the first
 * clone then checks the host key instead of trusting whatever answers. Only for the default clone
 * URL (an explicit gitUrlTemplate may name another host), and not offline.
 */
const cloneHostKeys: Promise<string[]> =
  settings.gitUrlTemplate === defaultGitUrlTemplate(github.cloneHost) && githubOnline
    ? githubApi.sshKnownHosts(github.cloneHost).catch(runError)
    : Promise.resolve([]);

/** What the stage part of an install step reads on stdin: the deploy key, then the clone host's known_hosts lines. */
function gitAccess(privateKey: pulumi.Output<string>): pulumi.Output<string> {
  return pulumi.secret(
    pulumi.all([privateKey, cloneHostKeys]).apply(([key, hosts]) => `${key.trimEnd()}\n${hosts.map((h) => `${h}\n`).join("")}`),
  );
}

// fleet:github.rulesets: organization: the guardrails once per owner, for every app of the stack.
organizationRulesets(stack, apps, github);

/** The values of an app's `secrets`: `fleet:appSecrets` maps app -> NAME -> secure value (the stack
 *  file reader has checked that each app of this stack has every one it lists). */
const appSecrets: pulumi.Output<Record<string, Record<string, string>>> = pulumi.secret(fleet.appSecrets);

/** The rollout's scripts, once on every host (app nodes and the nginx host), shared by every app. */
const hostScripts = [...infra.appNodes.nodes, ...infra.edge.machines].map((h) => new HostScripts(h, settings.sshUser));

function deploy(app: AppForStack): AppDeployment {
  return new AppDeployment(app.name, {
    app,
    nodes: infra.appNodes.nodes,
    edgeHosts: infra.edge.machines,
    scripts: hostScripts,
    database: {
      engine: infra.database.engine,
      address: infra.database.address,
      port: infra.database.port,
      masterUsername: infra.database.masterUsername,
      masterPassword: infra.database.masterPassword,
    },
    secrets: Object.fromEntries(app.secrets.map((n) => [n, appSecrets.apply((all) => all[app.name][n])])),
    repository: { repo: app.repo, stack, github, publicKey: appKeys.of(app.name).publicKey },
    deployKey: gitAccess(appKeys.of(app.name).privateKey),
    publishKey: appKeys.of(app.name).privateKey,
    // Every nginx host lets the app's key in before it publishes (the sites follow the switches).
    publishReady: infra.edge.publishAccess,
    https: https(app.name),
    media: { bucket: infra.storage.buckets[app.name], region: infra.storage.mediaRegion },
    settings,
  });
}

// `latest` becomes the newest release tag on GitHub before anything is deployed. The offline
// plan asks GitHub nothing (FLEET_GITHUB_OFFLINE=1): there such an app is shown, not deployed.
const rollout = resolveTags(apps, stack, {
  prerelease: github.prereleases,
  releaseTagPattern: fleet.tagRules.pattern,
  client: githubApi,
  offline: !githubOnline,
})
  .catch(runError)
  .then((resolved) => {
    const deployable = resolved.apps.filter((a) => {
      if (a.tag !== LATEST) return true;
      void pulumi.log.warn(`${a.name}: tag "latest" is resolved only against GitHub (offline here): not deployed by this run`);
      return false;
    });
    const deployments = deployable.map((a) => [a.name, deploy(a)] as const);
    // The sites follow what serves: each app's upstream lists the nodes its switch steps passed
    // on; an app not deployed by this run (offline `latest`) serves nowhere, so it has no site.
    // A host (a replaced one, say) takes the balancer's traffic once every app's files are on it.
    const published = deployments.map(([, d]) => d.published);
    publishSites(
      infra,
      apps,
      Object.fromEntries(deployments.map(([name, d]) => [name, d.servingAddresses])),
      certificates,
      () => published,
    );
    return { latest: resolved.latest, deployments };
  });

export const infrastructure = infrastructureOutputs(infra);
/** What `latest` meant on this run, per app that asked for it (the audit trail of a moving tag). */
export const latestTags = rollout.then((r) => r.latest);
/** Per app: the tag and commit now serving on every node (the audit trail beside Pulumi's history). */
export const serving = rollout.then((r) => Object.fromEntries(r.deployments.map(([name, d]) => [name, { tag: d.tag, commit: d.commit }])));
/** Per app: the public half of its deploy key on this stack, and whether this stack manages the repository. */
export const repositories = rollout.then((r) =>
  Object.fromEntries(
    r.deployments.map(([name, d]) => [
      name,
      { cloneUrl: d.repository.cloneUrl, deployKey: appKeys.of(name).publicKey, managed: d.repository.managed },
    ]),
  ),
);
