//! Tests of pattern alerts.
