// The fleet: one Pulumi program for every Django app of every stack.
//
// Thin wiring only: the catalog (apps.yaml) says which app runs which tag on this stack, the
// stack config says how big things are, and the components (infra/, app/) map that onto AWS.
import * as path from "path";
import * as pulumi from "@pulumi/pulumi";
import { AppDeployment } from "./app/appDeployment";
import { AppRepository, sshHost } from "./app/appRepository";
import { AppForStack, appsForStack, LATEST, loadCatalogFile } from "./config/catalog";
import { GithubClient, GithubError } from "./github/api";
import { resolveTags } from "./github/resolveTags";
import { GithubConfig, loadGithubConfig } from "./config/githubConfig";
import { buildInfrastructure, infrastructureOutputs } from "./infra/buildInfrastructure";
import { DeploySettings, parseDeploySettings, RolloutError, siteUrl } from "./rollout/plan";
import { catalogStack, deployTag, loadStackConfig, readStackFile } from "./config/stackConfig";
import { knownStacks } from "./config/stackFiles";
import { parseTlsConfig, TLS_CONFIG_KEY, TlsFiles } from "./config/tlsConfig";

const config = new pulumi.Config();
const stack = pulumi.getStack();
const stackConfig = loadStackConfig(__dirname);
const github = recoveryLeavesRepositoriesAlone(loadGithubConfig(__dirname));
/** Where the nodes clone from by default: github.com, or the Enterprise instance the API lives on. */
const cloneHost = sshHost(github.apiUrl);
const DEFAULT_GIT_URL_TEMPLATE = `git@${cloneHost}:{repo}.git`;

/** The program's own errors are worded for people: RunError makes Pulumi print them without a stack trace. */
function runError(err: unknown): never {
  throw err instanceof GithubError || err instanceof RolloutError ? new pulumi.RunError(err.message) : err;
}

/**
 * A recovery stack is made with --copy-config-from the stack it replaces, so it inherits
 * manageRepositories: true. Two stacks managing the same branches and rules would fight (and
 * creating branches that exist fails), so the repository settings stay with the old stack's state
 * until someone moves them on purpose (docs/github.md). Deploy keys are per stack and still made.
 */
function recoveryLeavesRepositoriesAlone(cfg: GithubConfig): GithubConfig {
  if (!stackConfig.recovery || !cfg.manageRepositories) return cfg;
  void pulumi.log.warn(`fleet:github.manageRepositories is ignored on a recovery stack (it replaces ${stackConfig.recovery.replaces}): branches, protection and tag rules stay as they are`);
  return { ...cfg, manageRepositories: false };
}

/** The apps this stack runs: its own tags, or (a recovery stack) those of the stack it replaces. */
function loadApps(): AppForStack[] {
  const file = config.get("appsFile") ?? "apps.yaml";
  const full = path.resolve(__dirname, file);
  // Messages name the file as a person would: relative inside the project, absolute outside it.
  const shown = full.startsWith(__dirname + path.sep) ? path.relative(__dirname, full) : full;
  const { catalog, errors } = loadCatalogFile(shown, { knownStacks: knownStacks(__dirname) });
  // RunError: Pulumi prints the message alone, without a stack trace.
  if (!catalog) throw new pulumi.RunError(errors.join("\n"));
  return appsForStack(catalog, catalogStack(stackConfig)).map((a) => ({ ...a, tag: deployTag(stackConfig, a.tag) }));
}

function deploySettings(): DeploySettings {
  const raw = config.getObject<{ gitUrlTemplate?: unknown }>("deploy");
  try {
    const settings = parseDeploySettings(raw, `Pulumi.${stack}.yaml`);
    // GitHub Enterprise: the nodes clone from the instance the API lives on, unless told otherwise.
    if (raw?.gitUrlTemplate === undefined) settings.gitUrlTemplate = DEFAULT_GIT_URL_TEMPLATE;
    return settings;
  } catch (err) {
    return runError(err);
  }
}

/**
 * HTTPS per app from fleet:tls (config/tlsConfig.ts). Read synchronously, so a wrong certificate
 * stops the program before any resource is declared; the EdgeHost puts the keys only into a
 * secret input, and the certificates (public) into the readable nginx step.
 */
function loadCertificates(): Record<string, TlsFiles> {
  const result = parseTlsConfig(config.getObject<unknown>(TLS_CONFIG_KEY), {
    apps, stack, now: new Date(), ...readStackFile(__dirname, stack),
  });
  if (result.error !== undefined) throw new pulumi.RunError(result.error);
  for (const warning of result.warnings) void pulumi.log.warn(warning);
  return result.certificates;
}

const apps = loadApps();
const settings = deploySettings();
const certificates = loadCertificates();
const https = (app: string) => app in certificates;

/** Per app on this stack: the tag it is pinned to (or "latest") and where it answers: https:// for
 *  an app with a certificate in fleet:tls, http:// for the others. */
export const appReleases = Object.fromEntries(apps.map((a) => [a.name, { tag: a.tag, repo: a.repo, url: `${siteUrl(a.domain, https(a.name))}/` }]));

const infra = buildInfrastructure(stackConfig, apps, certificates);
/** One client for the GitHub API (github.com, or the Enterprise instance of fleet:github.apiUrl). */
const githubApi = new GithubClient({ baseUrl: github.apiUrl });
/** Whether the program asks GitHub anything on this run: not in the offline plan. */
const githubOnline = process.env.FLEET_GITHUB_OFFLINE !== "1";

/**
 * known_hosts lines for the host the nodes clone from, from the keys GitHub publishes: the first
 * clone then checks the host key instead of trusting whatever answers. Only for the default clone
 * URL (an explicit gitUrlTemplate may name another host), and not offline.
 */
const cloneHostKeys: Promise<string[]> =
  settings.gitUrlTemplate === DEFAULT_GIT_URL_TEMPLATE && githubOnline
    ? githubApi.sshKnownHosts(cloneHost).catch(runError)
    : Promise.resolve([]);

/** What a stage step reads on stdin: the deploy key, then the clone host's known_hosts lines. */
function gitAccess(privateKey: pulumi.Output<string>): pulumi.Output<string> {
  return pulumi.secret(pulumi.all([privateKey, cloneHostKeys]).apply(([key, hosts]) => `${key.trimEnd()}\n${hosts.map((h) => `${h}\n`).join("")}`));
}

const appRepositories = new Map(apps.map((a) => [a.name, new AppRepository(a.name, { app: a.name, repo: a.repo, stack, github })]));

/** The values of an app's `secrets`: `fleet:appSecrets` maps app -> NAME -> secure value. */
const appSecrets = config.getSecretObject<Record<string, Record<string, string>>>("appSecrets");

function missingSecret(app: string, name: string): never {
  throw new pulumi.RunError(`${app}: secret ${name} has no value: set fleet:appSecrets.${app}.${name} (pulumi config set --secret --path 'fleet:appSecrets.${app}.${name}' VALUE)`);
}

function deploy(app: AppForStack): AppDeployment {
  return new AppDeployment(app.name, {
    app,
    nodes: infra.appNodes.nodes,
    staticHost: infra.staticHost.host,
    database: {
      engine: infra.database.engine,
      address: infra.database.address,
      port: infra.database.port,
      masterUsername: infra.database.masterUsername,
      masterPassword: infra.database.masterPassword,
    },
    secrets: Object.fromEntries(app.secrets.map((n) => [n, pulumi.output(appSecrets).apply((all) => all?.[app.name]?.[n] ?? missingSecret(app.name, n))])),
    deployKey: gitAccess(appRepositories.get(app.name)!.privateKey),
    siteReady: infra.staticHost.nginxConfig,
    https: https(app.name),
    media: { bucket: infra.storage.buckets[app.name], region: infra.storage.mediaRegion },
    settings,
  });
}

// `latest` becomes the newest release tag on GitHub before anything is deployed. The offline
// plan asks GitHub nothing (FLEET_GITHUB_OFFLINE=1): there such an app is shown, not deployed.
const rollout = resolveTags(apps, stack, { prerelease: github.prereleases, client: githubApi, offline: !githubOnline })
  .catch(runError)
  .then((resolved) => {
    const deployable = resolved.apps.filter((a) => {
      if (a.tag !== LATEST) return true;
      void pulumi.log.warn(`${a.name}: tag "latest" is resolved only against GitHub (offline here): not deployed by this run`);
      return false;
    });
    return { latest: resolved.latest, deployments: deployable.map((a) => [a.name, deploy(a)] as const) };
  });

export const infrastructure = infrastructureOutputs(infra);
/** What `latest` meant on this run, per app that asked for it (the audit trail of a moving tag). */
export const latestTags = rollout.then((r) => r.latest);
/** Per app: the tag and commit now serving on every node (the audit trail beside Pulumi's history). */
export const serving = rollout.then((r) => Object.fromEntries(r.deployments.map(([name, d]) => [name, { tag: d.tag, commit: d.commit }])));
/** Per app: the public half of its deploy key on this stack, and whether this stack manages the repository. */
export const repositories = Object.fromEntries([...appRepositories].map(([name, r]) => [name, { cloneUrl: r.cloneUrl, deployKey: r.publicKey, managed: r.managed }]));
