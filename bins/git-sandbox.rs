fn main() -> std::process::ExitCode {
    grit::arm_binary(env!("GRIT_COMMIT"));
    grit::cli::sandbox::main()
}
