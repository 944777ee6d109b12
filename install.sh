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
        rm -f "$root/bin/git-$tool" "$data/bash-completion/completions/git-$tool" \
            "$data/zsh/site-functions/_git-$tool" "$data/fish/vendor_completions.d/git-$tool.fish"
    done
    rm -f "$data/fish/vendor_conf.d/grit.fish"
    for page in man/*.1; do
        rm -f "$root/share/man/man1/${page#man/}"
    done
    for page in man/*.7; do
        rm -f "$root/share/man/man7/${page#man/}"
    done
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

# man finds pages in <prefix>/share/man for every <prefix>/bin on PATH, so `git help issue` works.
mkdir -p "$root/share/man/man1" "$root/share/man/man7"
cp man/*.1 "$root/share/man/man1/"
cp man/*.7 "$root/share/man/man7/"

mkdir -p "$data/bash-completion/completions" "$data/zsh/site-functions" "$data/fish/vendor_completions.d" \
    "$data/fish/vendor_conf.d"
for tool in issue wal lock sandbox; do
    cp "completions/git-$tool.bash" "$data/bash-completion/completions/git-$tool"
    cp "completions/_git-$tool" "$data/zsh/site-functions/"
    cp "completions/git-$tool.fish" "$data/fish/vendor_completions.d/"
done
# `git issue <TAB>` in fish: registered for git at startup (fish's git completion misses it).
cp completions/grit.fish "$data/fish/vendor_conf.d/grit.fish"

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
