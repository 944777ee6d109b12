#!/usr/bin/env bash
# Installs the suite for the action: `cargo install --locked` from this action's checkout (or
# GRIT_SOURCE, or GRIT_VERSION of it) into ~/.grit, which the action caches, and puts it on
# PATH for the steps after. Binaries already there and of this version are kept.
set -euo pipefail
root="${GRIT_ROOT:-$HOME/.grit}"
src="${GRIT_SOURCE:-${GITHUB_ACTION_PATH:-$(cd "$(dirname "$0")/.." && pwd)}}"
if [ -n "${GRIT_VERSION:-}" ]; then
    work=$(mktemp -d)
    git -C "$src" worktree add -q --detach "$work" "$GRIT_VERSION"
    src=$work
fi
want=$(git -C "$src" rev-parse HEAD 2>/dev/null || echo unknown)
if [ -x "$root/bin/git-wal" ] && [ "$(cat "$root/version" 2>/dev/null)" = "$want" ]; then
    echo "grit $want is installed (cached)"
else
    cargo install --locked --quiet --path "$src" --root "$root"
    echo "$want" > "$root/version"
fi
if [ -n "${GITHUB_PATH:-}" ]; then
    echo "$root/bin" >> "$GITHUB_PATH"
fi
