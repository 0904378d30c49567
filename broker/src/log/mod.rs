//! A partition's log (being written: see the broker issue).
