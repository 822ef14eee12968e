//! smishtrap-extract: see ARCHITECTURE.md.
