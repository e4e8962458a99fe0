//! tw-capture
