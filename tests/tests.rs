//! Integration tests of the real binary against the embedded broker and tansu.
//! One crate, one `mod` per area (the ripgrep layout).

mod it;
