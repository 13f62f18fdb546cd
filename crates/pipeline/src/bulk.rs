//! Sending `_bulk` requests so that nothing is lost and nothing is duplicated.
