fn main() -> std::process::ExitCode {
    grit::cli::wal::main()
}
