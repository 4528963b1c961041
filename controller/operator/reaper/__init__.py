"""The reaper: its pure rules, and the sweep that applies them to every backend's live resources."""
