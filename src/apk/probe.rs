//! The probe state machine (placeholder until the zip/signing-block/AXML readers land).

use super::{ApkError, ApkInfo, Step};

#[derive(Debug)]
pub(super) struct State {
    len: u64,
}

impl State {
    pub(super) fn new(len: u64) -> Self {
        Self { len }
    }

    pub(super) fn start(&mut self) -> Step {
        Step::Need(vec![super::ByteRange::new(
            self.len.saturating_sub(65_557),
            65_557,
        )])
    }

    pub(super) fn feed(&mut self, _data: Vec<Vec<u8>>) -> Result<Step, ApkError> {
        let _ = ApkInfo::default();
        Err(ApkError::NotZip("APK reader not built yet"))
    }
}
