//! tw-scenario
