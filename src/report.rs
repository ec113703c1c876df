//! Reports: schema v1 device records and their renderings.
