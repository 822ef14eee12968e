//! smishtrap-sensor: see ARCHITECTURE.md.
