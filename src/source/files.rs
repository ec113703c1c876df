//! `scan files`: APK and IPA files and folders of them.
