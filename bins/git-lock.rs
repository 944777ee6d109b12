fn main() -> std::process::ExitCode {
    grit::arm_binary();
    grit::cli::lock::main()
}
