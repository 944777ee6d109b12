fn main() -> std::process::ExitCode {
    // The network allowlist's forwarder, inside an isolated run (`sandbox::proxy`). Arguments
    // need not be UTF-8 (the command's are the user's).
    let args: Vec<std::ffi::OsString> = std::env::args_os().skip(1).collect();
    if args.first().is_some_and(|a| a == "__netshim") {
        return std::process::ExitCode::from(grit::sandbox::proxy::shim(&args[1..]).clamp(0, 255) as u8);
    }
    grit::arm_binary(env!("GRIT_COMMIT"));
    grit::cli::sandbox::main()
}
