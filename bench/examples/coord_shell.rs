//! Runs the coord shell without runnel-coord's binary, e.g. against Apache
//! ZooKeeper while developing the shell:
//! `cargo run -p runnel-bench --example coord_shell -- 127.0.0.1:2181 ls /`.

use std::process::ExitCode;

#[tokio::main]
async fn main() -> ExitCode {
    runnel_common::logging::init("warn");
    let mut args = std::env::args().skip(1);
    let Some(server) = args.next() else {
        eprintln!("usage: coord_shell HOST:PORT [command...]");
        return ExitCode::from(2);
    };
    match runnel_common::coord_shell::run(&server, args.collect()).await {
        Ok(code) => code,
        Err(error) => {
            eprintln!("coord_shell: {error:#}");
            ExitCode::FAILURE
        }
    }
}
