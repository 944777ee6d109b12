# Sourced by install.sh and benches/run: on GNU/Linux, link the binaries statically against glibc
# when its static library is installed. A command then starts without the dynamic loader, which
# makes each one about 0.5 ms faster (docs/performance.md). Sets `target_args` to the cargo flags
# that build this way; elsewhere it stays empty and the binaries link as usual.
target_args=""
host=$(rustc -vV | sed -n 's/^host: //p')
case "$host" in
*-linux-gnu*)
    libc_a=$("${CC:-cc}" -print-file-name=libc.a 2>/dev/null || true)
    case "$libc_a" in
    /*)
        # Only for the target: proc-macro crates cannot be linked statically, so name the
        # target explicitly and cargo builds them for the host without the flag.
        export "CARGO_TARGET_$(echo "$host" | tr 'a-z.-' 'A-Z__')_RUSTFLAGS=-C target-feature=+crt-static"
        target_args="--target $host"
        ;;
    *)
        echo "note: no static C library (libc.a) found; linking dynamically, so each command" >&2
        echo "      starts about 0.5 ms slower (Debian: libc6-dev; Fedora: glibc-static)" >&2
        ;;
    esac
    ;;
esac
