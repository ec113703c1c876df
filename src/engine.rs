//! Matching: inventory × signatures × policy → findings. Pure: no I/O, no clock.
