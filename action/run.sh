#!/usr/bin/env bash
# Runs one grit command for the action, in the workspace's repository: sets up grit's fetch
# refspec and fetches refs/grit/* (git wal init), then
#   sync                 integrate and push (git wal sync)
#   verify               check every event's signature (git wal verify)
#   close-from-commits   close what the pushed commits' Fixes:/Closes: trailers name
#   summary              a Markdown table of this push's issues in $GITHUB_STEP_SUMMARY
#   sandbox-run          run the job $GRIT_RUN in a new sandbox, commit its result with signed
#                        provenance, push the branch (GRIT_PUSH: success, always, never; or open
#                        a pull request, GRIT_PR=true); outputs in $GITHUB_OUTPUT; exits with
#                        the job's exit code
# The push's range comes from the event ($GITHUB_EVENT_PATH: before, after), or GRIT_RANGE.
set -euo pipefail
command=${1:?"usage: run.sh sync|verify|close-from-commits|summary|sandbox-run"}
cd "${GITHUB_WORKSPACE:-.}"
remote=${GRIT_REMOTE:-origin}
export PATH="${GRIT_ROOT:-$HOME/.grit}/bin:$PATH"
if git remote get-url "$remote" >/dev/null 2>&1; then
    git wal init --remote "$remote" >/dev/null
else
    git wal init >/dev/null
fi

# before..after of the push; a new branch (before all zeros) is its last commit.
range() {
    if [ -n "${GRIT_RANGE:-}" ]; then
        echo "$GRIT_RANGE"
        return
    fi
    local event=${GITHUB_EVENT_PATH:-} before after
    [ -n "$event" ] && [ -f "$event" ] || { echo "HEAD^!"; return; }
    before=$(sed -n 's/.*"before": *"\([0-9a-f]*\)".*/\1/p' "$event" | head -1)
    after=$(sed -n 's/.*"after": *"\([0-9a-f]*\)".*/\1/p' "$event" | head -1)
    if [ -z "$after" ]; then
        echo "HEAD^!"
    elif [ -z "$before" ] || [ -z "${before//0/}" ]; then
        echo "$after^!"
    else
        echo "$before..$after"
    fi
}

# A step output, for the steps after this one.
output() {
    echo "$1=$2" >>"${GITHUB_OUTPUT:-/dev/null}"
}

# A field of the one-object JSON `git sandbox run --json` prints; empty for null.
field() {
    sed -n "s/^ *\"$1\": *\"\{0,1\}\([^\",]*\)\"\{0,1\},\{0,1\}\$/\1/p" "$2" | head -1 | sed 's/^null$//'
}

sandbox_run() {
    local job=${GRIT_RUN:-} name push=${GRIT_PUSH:-success} report code commit branch provenance pushed=false
    if [ -z "$job" ]; then
        echo "error: sandbox-run has no job to run" >&2
        echo "hint: give the action's run input, e.g. run: cargo test" >&2
        exit 2
    fi
    case "$push" in
    success | always | never) ;;
    *)
        echo "error: push is '$push'" >&2
        echo "hint: use success (push when the job succeeds), always or never" >&2
        exit 2
        ;;
    esac
    name=${GRIT_SANDBOX:-ci-${GITHUB_RUN_ID:-$$}-${GITHUB_RUN_ATTEMPT:-1}}
    local args=(run "$name" --json --commit "${GRIT_MESSAGE:-ci: $job}")
    [ -n "${GRIT_TEMPLATE:-}" ] && args+=(--template "$GRIT_TEMPLATE")
    [ -n "${GRIT_BACKEND:-}" ] && args+=(--backend "$GRIT_BACKEND")
    [ "${GRIT_ISOLATE:-false}" = true ] && args+=(--isolate)
    report=$(mktemp)
    set +e
    git sandbox "${args[@]}" --sh -- "$job" >"$report"
    code=$?
    set -e
    commit=$(field commit "$report")
    branch=$(field branch "$report")
    if [ -z "$branch" ]; then
        # The sandbox was not made: git sandbox said why on stderr.
        rm -f "$report"
        output exit-code "$code"
        exit "$code"
    fi
    code=$(field exit_code "$report")
    rm -f "$report"
    provenance=""
    if [ -n "$commit" ]; then
        provenance=$(git log -1 --format='%(trailers:key=Sandbox-Provenance,valueonly,separator=)' "$commit")
    fi
    if [ -n "$commit" ] && { [ "$push" = always ] || { [ "$push" = success ] && [ "$code" = 0 ]; }; }; then
        if [ "${GRIT_PR:-false}" = true ]; then
            git sandbox land "$name" --pr --remote "$remote"
        else
            git push -q "$remote" "refs/heads/$branch:refs/heads/$branch"
        fi
        pushed=true
    fi
    output branch "$branch"
    output exit-code "$code"
    output commit "$commit"
    output provenance "$provenance"
    output pushed "$pushed"
    {
        echo "### Sandbox run"
        echo
        echo "| job | exit code | branch | commit | pushed |"
        echo "|---|---|---|---|---|"
        echo "| \`$job\` | $code | \`$branch\` | \`${commit:0:12}\` | $pushed |"
    } >>"${GITHUB_STEP_SUMMARY:-/dev/null}"
    exit "$code"
}

case "$command" in
sync) git wal sync ;;
verify) git wal verify ;;
close-from-commits) git issue close --from-commits "$(range)" ;;
summary)
    r=$(range)
    since=$(git log -1 --format=%cI "${r%%..*}" 2>/dev/null | cut -c1-19)Z
    out=${GITHUB_STEP_SUMMARY:-/dev/stdout}
    {
        echo "### Issues in this push"
        echo
        echo "| | issue | title |"
        echo "|---|---|---|"
        git issue list --state all --limit 0 -S "created:>=$since" --format '| opened | `{short_id}` | {title} |'
        git issue list --limit 0 -S "is:closed updated:>=$since" --format '| closed | `{short_id}` | {title} |'
        git issue list --limit 0 -S "claimed:true" --format '| claimed | `{short_id}` | {title} |'
    } >> "$out"
    ;;
sandbox-run) sandbox_run ;;
*)
    echo "error: '$command' is not a command of this action" >&2
    echo "hint: use sync, verify, close-from-commits, summary or sandbox-run" >&2
    exit 2
    ;;
esac
