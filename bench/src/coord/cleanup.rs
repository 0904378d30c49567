//! Removes the benchmark's subtree, whatever state a failed run left it in.

use anyhow::Context as _;
use zookeeper_client::{Client, Error};

/// Deletes in flight at once: pipelined, yet far below any server's limit on
/// outstanding requests per connection.
const BATCH: usize = 1000;

/// Deletes `root` and everything under it; returns how many nodes went.
/// A missing root is not an error (nothing to clean).
pub async fn delete_tree(client: &Client, root: &str) -> anyhow::Result<usize> {
    let mut tree = vec![root.to_string()];
    let mut next = 0;
    while next < tree.len() {
        let node = tree[next].clone();
        next += 1;
        match client.list_children(&node).await {
            Ok(children) => tree.extend(children.into_iter().map(|c| format!("{node}/{c}"))),
            Err(Error::NoNode) => {}
            Err(e) => return Err(e).with_context(|| format!("getChildren {node}")),
        }
    }
    let mut removed = 0;
    // Deepest first: breadth-first order reversed puts children before parents.
    let doomed: Vec<&String> = tree.iter().rev().collect();
    for batch in doomed.chunks(BATCH) {
        // Requests are sent when the futures are made; awaiting afterwards
        // keeps the whole batch in flight.
        let pending: Vec<_> = batch.iter().map(|p| (p, client.delete(p, None))).collect();
        for (path, reply) in pending {
            match reply.await {
                Ok(()) => removed += 1,
                Err(Error::NoNode) => {}
                Err(e) => return Err(e).with_context(|| format!("delete {path}")),
            }
        }
    }
    Ok(removed)
}
