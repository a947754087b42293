//! polyhost runtime
