//! Removes the benchmark's subtree, whatever state a failed run left it in;
//! timed, it is also the `drain` phase.
//!
//! The tree is listed level by level and deleted deepest level first, each
//! level's requests spread over every session with a window in flight on
//! each ([`window::run`]): a parent goes only after its whole level of
//! children is gone, and within a level nothing depends on anything else.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use anyhow::Context as _;
use zookeeper_client::{Client, Error};

use super::window::{self, Driven, Queue};

/// Requests in flight over all sessions when cleaning up: deep enough to
/// keep a server busy, and below ZooKeeper's `globalOutstandingLimit` (1000),
/// past which it stops reading from clients.
const IN_FLIGHT: u32 = 512;

/// The window per session that keeps about [`IN_FLIGHT`] requests in flight.
pub fn window_for(sessions: usize) -> u32 {
    let sessions = u32::try_from(sessions.max(1)).unwrap_or(u32::MAX);
    (IN_FLIGHT / sessions).clamp(1, 256)
}

/// Deletes `root` and everything under it with `window` requests in flight
/// per session; returns how many nodes went and the requests' figures
/// (getChildren and delete alike). A missing root is not an error (nothing
/// to clean), nor is a node someone else deleted first.
pub async fn delete_tree(
    clients: &[Client],
    root: &str,
    window: u32,
) -> anyhow::Result<(u64, Driven)> {
    let mut levels = vec![vec![root.to_string()]];
    let mut driven = Driven {
        ops: 0,
        samples: Default::default(),
        finished: Instant::now(),
    };
    loop {
        let (children, listed) =
            list_children(clients, levels.last().expect("root"), window).await?;
        driven.merge(listed);
        if children.is_empty() {
            break;
        }
        levels.push(children);
    }
    let removed = Arc::new(AtomicU64::new(0));
    while let Some(level) = levels.pop() {
        let queue = Queue::new(level);
        let job = {
            let removed = Arc::clone(&removed);
            move |_: usize, client: &Client| {
                let path = queue.take()?;
                let reply = client.delete(path, None);
                let (path, removed) = (path.clone(), Arc::clone(&removed));
                Some(async move {
                    match reply.await {
                        Ok(()) => removed.fetch_add(1, Ordering::Relaxed),
                        Err(Error::NoNode) => 0,
                        Err(e) => return Err(e).with_context(|| format!("delete {path}")),
                    };
                    Ok(())
                })
            }
        };
        driven.merge(window::run(clients, window, None, job).await?);
    }
    Ok((removed.load(Ordering::Relaxed), driven))
}

/// The children of every node of one level, as full paths.
async fn list_children(
    clients: &[Client],
    level: &[String],
    window: u32,
) -> anyhow::Result<(Vec<String>, Driven)> {
    let queue = Queue::new(level.to_vec());
    let found = Arc::new(Mutex::new(Vec::new()));
    let job = {
        let found = Arc::clone(&found);
        move |_: usize, client: &Client| {
            let node = queue.take()?.clone();
            let (client, found) = (client.clone(), Arc::clone(&found));
            Some(async move {
                let children = match client.list_children(&node).await {
                    Ok(children) => children,
                    Err(Error::NoNode) => return Ok(()),
                    Err(e) => return Err(e).with_context(|| format!("getChildren {node}")),
                };
                let mut found = found.lock().expect("no panics while held");
                found.extend(children.into_iter().map(|c| format!("{node}/{c}")));
                Ok(())
            })
        }
    };
    let driven = window::run(clients, window, None, job).await?;
    let children = std::mem::take(&mut *found.lock().expect("no panics while held"));
    Ok((children, driven))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cleanup_window_keeps_about_512_in_flight() {
        assert_eq!(window_for(0), 256);
        assert_eq!(window_for(1), 256);
        assert_eq!(window_for(16), 32);
        assert_eq!(window_for(64), 8);
        assert_eq!(window_for(1000), 1);
    }
}
