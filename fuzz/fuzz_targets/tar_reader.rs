//! Fuzz the strict tar reader: any bytes, read every entry to the end.
#![no_main]
use airgate::container::{TarLimits, TarReader};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let limits = TarLimits {
        max_entries: 64,
        max_file_bytes: 1 << 20,
        max_total_bytes: 1 << 22,
        max_path_bytes: 256,
        max_path_depth: 16,
        refuse_name_collisions: data.first().is_some_and(|b| b & 1 == 0),
    };
    let mut r = TarReader::new(data, limits);
    let mut buf = [0u8; 4096];
    while let Ok(Some(_)) = r.next_entry() {
        while let Ok(n) = r.read_data(&mut buf) {
            if n == 0 {
                break;
            }
        }
    }
});
