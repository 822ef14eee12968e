//! smishtrap-export: see ARCHITECTURE.md.
