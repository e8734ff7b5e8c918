// The fleet: one Pulumi program for every Django app of every stack.
//
// Thin wiring only: the catalog (apps.yaml) says which app runs which tag on this stack, the
// stack config says how big things are, and each component in components/ maps that onto AWS.
import * as path from "path";
import * as pulumi from "@pulumi/pulumi";
import { AppDeployment } from "./components/appDeployment";
import { appsForStack, LATEST, loadCatalogFile } from "./components/catalog";
import { buildInfrastructure, infrastructureOutputs } from "./components/infrastructure";
import { parseDeploySettings, RolloutError } from "./components/rolloutPlan";
import { loadStackConfig } from "./components/stackConfig";
import { knownStacks } from "./components/stackFiles";

const config = new pulumi.Config();
const stack = pulumi.getStack();

function loadApps() {
  const file = config.get("appsFile") ?? "apps.yaml";
  const full = path.resolve(__dirname, file);
  // Messages name the file as a person would: relative inside the project, absolute outside it.
  const shown = full.startsWith(__dirname + path.sep) ? path.relative(__dirname, full) : full;
  const { catalog, errors } = loadCatalogFile(shown, { knownStacks: knownStacks(__dirname) });
  // RunError: Pulumi prints the message alone, without a stack trace.
  if (!catalog) throw new pulumi.RunError(errors.join("\n"));
  return appsForStack(catalog, stack);
}

const apps = loadApps();

/** Per app on this stack: the tag it is pinned to and where it answers. */
export const appReleases = Object.fromEntries(apps.map((a) => [a.name, { tag: a.tag, repo: a.repo, url: `https://${a.domain}/` }]));

const infra = buildInfrastructure(loadStackConfig(__dirname), apps);

function deploySettings() {
  try {
    return parseDeploySettings(config.getObject<unknown>("deploy"), `Pulumi.${stack}.yaml`);
  } catch (err) {
    if (err instanceof RolloutError) throw new pulumi.RunError(err.message);
    throw err;
  }
}

/** The values of an app's `secrets`: `fleet:appSecrets` maps app -> NAME -> secure value. */
const appSecrets = config.getSecretObject<Record<string, Record<string, string>>>("appSecrets");
const settings = deploySettings();
// "latest" is resolved to a release tag from GitHub before a rollout; until that resolution is
// wired in, such an app is not deployed (and says so) rather than deployed from a guess.
const deployable = apps.filter((a) => {
  if (a.tag !== LATEST) return true;
  void pulumi.log.warn(`${a.name}: tag "latest" is not resolved to a release tag here: not deployed by this run`);
  return false;
});
const deployments = deployable.map((app) => new AppDeployment(app.name, {
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
  siteReady: infra.staticHost.nginxConfig,
  settings,
}));

function missingSecret(app: string, name: string): never {
  throw new pulumi.RunError(`${app}: secret ${name} has no value: set fleet:appSecrets.${app}.${name} (pulumi config set --secret --path 'appSecrets.${app}.${name}' VALUE)`);
}

export const infrastructure = infrastructureOutputs(infra);
/** Per app: the tag and commit now serving on every node (the audit trail beside Pulumi's history). */
export const serving = Object.fromEntries(deployments.map((d, i) => [deployable[i].name, { tag: d.tag, commit: d.commit }]));
