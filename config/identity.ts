// Every identity an app gets on a machine, in the database, in S3 and in Pulumi's state, derived
// from its catalog name in this one place. A catalog name is never used as an identity itself:
// `deploy` would be the SSH user with sudo, `root` uid 0, `fleet` the platform's /srv/fleet,
// `fleetadmin` the database master, `mysql` MySQL's grant tables, and `polls` + "-dr" the
// replica of another app's bucket. Pure: no Pulumi, no I/O.
//
// The derivation: a prefix with a character no catalog name can hold (`_`; names are
// ^[a-z][a-z0-9-]{1,30}[a-z0-9]$), so no derived name is a catalog name, an OS account of the
// distribution (none starts with `app_`), a user or directory of the platform (deploy, root,
// postgres, www-data, nginx, /srv/fleet) or a database role of the platform (any configured
// masterUsername is letters and digits only: stackConfig.ts; pg_*, rds*, mysql.*).
// Limits: Linux and systemd take user names of at most 31 characters, MySQL users 32,
// PostgreSQL identifiers 63, MySQL databases 64. A name of up to 26 characters is kept whole
// (`app_` + name: at most 30); a longer one keeps its first 18 characters and gets a hash of
// the whole name (`app_` + 18 + `-` + 8 hex: exactly 31). Whole and hashed forms differ in length,
// so they never meet; two hashed forms meet only on a hash collision, which the catalog
// refuses (config/catalog.ts, one line naming both apps).
//
// The node scripts (node/rollout) receive the derived OS user as their first argument and never
// derive anything themselves; the layout under it is HOME_ROOT/<user> and WEB_ROOT/<user> (the
// gunicorn@.service unit uses the same: its instance name is the OS user).
import { createHash } from "crypto";
import { APPS_ROOT as HOME_ROOT, WEB_ROOT } from "../rollout/layout";
import { RULES, ruleRegExp } from "./patterns";

/** The prefix of every derived user, group and database name. */
export const IDENTITY_PREFIX = "app_";
/** The longest catalog name kept whole in a derived name. */
const WHOLE_MAX = 26;
const KEPT_WHEN_HASHED = 18;
const HASH_HEX = 8;
/** What a derived OS user looks like (the node scripts check their argument against it). */
export const OS_USER_PATTERN = ruleRegExp(RULES.osUser);

export interface AppIdentity {
  /** The catalog name (what people and logs call the app; FLEET_APP). */
  app: string;
  /** The app's system user, and its group of the same name (no other group). */
  osUser: string;
  osGroup: string;
  /** Its home on every app node: releases/, venvs/, shared/, current. */
  home: string;
  /** Its static files' directory on the nginx host (…/static). */
  webRoot: string;
  /** Its database, and the login role that owns it (no SUPERUSER, CREATEROLE, CREATEDB). */
  database: string;
  databaseRole: string;
}

/** The part of every derived name that stands for the app: the name, or its head and a hash. */
function slug(app: string): string {
  if (app.length <= WHOLE_MAX) return app;
  const hash = createHash("sha256").update(app).digest("hex").slice(0, HASH_HEX);
  return `${app.slice(0, KEPT_WHEN_HASHED)}-${hash}`;
}

/** Every identity of the app `app` (a valid catalog name). */
export function appIdentity(app: string): AppIdentity {
  const osUser = `${IDENTITY_PREFIX}${slug(app)}`;
  // '_' for '-': a '-' would need quoting in every client's SQL; names hold no '_', so this is one-to-one.
  const database = osUser.replace(/-/g, "_");
  return {
    app,
    osUser,
    osGroup: osUser,
    home: `${HOME_ROOT}/${osUser}`,
    webRoot: `${WEB_ROOT}/${osUser}`,
    database,
    databaseRole: database,
  };
}

/** Kinds of an app's buckets. The kind ends the name, so `polls`'s replica is never `polls-dr`'s bucket. */
export type BucketKind = "media" | "media-dr";

/**
 * The S3 bucket of one app on one stack: `<prefix>-<stack>-<app>-<kind>`. Bucket names share
 * one global namespace, hence the prefix and the stack; the kind last keeps every app's and
 * kind's name apart (and clear of S3's reserved endings such as -s3alias).
 */
export function bucketName(prefix: string, stack: string, app: string, kind: BucketKind): string {
  return `${prefix}-${stack}-${app}-${kind}`;
}

/**
 * A Pulumi resource name of an app's own resource: `<app>_<what>`. The `_` (never in a catalog
 * name) ends the app's part, so `polls` + "media-replica" is not `polls-replica` + "media".
 */
export function appResourceName(app: string, what: string): string {
  return `${app}_${what}`;
}
