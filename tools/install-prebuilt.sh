#!/bin/sh
# Installs a prebuilt release of grit (git-issue, git-wal, git-lock, git-sandbox) with its man
# pages and shell completions, without a Rust toolchain, then runs `git issue demo`.
#
#   sh install.sh                 from the release archive this script was unpacked from
#   sh install.sh --from BASE     fetch grit-TARGET.tar.gz for this machine and SHA256SUMS from
#                                 BASE (a URL, file:// too, or a directory), check the archive's
#                                 checksum, then install it; by default BASE is $GRIT_RELEASES,
#                                 else the latest release of the repository this script was
#                                 published from (the release workflow writes its address in)
#   --prefix DIR                  binaries in DIR/bin, man pages in DIR/share/man (default:
#                                 $GRIT_PREFIX, else ~/.local); completions go under
#                                 $XDG_DATA_HOME (else ~/.local/share)
#   --no-demo                     do not run the demo
#   --uninstall                   remove what it installed there, and nothing else
#   --print-target                print the name of this machine's archive's target, and stop
set -eu

target() {
    case "$(uname -s)-$(uname -m)" in
    Linux-x86_64) echo x86_64-unknown-linux-gnu ;;
    Linux-aarch64 | Linux-arm64) echo aarch64-unknown-linux-gnu ;;
    Darwin-x86_64) echo x86_64-apple-darwin ;;
    Darwin-arm64 | Darwin-aarch64) echo aarch64-apple-darwin ;;
    *)
        echo "error: no prebuilt grit for $(uname -s) on $(uname -m)" >&2
        echo "hint: build it from source: git clone the repository and run ./install.sh" >&2
        exit 3
        ;;
    esac
}

fail() {
    echo "error: $1" >&2
    echo "hint: $2" >&2
    exit "${3:-1}"
}

here=$(cd "$(dirname "$0")" && pwd)
from=""
prefix="${GRIT_PREFIX:-$HOME/.local}"
data="${XDG_DATA_HOME:-$HOME/.local/share}"
demo=true
uninstall=false
while [ $# -gt 0 ]; do
    case "$1" in
    --from)
        [ $# -ge 2 ] || fail "--from needs a URL or a directory" "sh install.sh --from https://…/releases/download/v0.2.0" 2
        from=$2
        shift 2
        ;;
    --prefix)
        [ $# -ge 2 ] || fail "--prefix needs a directory" "sh install.sh --prefix ~/.local" 2
        prefix=$2
        shift 2
        ;;
    --no-demo) demo=false; shift ;;
    --uninstall) uninstall=true; shift ;;
    --print-target) target; exit 0 ;;
    *) fail "'$1' is not an option of install.sh" "sh install.sh [--from BASE] [--prefix DIR] [--no-demo] [--uninstall]" 2 ;;
    esac
done

# Where the release's files are: beside this script, or fetched and checked into a scratch
# directory.
if [ -z "$from" ] && [ -x "$here/bin/git-issue" ] && [ -f "$here/place-files.sh" ]; then
    src=$here
else
    from=${from:-${GRIT_RELEASES:-@RELEASES@}}
    case "$from" in
    @*) fail "this copy of install.sh does not know where the releases are" "give --from BASE (a release's download address, or a directory holding its archives)" 2 ;;
    esac
    name="grit-$(target)"
    scratch=$(mktemp -d)
    trap 'rm -rf "$scratch"' EXIT
    fetch() {
        case "$from" in
        http://* | https://* | file://*)
            if command -v curl >/dev/null 2>&1; then
                curl -fsSL -o "$scratch/$1" "$from/$1"
            elif command -v wget >/dev/null 2>&1; then
                wget -q -O "$scratch/$1" "$from/$1"
            else
                fail "neither curl nor wget is installed" "install one, or download $from/$1 and unpack it"
            fi
            ;;
        *) cp "$from/$1" "$scratch/$1" ;;
        esac
    }
    fetch "$name.tar.gz" || fail "could not fetch $from/$name.tar.gz" "check the address, or that a release has an archive for $(target)"
    fetch SHA256SUMS || fail "could not fetch $from/SHA256SUMS" "a release lists its archives' checksums in SHA256SUMS"
    want=$(grep " \*\{0,1\}$name.tar.gz\$" "$scratch/SHA256SUMS" | cut -d' ' -f1)
    [ -n "$want" ] || fail "SHA256SUMS has no line for $name.tar.gz" "the release is incomplete; try another version"
    if command -v sha256sum >/dev/null 2>&1; then
        got=$(sha256sum "$scratch/$name.tar.gz" | cut -d' ' -f1)
    else
        got=$(shasum -a 256 "$scratch/$name.tar.gz" | cut -d' ' -f1)
    fi
    [ "$got" = "$want" ] || fail "$name.tar.gz does not match its checksum (got $got, SHA256SUMS says $want)" \
        "nothing was installed; fetch it again, and report it if it keeps happening" 4
    tar -C "$scratch" -xzf "$scratch/$name.tar.gz"
    src="$scratch/$name"
fi

if $uninstall; then
    for tool in issue wal lock sandbox; do
        rm -f "$prefix/bin/git-$tool"
    done
    sh "$src/place-files.sh" remove "$src" "$prefix" "$data"
    echo "removed git-issue, git-wal, git-lock, git-sandbox, their man pages and completions from $prefix and $data"
    exit 0
fi

mkdir -p "$prefix/bin"
for tool in issue wal lock sandbox; do
    # Through a new name, so a running copy is never overwritten in place.
    cp "$src/bin/git-$tool" "$prefix/bin/.git-$tool.new"
    chmod 755 "$prefix/bin/.git-$tool.new"
    mv -f "$prefix/bin/.git-$tool.new" "$prefix/bin/git-$tool"
done
sh "$src/place-files.sh" install "$src" "$prefix" "$data"
echo "installed grit $(cat "$src/VERSION" 2>/dev/null || echo '') (git-issue, git-wal, git-lock, git-sandbox) into $prefix/bin"
case ":$PATH:" in
*":$prefix/bin:"*) ;;
*)
    echo "note: $prefix/bin is not on your PATH; add it so git finds the commands:" >&2
    echo "      export PATH=\"$prefix/bin:\$PATH\"" >&2
    PATH="$prefix/bin:$PATH"
    export PATH
    ;;
esac
echo "completions: bash and fish find them under $data; for zsh, add to ~/.zshrc before compinit:"
echo "      fpath=(\"$data/zsh/site-functions\" \$fpath)"
if $demo; then
    echo
    git issue demo
fi
