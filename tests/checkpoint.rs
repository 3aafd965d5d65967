//! Safetensors checkpoints: the bytes against an independent reading of the format, round trips, and
//! every kind of damage rejected with a message naming the file.

use flowcollapse::checkpoint::{Checkpoint, CheckpointError, Tensor};

fn sample() -> Checkpoint {
    Checkpoint {
        tensors: vec![
            Tensor::new("layer0.weight", vec![2, 3], vec![1.0, -2.5, 3.25, f32::MIN_POSITIVE, 0.0, -0.0]),
            Tensor::new("layer0.bias", vec![2], vec![7.0, f32::MAX]),
            Tensor::new("scalar", vec![], vec![0.5]),
        ],
        metadata: vec![("step".into(), "42".into()), ("format".into(), "flowcollapse".into())],
    }
}

#[test]
fn bytes_follow_the_safetensors_layout() {
    let bytes = sample().to_bytes();
    let n = u64::from_le_bytes(bytes[..8].try_into().unwrap()) as usize;
    assert_eq!(n % 8, 0, "header padded to 8 bytes");
    let header: serde_json::Value = serde_json::from_slice(&bytes[8..8 + n]).unwrap();
    assert_eq!(header["__metadata__"]["step"], "42");
    let data = &bytes[8 + n..];
    assert_eq!(data.len(), 4 * (6 + 2 + 1));
    // Read each tensor back from its offsets, independently of Checkpoint::from_bytes.
    for t in &sample().tensors {
        let entry = &header[&t.name];
        assert_eq!(entry["dtype"], "F32");
        assert_eq!(entry["shape"], serde_json::json!(t.shape));
        let (b, e) =
            (entry["data_offsets"][0].as_u64().unwrap() as usize, entry["data_offsets"][1].as_u64().unwrap() as usize);
        let values: Vec<u32> = data[b..e].chunks(4).map(|c| u32::from_le_bytes(c.try_into().unwrap())).collect();
        assert_eq!(values, t.data.iter().map(|v| v.to_bits()).collect::<Vec<_>>(), "{}", t.name);
    }
}

#[test]
fn round_trip_is_exact_and_bytes_are_deterministic() {
    let c = sample();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("model.safetensors");
    c.save(&path).unwrap();
    let back = Checkpoint::load(&path).unwrap();
    assert_eq!(back.metadata, c.metadata);
    for (a, b) in back.tensors.iter().zip(&c.tensors) {
        assert_eq!((a.name.as_str(), &a.shape), (b.name.as_str(), &b.shape));
        assert!(a.data.iter().zip(&b.data).all(|(x, y)| x.to_bits() == y.to_bits()));
    }
    assert_eq!(back.to_bytes(), c.to_bytes(), "re-serialising gives the same bytes");
    assert_eq!(back.meta::<u64>("step", "an integer", "m").unwrap(), 42);
    assert!(back.tensor("layer0.bias", &[2], "m").is_ok());
    assert!(matches!(back.tensor("layer0.bias", &[3], "m"), Err(CheckpointError::Shape { .. })));
    assert!(matches!(back.tensor("nope", &[2], "m"), Err(CheckpointError::Missing { .. })));
    // Only the checkpoint is left in the directory: no temporary files.
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
}

#[test]
fn damaged_files_are_rejected_with_their_name() {
    let good = sample().to_bytes();
    let n = u64::from_le_bytes(good[..8].try_into().unwrap()) as usize;
    let mut cases: Vec<(Vec<u8>, &str)> = vec![
        (good[..5].to_vec(), "shorter than the 8-byte header length"),
        (good[..good.len() - 4].to_vec(), "data bytes"),
        ([&good[..], &[0u8; 4]].concat(), "data bytes"),
        ([&(u64::MAX).to_le_bytes()[..], &good[8..]].concat(), "exceeds"),
    ];
    let mut broken_json = good.clone();
    broken_json[8] = b'[';
    cases.push((broken_json, "header"));
    let header = String::from_utf8(good[8..8 + n].to_vec()).unwrap();
    let retyped = header.replacen("\"F32\"", "\"F16\"", 1);
    cases.push(([&good[..8], retyped.as_bytes(), &good[8 + n..]].concat(), "only F32"));
    for (bytes, needle) in cases {
        match Checkpoint::from_bytes(&bytes, "damaged.safetensors") {
            Err(e) => {
                let message = e.to_string();
                assert!(message.contains("damaged.safetensors") && message.contains(needle), "{message}");
            }
            Ok(_) => panic!("accepted damaged bytes ({needle})"),
        }
    }
    // Every prefix of a good file is an error, never a panic.
    for cut in 0..good.len() {
        assert!(Checkpoint::from_bytes(&good[..cut], "prefix").is_err(), "prefix of {cut} bytes accepted");
    }
}
