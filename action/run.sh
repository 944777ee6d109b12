#!/usr/bin/env bash
# Runs one grit command for the action, in the workspace's repository: sets up grit's fetch
# refspec and fetches refs/grit/* (git wal init), then
#   sync                 integrate and push (git wal sync)
#   verify               check every event's signature (git wal verify)
#   close-from-commits   close what the pushed commits' Fixes:/Closes: trailers name
#   summary              a Markdown table of this push's issues in $GITHUB_STEP_SUMMARY
# The push's range comes from the event ($GITHUB_EVENT_PATH: before, after), or GRIT_RANGE.
set -euo pipefail
command=${1:?"usage: run.sh sync|verify|close-from-commits|summary"}
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
*)
    echo "error: '$command' is not a command of this action" >&2
    echo "hint: use sync, verify, close-from-commits or summary" >&2
    exit 2
    ;;
esac
