//! `hsi-edge backhaul` against a real S3 protocol server (moto): a multipart upload stopped
//! midway (by its part budget, then by SIGKILL) resumes from its recorded parts and completes
//! with the file's checksum, under the DESIGN §7 key, untagged.
#![cfg(feature = "runtime")]

mod runtime_common;

use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use aws_sdk_s3::config::{BehaviorVersion, Credentials, Region};
use runtime_common::*;
use sha2::{Digest, Sha256};

const PART: u64 = 5 << 20;
const BUCKET: &str = "hsi-raw";

fn s3(endpoint: &str) -> aws_sdk_s3::Client {
    let conf = aws_sdk_s3::config::Builder::new()
        .behavior_version(BehaviorVersion::latest())
        .region(Region::new("us-east-1"))
        .endpoint_url(endpoint)
        .force_path_style(true)
        .credentials_provider(Credentials::new("test", "test", None, None, "static"))
        .build();
    aws_sdk_s3::Client::from_conf(conf)
}

fn backhaul_cmd(setup: &Setup, max_parts: Option<u32>) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_hsi-edge"));
    c.args(["--log-format", "json", "backhaul", "--config"])
        .arg(&setup.config)
        .env("AWS_ACCESS_KEY_ID", "test")
        .env("AWS_SECRET_ACCESS_KEY", "test")
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    if let Some(n) = max_parts {
        c.args(["--max-parts", &n.to_string()]);
    }
    c
}

fn report(out: &Output) -> serde_json::Value {
    let text = String::from_utf8_lossy(&out.stdout);
    serde_json::from_str(text.trim()).unwrap_or_else(|e| {
        panic!(
            "{e}: stdout {text}\nstderr {}",
            String::from_utf8_lossy(&out.stderr)
        )
    })
}

fn resume_parts(setup: &Setup, name: &str) -> Option<usize> {
    let p = setup.state().join(format!("backhaul/{name}.0.json"));
    let v: serde_json::Value = serde_json::from_slice(&std::fs::read(p).ok()?).ok()?;
    v["parts"].as_array().map(Vec::len)
}

#[test]
fn an_interrupted_backhaul_resumes_and_completes_with_a_matching_checksum() {
    let Some(moto) = hsi_edge::testkit::Moto::start("runtime_backhaul::resume") else {
        return;
    };
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let client = s3(&moto.endpoint());
    rt.block_on(client.create_bucket().bucket(BUCKET).send())
        .expect("create bucket");

    let work = tempfile::tempdir().expect("tempdir");
    let cube = synth_cubes(work.path(), 1, 150, 300).remove(0);
    let size = std::fs::metadata(&cube).expect("cube").len();
    let parts_total = size.div_ceil(PART) as usize;
    assert!(parts_total >= 4, "{size} bytes make {parts_total} parts");
    let local_sha = hex::encode(Sha256::digest(std::fs::read(&cube).expect("read")));
    let header = hsi_edge::read::open(&cube)
        .expect("open")
        .info()
        .header
        .clone();

    let extra = format!(
        "[backhaul]\nbucket = \"{BUCKET}\"\nendpoint = \"{}\"\nforce_path_style = true\npart_size_bytes = {PART}\n",
        moto.endpoint()
    );
    let setup = Setup::new("127.0.0.1:1", 1 << 30, &extra);
    land(&cube, &setup.landing);
    // An ENVI cube too (binary first, header last), landed after the HDF5 one, so it goes second.
    let (hdr, img) = envi_chip();
    std::thread::sleep(Duration::from_millis(20));
    land(&img, &setup.landing);
    land(&hdr, &setup.landing);
    let name = cube
        .file_name()
        .expect("name")
        .to_string_lossy()
        .into_owned();
    assert!(
        name.starts_with("synth-") && name.ends_with(".h5"),
        "{name}"
    );

    // 1. A part budget stops the upload after two parts (exit status 3: something left).
    let out = backhaul_cmd(&setup, Some(2)).output().expect("run");
    assert_eq!(
        out.status.code(),
        Some(3),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let r = report(&out);
    assert_eq!(
        (r["parts"].as_u64(), r["paused"].as_bool()),
        (Some(2), Some(true))
    );
    assert_eq!(resume_parts(&setup, &name), Some(2));

    // 2. SIGKILL midway, once a third part is recorded.
    let mut child = backhaul_cmd(&setup, None).spawn().expect("spawn");
    let end = Instant::now() + Duration::from_secs(60);
    loop {
        if resume_parts(&setup, &name).is_some_and(|n| n >= 3) || Instant::now() > end {
            break;
        }
        if child.try_wait().expect("poll").is_some() {
            break;
        }
        std::thread::sleep(Duration::from_millis(2));
    }
    let _ = child.kill();
    let _ = child.wait();
    let done_before = resume_parts(&setup, &name);
    eprintln!("killed with {done_before:?} of {parts_total} parts recorded");

    // 3. The resumed upload uploads only the missing parts and completes.
    let out = backhaul_cmd(&setup, None).output().expect("run");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let r = report(&out);
    assert_eq!(r["cubes_left"].as_u64(), Some(0));
    if let Some(done) = done_before {
        // Only the missing parts of the HDF5 cube, plus at most the ENVI cube's two files.
        let parts = r["parts"].as_u64().expect("parts") as usize;
        let missing = parts_total - done;
        assert!(
            (missing..=missing + 2).contains(&parts),
            "{parts} parts, {missing} missing"
        );
    }
    assert_eq!(
        resume_parts(&setup, &name),
        None,
        "the resume record is removed"
    );

    // The object: DESIGN §7 key, the file's bytes, its SHA-256 in metadata, no tag.
    let t = header.acquisition_time;
    let key = format!(
        "raw_cubes/{}/{}/{}/{}/{}/{}.h5",
        header.region,
        header.farm_id,
        t.format("%Y"),
        t.format("%m"),
        t.format("%d"),
        header.cube_id
    );
    let got = rt
        .block_on(client.get_object().bucket(BUCKET).key(&key).send())
        .unwrap_or_else(|e| panic!("{key}: {e:?}"));
    assert_eq!(
        got.metadata().and_then(|m| m.get("sha256")),
        Some(&local_sha)
    );
    let body = rt.block_on(got.body.collect()).expect("body").into_bytes();
    assert_eq!(body.len() as u64, size);
    assert_eq!(hex::encode(Sha256::digest(&body)), local_sha);
    let tags = rt
        .block_on(client.get_object_tagging().bucket(BUCKET).key(&key).send())
        .expect("tagging");
    assert!(
        tags.tag_set().is_empty(),
        "backhaul sets no tag: {:?}",
        tags.tag_set()
    );
    let uploads = rt
        .block_on(client.list_multipart_uploads().bucket(BUCKET).send())
        .expect("uploads");
    assert!(uploads.uploads().is_empty(), "no dangling multipart upload");

    let rec: serde_json::Value = serde_json::from_slice(
        &std::fs::read(setup.state().join(format!("cubes/{name}.json"))).expect("state"),
    )
    .expect("json");
    assert_eq!(rec["backhauled"]["keys"][0].as_str(), Some(key.as_str()));
    assert_eq!(
        rec["backhauled"]["sha256"][0].as_str(),
        Some(local_sha.as_str())
    );

    // The ENVI cube: header and binary under the same prefix, byte for byte.
    let envi = hsi_edge::read::open(&hdr)
        .expect("open ENVI")
        .info()
        .header
        .clone();
    let t = envi.acquisition_time;
    let prefix = format!(
        "raw_cubes/{}/{}/{}/{}/{}/{}",
        envi.region,
        envi.farm_id,
        t.format("%Y"),
        t.format("%m"),
        t.format("%d"),
        envi.cube_id
    );
    for (ext, local) in [("hdr", &hdr), ("img", &img)] {
        let key = format!("{prefix}.{ext}");
        let got = rt
            .block_on(client.get_object().bucket(BUCKET).key(&key).send())
            .unwrap_or_else(|e| panic!("{key}: {e:?}"));
        let body = rt.block_on(got.body.collect()).expect("body").into_bytes();
        assert_eq!(
            body.as_ref(),
            std::fs::read(local).expect("local").as_slice(),
            "{key}"
        );
    }

    // Nothing left: a second run uploads nothing.
    let out = backhaul_cmd(&setup, None).output().expect("run");
    assert!(out.status.success());
    assert_eq!(report(&out)["parts"].as_u64(), Some(0));
}
