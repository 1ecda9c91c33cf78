fn main() -> std::process::ExitCode {
    sandbox_bench::cli::main()
}
