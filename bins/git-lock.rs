fn main() -> std::process::ExitCode {
    grit::cli::lock::main()
}
