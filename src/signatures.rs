//! The signature set: TOML files under `signatures/`, compiled in, extendable with `--signatures`.
