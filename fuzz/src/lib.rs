//! Shared bodies of the tamperwatch fuzz targets (see `docs/fuzzing.md`).
//! The same files are compiled into the stable corpus replay tests.

pub mod capture;
pub mod config_input;
pub mod detect;
