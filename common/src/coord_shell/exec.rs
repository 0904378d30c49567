//! Runs one parsed [`Command`] against a connected session and prints its
//! result the way zkCli does: results on stdout, errors on stderr.

use std::future::Future;
use std::time::Duration;

use zookeeper_client::{
    Acls, AddWatchMode, Client, CreateMode, CreateOptions, EventType, OneshotWatcher,
};

use super::format;
use super::parse::{usage, Command, NodeKind};

/// How a command ended, which decides the one-shot exit code and whether the
/// interactive loop goes on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    Done,
    /// The server (or the client library) refused; the error was printed.
    Failed,
    Quit,
}

/// How many deletes `deleteall` keeps in flight: enough to pipeline, few
/// enough to stay far below any server's outstanding-request limit.
const DELETE_BATCH: usize = 1000;

/// What a command needs besides its arguments.
pub struct Context<'a> {
    pub client: &'a Client,
    /// Interactive shells keep `-w` watches alive and print them when they
    /// fire; a one-shot command exits before any could fire.
    pub interactive: bool,
}

/// Runs `command`. `stop` ends a `watch` early (EOF, Ctrl-C); other
/// commands ignore it.
pub async fn execute<S>(ctx: &Context<'_>, command: Command, stop: S) -> Outcome
where
    S: Future<Output = ()>,
{
    match command {
        Command::Ls {
            path,
            stat,
            watch,
            recursive,
        } => {
            if recursive {
                ls_recursive(ctx, &path, watch).await
            } else {
                ls(ctx, &path, stat, watch).await
            }
        }
        Command::Get { path, stat, watch } => get(ctx, &path, stat, watch).await,
        Command::Stat { path, watch } => stat_node(ctx, &path, watch).await,
        Command::Create {
            path,
            data,
            kind,
            sequential,
            ttl_ms,
        } => create(ctx, &path, data.as_deref(), kind, sequential, ttl_ms).await,
        Command::Set {
            path,
            data,
            version,
            stat,
        } => match ctx.client.set_data(&path, data.as_bytes(), version).await {
            Ok(new_stat) => {
                if stat {
                    print!("{}", format::stat_block(&new_stat));
                }
                Outcome::Done
            }
            Err(e) => fail(&e, &path),
        },
        Command::Delete { path, version } => match ctx.client.delete(&path, version).await {
            Ok(()) => Outcome::Done,
            Err(e) => fail(&e, &path),
        },
        Command::DeleteAll { path } => delete_all(ctx, &path).await,
        Command::GetAllChildrenNumber { path } => {
            match ctx.client.count_descendants_number(&path).await {
                Ok(n) => {
                    println!("{n}");
                    Outcome::Done
                }
                Err(e) => fail(&e, &path),
            }
        }
        Command::GetEphemerals { path } => match ctx.client.list_ephemerals(&path).await {
            Ok(paths) => {
                println!("{}", format::java_list(&paths));
                Outcome::Done
            }
            Err(e) => fail(&e, &path),
        },
        Command::Sync { path } => match ctx.client.sync(&path).await {
            Ok(()) => {
                println!("Sync is OK");
                Outcome::Done
            }
            Err(e) => fail(&e, &path),
        },
        Command::Watch {
            path,
            recursive,
            count,
        } => watch(ctx, &path, recursive, count, stop).await,
        Command::Help => {
            println!("Commands:");
            for line in usage::ALL {
                println!("\t{line}");
            }
            Outcome::Done
        }
        Command::Quit => Outcome::Quit,
    }
}

fn fail(err: &zookeeper_client::Error, path: &str) -> Outcome {
    eprintln!("{}", format::zk_error(err, path));
    Outcome::Failed
}

/// Keeps a one-shot `-w` watch alive in an interactive shell and prints the
/// event zkCli-style when it fires; in one-shot mode the watch is dropped.
fn keep_watch(ctx: &Context<'_>, watcher: OneshotWatcher) {
    if !ctx.interactive {
        return;
    }
    tokio::spawn(async move {
        let event = watcher.changed().await;
        // A session event (closed, expired) is already reported once by the
        // shell's session watcher; repeating it per pending watch is noise.
        if event.event_type != EventType::Session {
            println!("{}", format::watcher_notice(&event));
        }
    });
}

async fn ls(ctx: &Context<'_>, path: &str, stat: bool, watch: bool) -> Outcome {
    let result = match (stat, watch) {
        (false, false) => ctx.client.list_children(path).await.map(|c| (c, None)),
        (true, false) => ctx
            .client
            .get_children(path)
            .await
            .map(|(c, s)| (c, Some(s))),
        (false, true) => ctx
            .client
            .list_and_watch_children(path)
            .await
            .map(|(c, w)| {
                keep_watch(ctx, w);
                (c, None)
            }),
        (true, true) => ctx
            .client
            .get_and_watch_children(path)
            .await
            .map(|(c, s, w)| {
                keep_watch(ctx, w);
                (c, Some(s))
            }),
    };
    match result {
        Ok((mut children, stat)) => {
            children.sort();
            println!("{}", format::java_list(&children));
            if let Some(stat) = stat {
                print!("{}", format::stat_block(&stat));
            }
            Outcome::Done
        }
        Err(e) => fail(&e, path),
    }
}

/// `ls -R`: the node, then each node's sorted children before descending into
/// them, exactly the order of zkCli's `ZKUtil.visitSubTreeDFS`.
async fn ls_recursive(ctx: &Context<'_>, path: &str, watch: bool) -> Outcome {
    if let Err(e) = ctx.client.check_stat(path).await.and_then(|s| match s {
        Some(_) => Ok(()),
        None => Err(zookeeper_client::Error::NoNode),
    }) {
        return fail(&e, path);
    }
    println!("{path}");
    // An explicit stack instead of recursion: async recursion needs boxing and
    // deep trees should not grow the task's stack.
    let mut stack = vec![path.to_string()];
    while let Some(node) = stack.pop() {
        let children = if watch {
            ctx.client
                .list_and_watch_children(&node)
                .await
                .map(|(c, w)| {
                    keep_watch(ctx, w);
                    c
                })
        } else {
            ctx.client.list_children(&node).await
        };
        let mut children = match children {
            Ok(children) => children,
            // Deleted while we walked: zkCli skips it too.
            Err(zookeeper_client::Error::NoNode) => continue,
            Err(e) => return fail(&e, &node),
        };
        children.sort();
        let paths: Vec<String> = children.iter().map(|c| child_path(&node, c)).collect();
        for child in &paths {
            println!("{child}");
        }
        stack.extend(paths.into_iter().rev());
    }
    Outcome::Done
}

fn child_path(parent: &str, child: &str) -> String {
    if parent == "/" {
        format!("/{child}")
    } else {
        format!("{parent}/{child}")
    }
}

async fn get(ctx: &Context<'_>, path: &str, stat: bool, watch: bool) -> Outcome {
    let result = if watch {
        ctx.client.get_and_watch_data(path).await.map(|(d, s, w)| {
            keep_watch(ctx, w);
            (d, s)
        })
    } else {
        ctx.client.get_data(path).await
    };
    match result {
        Ok((data, node_stat)) => {
            println!("{}", format::data_text(&data));
            if stat {
                print!("{}", format::stat_block(&node_stat));
            }
            Outcome::Done
        }
        Err(e) => fail(&e, path),
    }
}

async fn stat_node(ctx: &Context<'_>, path: &str, watch: bool) -> Outcome {
    let result = if watch {
        ctx.client
            .check_and_watch_stat(path)
            .await
            .map(|(stat, w)| {
                // An exists-watch on a missing node fires when it is created.
                keep_watch(ctx, w);
                stat
            })
    } else {
        ctx.client.check_stat(path).await
    };
    match result {
        Ok(Some(stat)) => {
            print!("{}", format::stat_block(&stat));
            Outcome::Done
        }
        Ok(None) => fail(&zookeeper_client::Error::NoNode, path),
        Err(e) => fail(&e, path),
    }
}

async fn create(
    ctx: &Context<'_>,
    path: &str,
    data: Option<&str>,
    kind: NodeKind,
    sequential: bool,
    ttl_ms: Option<u64>,
) -> Outcome {
    let mode = match (kind, sequential) {
        (NodeKind::Persistent, false) => CreateMode::Persistent,
        (NodeKind::Persistent, true) => CreateMode::PersistentSequential,
        (NodeKind::Ephemeral, false) => CreateMode::Ephemeral,
        (NodeKind::Ephemeral, true) => CreateMode::EphemeralSequential,
        (NodeKind::Container, _) => CreateMode::Container,
    };
    let mut options: CreateOptions<'_> = mode.with_acls(Acls::anyone_all());
    if let Some(ttl) = ttl_ms {
        options = options.with_ttl(Duration::from_millis(ttl));
    }
    let bytes = data.unwrap_or_default().as_bytes();
    match ctx.client.create(path, bytes, &options).await {
        Ok((_, sequence)) => {
            if sequential {
                println!("Created {path}{sequence}");
            } else {
                println!("Created {path}");
            }
            Outcome::Done
        }
        Err(e) => fail(&e, path),
    }
}

/// `deleteall`: list the subtree breadth-first, then delete deepest first in
/// pipelined batches (zkCli's `ZKUtil.deleteRecursive`). Nodes that vanish
/// meanwhile are fine; ZooKeeper's own `/zookeeper` subtree is left alone.
async fn delete_all(ctx: &Context<'_>, path: &str) -> Outcome {
    let mut tree = vec![path.to_string()];
    let mut next = 0;
    while next < tree.len() {
        let node = tree[next].clone();
        next += 1;
        match ctx.client.list_children(&node).await {
            Ok(mut children) => {
                children.sort();
                tree.extend(children.iter().map(|c| child_path(&node, c)));
            }
            Err(zookeeper_client::Error::NoNode) if node != path => {}
            Err(e) => return fail(&e, &node),
        }
    }
    let doomed: Vec<&String> = tree
        .iter()
        .rev()
        .filter(|p| p.as_str() != "/" && *p != "/zookeeper" && !p.starts_with("/zookeeper/"))
        .collect();
    for batch in doomed.chunks(DELETE_BATCH) {
        // Requests go out when the futures are created, so creating the
        // whole batch before awaiting any of them pipelines it.
        let pending: Vec<_> = batch
            .iter()
            .map(|p| (p.as_str(), ctx.client.delete(p, None)))
            .collect();
        for (node, reply) in pending {
            match reply.await {
                Ok(()) | Err(zookeeper_client::Error::NoNode) => {}
                Err(e) => return fail(&e, node),
            }
        }
    }
    Outcome::Done
}

/// `watch`: one persistent (or recursive) watch, every event on its own line,
/// until `count` events, `stop`, or the session ends.
async fn watch<S>(
    ctx: &Context<'_>,
    path: &str,
    recursive: bool,
    count: Option<u64>,
    stop: S,
) -> Outcome
where
    S: Future<Output = ()>,
{
    let mode = if recursive {
        AddWatchMode::PersistentRecursive
    } else {
        AddWatchMode::Persistent
    };
    let mut watcher = match ctx.client.watch(path, mode).await {
        Ok(watcher) => watcher,
        Err(e) => return fail(&e, path),
    };
    tokio::pin!(stop);
    let mut seen = 0u64;
    while count.is_none_or(|limit| seen < limit) {
        let event = tokio::select! {
            event = watcher.changed() => event,
            () = &mut stop => break,
        };
        println!("{}", format::watched_event(&event));
        if event.event_type == EventType::Session {
            // The watcher panics if polled after a terminal state; a
            // disconnect is only reported, the client reconnects by itself.
            if event.session_state.is_terminated() {
                return Outcome::Failed;
            }
            continue;
        }
        seen += 1;
    }
    Outcome::Done
}
