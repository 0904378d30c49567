//! A zkCli-like shell over any ZooKeeper-protocol server (runnel-coord or
//! Apache ZooKeeper), so operators keep their zkCli habits and scripts can
//! read our output as they read zkCli's.
//!
//! * [`parse`]: words → [`Command`], no I/O (unit-tested without a server).
//! * [`format`]: zkCli's output formats (stat block, dates, errors, events).
//! * [`exec`]: runs a command on a `zookeeper-client` session.
//!
//! [`run`] is the entry point: an interactive prompt when no command is
//! given, else one command and an exit code (1 when it failed, like zkCli).

pub mod exec;
pub mod format;
pub mod parse;

use std::io::{IsTerminal as _, Write as _};
use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context as _;
use tokio::io::{AsyncBufReadExt as _, BufReader, Lines, Stdin};
use zookeeper_client::{Client, WatchedEvent};

pub use exec::Outcome;
pub use parse::{Command, NodeKind, ParseError};

/// zkCli's default session timeout: long enough that a shell left idle at
/// the prompt keeps its ephemeral nodes.
const SESSION_TIMEOUT: Duration = Duration::from_secs(30);

/// How long we wait for the server to acknowledge `closeSession` on exit, so
/// that ephemeral nodes go away now rather than after the session timeout.
const CLOSE_TIMEOUT: Duration = Duration::from_secs(3);

/// Runs the shell against `server` (`host:port[,host:port…][/chroot]`).
///
/// With an empty `command`, reads commands from stdin until EOF, `quit` or
/// Ctrl-C (a prompt is shown only when stdin is a terminal, as zkCli does).
/// Otherwise runs that one command; the exit code is 1 if it failed.
/// Connection failures are returned as errors.
pub async fn run(server: &str, command: Vec<String>) -> anyhow::Result<ExitCode> {
    let client = Client::connector()
        .with_session_timeout(SESSION_TIMEOUT)
        .with_fail_eagerly()
        .connect(server)
        .await
        .with_context(|| format!("cannot connect to {server}"))?;
    tracing::debug!(server, session = ?client.session_id(), "connected");

    let code = if command.is_empty() {
        interactive(&client, server).await?
    } else {
        one_shot(&client, &command).await
    };
    close(client).await;
    Ok(code)
}

/// Runs the command given on the command line.
async fn one_shot(client: &Client, words: &[String]) -> ExitCode {
    let command = match parse::parse_words(words) {
        Ok(command) => command,
        Err(e) => {
            eprintln!("{e}");
            return ExitCode::FAILURE;
        }
    };
    let ctx = exec::Context {
        client,
        interactive: false,
    };
    match exec::execute(&ctx, command, interrupted()).await {
        Outcome::Done | Outcome::Quit => ExitCode::SUCCESS,
        Outcome::Failed => ExitCode::FAILURE,
    }
}

/// The read-eval-print loop.
async fn interactive(client: &Client, server: &str) -> anyhow::Result<ExitCode> {
    let show_prompt = std::io::stdin().is_terminal();
    let mut lines = BufReader::new(tokio::io::stdin()).lines();
    let ctx = exec::Context {
        client,
        interactive: true,
    };
    report_session_changes(client);
    let mut count = 0u64;
    loop {
        if show_prompt {
            let state = format::prompt_state(client.state());
            print!("[zk: {server}({state}) {count}] ");
            // A prompt that never reaches the terminal is only cosmetic.
            let _ = std::io::stdout().flush();
        }
        let line = tokio::select! {
            line = lines.next_line() => line.context("cannot read stdin")?,
            () = interrupted() => None,
        };
        let Some(line) = line else {
            break;
        };
        let command = match parse::parse_line(&line) {
            Ok(None) => continue,
            Ok(Some(command)) => command,
            Err(e) => {
                eprintln!("{e}");
                count += 1;
                continue;
            }
        };
        count += 1;
        if exec::execute(&ctx, command, input_closed(&mut lines)).await == Outcome::Quit {
            break;
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// Prints session state changes (disconnect, reconnect, expiry) as zkCli's
/// default watcher does, so the user knows why commands start failing.
fn report_session_changes(client: &Client) {
    let mut states = client.state_watcher();
    tokio::spawn(async move {
        loop {
            let state = states.changed().await;
            let event = WatchedEvent::new_session(state);
            println!("{}", format::watcher_notice(&event));
            if state.is_terminated() {
                break;
            }
        }
    });
}

/// Resolves on Ctrl-C. If the handler cannot be installed, never resolves:
/// the default SIGINT action still stops the process.
async fn interrupted() {
    if tokio::signal::ctrl_c().await.is_err() {
        std::future::pending::<()>().await;
    }
}

/// Ends an interactive `watch`: Ctrl-C or end of input. Lines typed while
/// watching are read and dropped so that the watch does not stall stdin.
async fn input_closed(lines: &mut Lines<BufReader<Stdin>>) {
    loop {
        tokio::select! {
            () = interrupted() => return,
            line = lines.next_line() => match line {
                Ok(Some(_)) => continue,
                Ok(None) | Err(_) => return,
            },
        }
    }
}

/// Closes the session and waits briefly for the server to confirm, so our
/// ephemeral nodes disappear now (zkCli does the same on `quit`).
async fn close(client: Client) {
    let mut states = client.state_watcher();
    drop(client);
    let closed = async {
        loop {
            if states.changed().await.is_terminated() {
                break;
            }
        }
    };
    if tokio::time::timeout(CLOSE_TIMEOUT, closed).await.is_err() {
        tracing::warn!("server did not confirm closeSession in {CLOSE_TIMEOUT:?}");
    }
}
