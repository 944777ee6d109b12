fn main() -> std::process::ExitCode {
    // The network allowlist's forwarder, inside an isolated run (`sandbox::proxy`).
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.first().map(String::as_str) == Some("__netshim") {
        return std::process::ExitCode::from(grit::sandbox::proxy::shim(&args[1..]).clamp(0, 255) as u8);
    }
    grit::arm_binary(env!("GRIT_COMMIT"));
    grit::cli::sandbox::main()
}
