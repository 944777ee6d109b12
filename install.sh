#!/bin/sh
# Installs the grit suite (git-issue, git-wal, git-lock, git-sandbox) with its man pages and
# shell completions, then runs `git issue demo` in a scratch repository.
#
#   ./install.sh               install into $CARGO_INSTALL_ROOT, else $CARGO_HOME, else ~/.cargo
#                              (binaries in <root>/bin, man pages in <root>/share/man/man1);
#                              completions go under $XDG_DATA_HOME (else ~/.local/share)
#   ./install.sh --uninstall   remove what it installed there, and nothing else
set -eu
cd "$(dirname "$0")"

root="${CARGO_INSTALL_ROOT:-${CARGO_HOME:-$HOME/.cargo}}"
data="${XDG_DATA_HOME:-$HOME/.local/share}"

case "${1:-}" in
--uninstall)
    # cargo's own record of the install first, then whatever is left of ours.
    cargo uninstall --root "$root" grit >/dev/null 2>&1 || true
    for tool in issue wal lock sandbox; do
        rm -f "$root/bin/git-$tool"
    done
    sh tools/place-files.sh remove . "$root" "$data"
    echo "removed git-issue, git-wal, git-lock, git-sandbox, their man pages and completions from $root and $data"
    echo "(each repository's state stays in its .git/grit and refs/grit/: \`git wal hooks uninstall\` removes a"
    echo " repository's hooks)"
    exit 0
    ;;
"") ;;
*)
    echo "usage: ./install.sh [--uninstall]" >&2
    exit 2
    ;;
esac
. tools/link-static.sh
cores=$(nproc 2>/dev/null || echo 2)
start=$(date +%s)
echo "[1/3] building the four binaries: up to $((16 / cores)) minutes on $cores cores (one optimised,"
echo "      link-time-optimised build; cargo's progress follows)"
# shellcheck disable=SC2086 # target_args is empty or two words
cargo install --locked --path . --root "$root" $target_args
echo "      built in $(( $(date +%s) - start )) s"
echo "[2/3] installing man pages and shell completions"

sh tools/place-files.sh install . "$root" "$data"

case ":$PATH:" in
    *":$root/bin:"*) ;;
    *)
        echo "note: $root/bin is not on your PATH; add it so git finds the commands:" >&2
        echo "      export PATH=\"$root/bin:\$PATH\"" >&2
        PATH="$root/bin:$PATH"
        export PATH
        ;;
esac

echo "installed git-issue, git-wal, git-lock, git-sandbox into $root/bin"
echo "completions: bash finds them (bash-completion loads $data/bash-completion/completions/git-issue"
echo "  when you type \`git issue <TAB>\`); fish too; for zsh, add to ~/.zshrc before compinit:"
echo "      fpath=(\"$data/zsh/site-functions\" \$fpath)"
echo
echo "[3/3] a short demo in a scratch repository"
git issue demo
