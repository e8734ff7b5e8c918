#!/bin/bash
# What `pulumi up` touches on one stack, for the deploy workflow (docs/rollout.md, "Only the changed
# apps at the engine"): the offline plan of this commit against the commit the last successful
# deploy deployed (npm run plan -- --targets, offline/targets.ts).
#
# Usage: .github/deploy-targets.sh STACK BASE_SHA FULL
#   BASE_SHA  the base commit ("" when no deploy succeeded yet: a full up)
#   FULL      "true": a full up was asked for (the workflow_dispatch input)
# Writes to $GITHUB_OUTPUT: mode=targets|full|none, and targets (one URN a line; empty unless
# mode is targets). The reason goes to the job summary.
set -euo pipefail
stack=$1 base=$2 full=$3
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

decide() {
    if [ "$full" = true ]; then
        echo "full: asked for (workflow_dispatch input full)"
    elif [ -z "$base" ]; then
        echo "full: no earlier successful deploy to compare with"
    elif ! git cat-file -e "$base:apps.yaml" 2>/dev/null || ! git cat-file -e "$base:Pulumi.$stack.yaml" 2>/dev/null; then
        echo "full: the base commit $base has no apps.yaml or no Pulumi.$stack.yaml"
    else
        git show "$base:apps.yaml" > "$work/base-apps.yaml"
        git show "$base:Pulumi.$stack.yaml" > "$work/base-stack.yaml"
        git diff --name-only "$base" HEAD > "$work/changed-files"
        npm run --silent plan -- --stack "$stack" --base-apps "$work/base-apps.yaml" --base-stack "$work/base-stack.yaml" \
            --changed-files "$work/changed-files" --targets
    fi
}

decide > "$work/decision"
case $(head -n 1 "$work/decision") in
    full:*) mode=full ;;
    none:*) mode=none ;;
    "--target "*) mode=targets ;;
    *) echo "deploy-targets: unexpected output of npm run plan -- --targets:" >&2; cat "$work/decision" >&2; exit 1 ;;
esac
{
    echo "mode=$mode"
    echo "targets<<FLEET_TARGETS_END"
    sed -n 's/^--target //p' "$work/decision"
    echo "FLEET_TARGETS_END"
} >> "$GITHUB_OUTPUT"
{
    printf '#### %s: %s\n\n' "$stack" "$mode"
    if [ "$mode" = targets ]; then
        printf '%s resources and their dependents (--target-dependents)\n' "$(grep -c '^--target ' "$work/decision")"
    else
        sed 's/^[a-z]*: //' "$work/decision"
    fi
} >> "${GITHUB_STEP_SUMMARY:-/dev/null}"
