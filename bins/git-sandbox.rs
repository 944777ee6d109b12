fn main() -> std::process::ExitCode {
    grit::cli::sandbox::main()
}
