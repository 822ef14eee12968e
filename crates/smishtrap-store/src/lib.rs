//! smishtrap-store: see ARCHITECTURE.md.
