#!/bin/sh
# Installs the grit suite (git-issue, git-wal, git-lock, git-sandbox) with its man pages and
# shell completions, then runs `git issue demo` in a scratch repository.
set -eu
cd "$(dirname "$0")"

root="${CARGO_INSTALL_ROOT:-${CARGO_HOME:-$HOME/.cargo}}"
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
mkdir -p "$root/share/man/man1"
cp man/*.1 "$root/share/man/man1/"

data="${XDG_DATA_HOME:-$HOME/.local/share}"
mkdir -p "$data/bash-completion/completions" "$data/zsh/site-functions" "$data/fish/vendor_completions.d"
for tool in issue wal lock sandbox; do
    cp "completions/git-$tool.bash" "$data/bash-completion/completions/git-$tool"
    cp "completions/_git-$tool" "$data/zsh/site-functions/"
    cp "completions/git-$tool.fish" "$data/fish/vendor_completions.d/"
done

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
