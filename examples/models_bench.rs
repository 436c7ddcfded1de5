//! Throughput of the model inspectors on a synthetic 1 GB bf16 safetensors file and a 1 GB
//! PyTorch-style zip (stored members, sizes in data descriptors), fed in 1 MiB chunks from
//! memory so only inspection is measured. Run: `cargo run --release --example models_bench`.

use airgate::inspect::{model_inspectors, Engine, ScanContext};
use std::time::Instant;

const GB: usize = 1 << 30;
const CHUNK: usize = 1 << 20;

fn noise(n: usize) -> Vec<u8> {
    let mut x = 0x2545_f491_4f6c_dd1du64;
    (0..n)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            // bf16-like: exponent bytes cluster, mantissa bytes vary
            (x >> 24) as u8
        })
        .collect()
}

fn run(label: &str, head: &[u8], body_len: usize, tail: &[u8], chunk: &[u8]) {
    let engine = Engine::new(model_inspectors(), ScanContext::default());
    let total = head.len() + body_len + tail.len();
    let mut times = Vec::new();
    for _ in 0..3 {
        let t = Instant::now();
        let mut s = engine.begin_file("bench.bin", Some(total as u64), 0);
        s.update(head);
        let mut left = body_len;
        while left > 0 {
            let n = left.min(chunk.len());
            s.update(&chunk[..n]);
            left -= n;
        }
        s.update(tail);
        let f = s.finish();
        times.push(t.elapsed().as_secs_f64());
        assert!(
            f.iter()
                .all(|x| x.severity < airgate::inspect::Severity::Medium),
            "{label}: {f:?}"
        );
    }
    times.sort_by(|a, b| a.total_cmp(b));
    let med = times[1];
    println!(
        "{label}: median of 3 = {:.3} s, {:.0} MB/s",
        med,
        total as f64 / med / 1e6
    );
}

fn main() {
    let chunk = noise(CHUNK);
    // safetensors: one BF16 tensor of GB bytes.
    let n = GB / 2;
    let header = format!(r#"{{"w":{{"dtype":"BF16","shape":[{n}],"data_offsets":[0,{GB}]}}}}"#);
    let mut head = (header.len() as u64).to_le_bytes().to_vec();
    head.extend(header.as_bytes());
    run("safetensors 1 GB", &head, GB, &[], &chunk);

    // PyTorch zip: data.pkl, then one 1 GB stored member written with a data descriptor.
    let name = b"archive/data/0";
    let mut zhead = b"PK\x03\x04\x14\x00\x08\x08\x00\x00\x00\x00\x00\x00".to_vec();
    zhead.extend([0u8; 12]);
    zhead.extend((name.len() as u16).to_le_bytes());
    zhead.extend(0u16.to_le_bytes());
    zhead.extend(name);
    let mut crc = flate2::Crc::new();
    let mut left = GB;
    while left > 0 {
        let k = left.min(CHUNK);
        crc.update(&chunk[..k]);
        left -= k;
    }
    let mut tail = b"PK\x07\x08".to_vec();
    tail.extend(crc.sum().to_le_bytes());
    tail.extend((GB as u32).to_le_bytes());
    tail.extend((GB as u32).to_le_bytes());
    let cd_off = (zhead.len() + GB + 16) as u32;
    let mut cd = b"PK\x01\x02\x14\x00\x14\x00\x08\x08\x00\x00\x00\x00\x00\x00".to_vec();
    cd.extend(crc.sum().to_le_bytes());
    cd.extend((GB as u32).to_le_bytes());
    cd.extend((GB as u32).to_le_bytes());
    cd.extend((name.len() as u16).to_le_bytes());
    cd.extend([0u8; 12]);
    cd.extend(0u32.to_le_bytes());
    cd.extend(name);
    let mut eocd = b"PK\x05\x06\x00\x00\x00\x00\x01\x00\x01\x00".to_vec();
    eocd.extend((cd.len() as u32).to_le_bytes());
    eocd.extend(cd_off.to_le_bytes());
    eocd.extend(0u16.to_le_bytes());
    tail.extend(cd);
    tail.extend(eocd);
    run("torch zip 1 GB", &zhead, GB, &tail, &chunk);
}
