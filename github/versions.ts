// Which of a repository's tags is "the newest release": pure, so it is tested on plain lists.
import * as semver from "semver";

/**
 * The highest version among `tags` by semver precedence. Tags that are not versions ("nightly",
 * "v1.2", "release-3") are ignored; "v1.2.3" and "1.2.3" both count. Pre-releases take part only
 * when asked for. Equal versions ("v1.2.3" beside "1.2.3", or differing build metadata) are
 * broken by the tag text so the answer never depends on the order GitHub lists them in. With
 * `covered`, only the tags it accepts (those the release tag rules protect) count.
 */
export function newestVersion(tags: string[], options: { prerelease: boolean; covered?: (tag: string) => boolean }): string | undefined {
  let best: { tag: string; version: semver.SemVer } | undefined;
  for (const tag of tags) {
    // A tag the release tag rules do not protect is no release, whatever its version says.
    if (options.covered && !options.covered(tag)) continue;
    const version = semver.parse(tag);
    if (!version || (version.prerelease.length > 0 && !options.prerelease)) continue;
    const order = best ? semver.compare(version, best.version) : 1;
    if (!best || order > 0 || (order === 0 && tag > best.tag)) best = { tag, version };
  }
  return best?.tag;
}

/** Whether `pinned` is older than `newest` (both versions); non-versions compare as "unknown". */
export function compareTags(pinned: string, newest: string): "behind" | "current" | "ahead" | "unknown" {
  const a = semver.parse(pinned);
  const b = semver.parse(newest);
  if (!a || !b) return "unknown";
  const order = semver.compare(a, b);
  return order < 0 ? "behind" : order > 0 ? "ahead" : "current";
}
