//! Fuzz the ar reader: any bytes, pushed in two chunk sizes; the sink checks that members
//! begin and end in order (it panics otherwise) and keeps at most 64 KiB of each.
#![no_main]
use airgate::inspect::formats::{Collect, Reader};
use libfuzzer_sys::fuzz_target;

fn reader() -> Box<dyn Reader> {
    Box::new(airgate::inspect::formats::ar::ArReader::new(false))
}

fuzz_target!(|data: &[u8]| {
    for step in [1usize, 4096] {
        let mut r = reader();
        let mut c = Collect::new(1 << 16);
        for chunk in data.chunks(step) {
            r.push(chunk, &mut c);
        }
        r.end(&mut c);
    }
});
