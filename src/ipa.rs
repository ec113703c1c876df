//! IPA fingerprinting: `Payload/*.app/Info.plist` and `iTunesMetadata.plist`.
