//! tw-metrics
