//! Policies: which signatures make a device a violation, which are notices; allow-list mode.
