//! runnel-coord: a ZooKeeper-protocol coordination server on sled.
