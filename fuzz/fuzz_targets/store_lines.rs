//! The results store's line parser on arbitrary bytes: it never panics, and what it keeps
//! and what it sets aside always add up to the input.
#![no_main]

use arelu::experiment::record::{RunRecord, Settings};
use arelu::experiment::store::scan;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(scanned) = scan::<Settings, RunRecord>(data) else {
        return;
    };
    // The kept part is whole lines; the rest, if any, is the incomplete line set aside.
    assert!(scanned.complete_len <= data.len());
    assert!(scanned.complete_len == 0 || data[scanned.complete_len - 1] == b'\n');
    match scanned.incomplete {
        Some(start) => assert_eq!(start, scanned.complete_len),
        None => assert_eq!(scanned.complete_len, data.len()),
    }
    // Records only after a header.
    assert!(scanned.settings.is_some() || scanned.records.is_empty());
    // The kept part alone scans to the same records, with nothing set aside.
    let again = scan::<Settings, RunRecord>(&data[..scanned.complete_len])
        .unwrap_or_else(|e| panic!("the kept part does not scan: {e:?}"));
    assert_eq!(again.records.len(), scanned.records.len());
    assert_eq!(again.incomplete, None);
});
