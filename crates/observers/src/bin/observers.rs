//! `observers sync` and `observers stats`: see `observers --help`.

fn main() -> std::process::ExitCode {
    observers::cli::run(std::env::args_os())
}
