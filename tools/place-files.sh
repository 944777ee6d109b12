#!/bin/sh
# Puts grit's man pages and shell completions in place, or takes them away: the one step that
# ./install.sh (after building) and a release archive's install.sh (after copying the binaries)
# share.
#
#   place-files.sh install SRC ROOT DATA   man pages from SRC/man into ROOT/share/man/man{1,7};
#                                          completions from SRC/completions under DATA (bash,
#                                          zsh, fish)
#   place-files.sh remove  SRC ROOT DATA   remove the same files, and nothing else
set -eu
what=${1:?"usage: place-files.sh install|remove SRC ROOT DATA"}
src=${2:?"usage: place-files.sh install|remove SRC ROOT DATA"}
root=${3:?"usage: place-files.sh install|remove SRC ROOT DATA"}
data=${4:?"usage: place-files.sh install|remove SRC ROOT DATA"}
tools="issue wal lock sandbox"

case "$what" in
install)
    # man finds pages in <prefix>/share/man for every <prefix>/bin on PATH, so `git help issue` works.
    mkdir -p "$root/share/man/man1" "$root/share/man/man7"
    cp "$src"/man/*.1 "$root/share/man/man1/"
    cp "$src"/man/*.7 "$root/share/man/man7/"
    mkdir -p "$data/bash-completion/completions" "$data/zsh/site-functions" \
        "$data/fish/vendor_completions.d" "$data/fish/vendor_conf.d"
    for tool in $tools; do
        cp "$src/completions/git-$tool.bash" "$data/bash-completion/completions/git-$tool"
        cp "$src/completions/_git-$tool" "$data/zsh/site-functions/"
        cp "$src/completions/git-$tool.fish" "$data/fish/vendor_completions.d/"
    done
    # `git issue <TAB>` in fish: registered for git at startup (fish's git completion misses it).
    cp "$src/completions/grit.fish" "$data/fish/vendor_conf.d/grit.fish"
    ;;
remove)
    for tool in $tools; do
        rm -f "$data/bash-completion/completions/git-$tool" "$data/zsh/site-functions/_git-$tool" \
            "$data/fish/vendor_completions.d/git-$tool.fish"
    done
    rm -f "$data/fish/vendor_conf.d/grit.fish"
    for page in "$src"/man/*.1; do
        rm -f "$root/share/man/man1/${page##*/}"
    done
    for page in "$src"/man/*.7; do
        rm -f "$root/share/man/man7/${page##*/}"
    done
    ;;
*)
    echo "error: '$what' is not install or remove" >&2
    exit 2
    ;;
esac
