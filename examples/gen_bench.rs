//! Generates the synthetic benchmark tree for `make bench`: bf16-like safetensors shards, a
//! tokenizer, a JSONL dataset and a few thousand small files.
//! Usage: `cargo run --release --example gen_bench -- OUT_DIR TOTAL_MB`

use std::io::Write;

struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        // xorshift64*
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    /// Roughly normal (sum of four uniforms), scaled like trained weights.
    fn weight(&mut self) -> f32 {
        let r = self.next();
        let s: f32 = (0..4)
            .map(|i| ((r >> (i * 16)) & 0xffff) as f32 / 65535.0)
            .sum();
        (s - 2.0) * 0.03
    }
}

fn shard(path: &std::path::Path, bytes: usize, rng: &mut Rng) -> std::io::Result<()> {
    let n = bytes / 2;
    let rows = 4096usize;
    let cols = n / rows;
    let data_len = rows * cols * 2;
    let header = format!(
        "{{\"__metadata__\":{{\"format\":\"pt\"}},\"w\":{{\"dtype\":\"BF16\",\"shape\":[{rows},{cols}],\"data_offsets\":[0,{data_len}]}}}}"
    );
    let mut h = header.into_bytes();
    while h.len() % 8 != 0 {
        h.push(b' ');
    }
    let mut f = std::io::BufWriter::with_capacity(1 << 20, std::fs::File::create(path)?);
    f.write_all(&(h.len() as u64).to_le_bytes())?;
    f.write_all(&h)?;
    let mut buf = Vec::with_capacity(1 << 20);
    for _ in 0..rows * cols {
        let bits = rng.weight().to_bits();
        buf.extend_from_slice(&((bits >> 16) as u16).to_le_bytes());
        if buf.len() >= 1 << 20 {
            f.write_all(&buf)?;
            buf.clear();
        }
    }
    f.write_all(&buf)?;
    f.flush()
}

fn main() -> std::io::Result<()> {
    let args: Vec<String> = std::env::args().collect();
    let (Some(out), Some(total_mb)) = (
        args.get(1),
        args.get(2).and_then(|s| s.parse::<usize>().ok()),
    ) else {
        eprintln!("usage: gen_bench OUT_DIR TOTAL_MB");
        std::process::exit(2);
    };
    let out = std::path::Path::new(out);
    std::fs::create_dir_all(out.join("small"))?;
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
    let total = total_mb << 20;
    let dataset = total / 20;
    let small_files = 3000usize;
    let weights = total - dataset - small_files * 2048;
    let shards = 4;
    for i in 0..shards {
        shard(
            &out.join(format!("model-{:05}-of-{shards:05}.safetensors", i + 1)),
            weights / shards,
            &mut rng,
        )?;
    }
    let mut tok = String::from("{\"version\":\"1.0\",\"model\":{\"type\":\"BPE\",\"vocab\":{");
    for i in 0..32000 {
        tok.push_str(&format!("\"tok{i}\":{i},"));
    }
    tok.push_str("\"end\":32000},\"merges\":[]}}");
    std::fs::write(out.join("tokenizer.json"), tok)?;
    let words = [
        "the", "model", "gate", "enclave", "verify", "bundle", "tensor", "layer", "weights", "data",
    ];
    let mut f = std::io::BufWriter::new(std::fs::File::create(out.join("train.jsonl"))?);
    let mut written = 0;
    while written < dataset {
        let mut line = String::from("{\"prompt\":\"");
        for _ in 0..40 {
            line.push_str(words[(rng.next() % words.len() as u64) as usize]);
            line.push(' ');
        }
        line.push_str("\",\"completion\":\"ok\"}\n");
        written += line.len();
        f.write_all(line.as_bytes())?;
    }
    f.flush()?;
    for i in 0..small_files {
        let dir = out.join("small").join(format!("{:02}", i % 50));
        std::fs::create_dir_all(&dir)?;
        let body: String = (0..40)
            .map(|_| words[(rng.next() % 10) as usize])
            .collect::<Vec<_>>()
            .join(" ");
        std::fs::write(dir.join(format!("note-{i}.txt")), body.repeat(5))?;
    }
    Ok(())
}
