fn main() -> std::process::ExitCode {
    grit::cli::issue::main()
}
