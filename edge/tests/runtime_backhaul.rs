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

/// A moto server with the test bucket, a runtime and a client for it.
fn moto_with_bucket(
    test: &str,
) -> Option<(
    hsi_edge::testkit::Moto,
    tokio::runtime::Runtime,
    aws_sdk_s3::Client,
)> {
    let moto = hsi_edge::testkit::Moto::start(test)?;
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let client = s3(&moto.endpoint());
    rt.block_on(client.create_bucket().bucket(BUCKET).send())
        .expect("create bucket");
    Some((moto, rt, client))
}

#[test]
fn an_interrupted_backhaul_resumes_and_completes_with_a_matching_checksum() {
    let Some((moto, rt, client)) = moto_with_bucket("runtime_backhaul::resume") else {
        return;
    };

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

    // The ENVI cube: header and binary under the same prefix, byte for byte. Its time comes
    // from the AVIRIS-NG file name, its farm and region from the daemon's `[identity]`.
    let envi = hsi_edge::read::open(&hdr)
        .expect("open ENVI")
        .info()
        .header
        .clone();
    assert_eq!(
        envi.acquisition_time.format("%Y-%m-%d").to_string(),
        "2014-09-12"
    );
    let envi = hsi_edge::cube::CubeHeader {
        region: "us-test".into(),
        farm_id: "farm-edge-test".into(),
        ..envi
    };
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

/// `hsi-edge run` with AWS test credentials, its log in `root/daemon-N.log`.
fn spawn_daemon(setup: &Setup, n: usize) -> std::process::Child {
    let log =
        std::fs::File::create(setup.root.path().join(format!("daemon-{n}.log"))).expect("log file");
    Command::new(env!("CARGO_BIN_EXE_hsi-edge"))
        .args(["--log-format", "json", "run", "--config"])
        .arg(&setup.config)
        .env("RUST_LOG", "info")
        .env("AWS_ACCESS_KEY_ID", "test")
        .env("AWS_SECRET_ACCESS_KEY", "test")
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .stdout(Stdio::null())
        .stderr(log)
        .spawn()
        .expect("spawn hsi-edge run")
}

/// One synthetic HDF5 cube with its own cube id.
fn synth_one(dir: &std::path::Path, id: &str, lines: usize, samples: usize) -> std::path::PathBuf {
    let cfg = hsi_edge::synth::SynthConfig {
        lines,
        samples,
        n_cubes: 1,
        plot_rows: 2,
        plot_cols: 2,
        cube_id: id.to_owned(),
        ..hsi_edge::synth::SynthConfig::default()
    };
    let spectra = hsi_edge::testdata::usgs_spectra().expect("shared test data");
    hsi_edge::synth::generate(&cfg, &spectra, &dir.join(id))
        .expect("synthesis")
        .cubes
        .remove(0)
}

fn cube_record(setup: &Setup, name: &str) -> serde_json::Value {
    let p = setup.state().join(format!("cubes/{name}.json"));
    std::fs::read(&p)
        .ok()
        .and_then(|b| serde_json::from_slice(&b).ok())
        .unwrap_or(serde_json::Value::Null)
}

fn design_key(cube: &std::path::Path) -> String {
    let h = hsi_edge::read::open(cube)
        .expect("open")
        .info()
        .header
        .clone();
    let t = h.acquisition_time;
    format!(
        "raw_cubes/{}/{}/{}/{}/{}/{}.h5",
        h.region,
        h.farm_id,
        t.format("%Y"),
        t.format("%m"),
        t.format("%d"),
        h.cube_id
    )
}

fn object_keys(rt: &tokio::runtime::Runtime, client: &aws_sdk_s3::Client) -> Vec<String> {
    let out = rt
        .block_on(client.list_objects_v2().bucket(BUCKET).send())
        .expect("list objects");
    let mut keys: Vec<String> = out
        .contents()
        .iter()
        .filter_map(|o| o.key().map(str::to_owned))
        .collect();
    keys.sort();
    keys
}

/// The daemon backhauls by itself when its trigger holds (here the facility-network probe: a
/// TCP port the test opens and closes), and retention then deletes only backhauled cubes.
#[test]
fn the_daemon_backhauls_when_its_trigger_fires_and_retention_deletes_only_backhauled_cubes() {
    let Some((moto, rt, client)) = moto_with_bucket("runtime_backhaul::daemon_trigger") else {
        return;
    };

    let work = tempfile::tempdir().expect("tempdir");
    // Three cubes; the second is over one part (5 MiB), so its upload is a real multipart.
    let cubes = [
        synth_one(work.path(), "bh-a", 24, 32),
        synth_one(work.path(), "bh-b", 64, 200),
        synth_one(work.path(), "bh-c", 24, 32),
    ];
    let names: Vec<String> = cubes
        .iter()
        .map(|c| c.file_name().expect("name").to_string_lossy().into_owned())
        .collect();
    assert!(
        names[0] != names[1] && names[1] != names[2] && names[0] != names[2],
        "{names:?}"
    );
    let big = std::fs::metadata(&cubes[1]).expect("cube").len();
    assert!(big > PART, "{big} bytes: more than one part");
    // Independently computed: SHA-256 of each source file, and its DESIGN §7 key.
    let sha: Vec<String> = cubes
        .iter()
        .map(|c| hex::encode(Sha256::digest(std::fs::read(c).expect("read"))))
        .collect();
    let keys: Vec<String> = cubes.iter().map(|c| design_key(c)).collect();

    // The facility probe: a port nobody listens on until the test says the node is home.
    let probe_port = hsi_edge::testkit::free_port().expect("port");
    let extra = format!(
        "[backhaul]\nenabled = true\nbucket = \"{BUCKET}\"\nendpoint = \"{}\"\n\
         force_path_style = true\npart_size_bytes = {PART}\n\
         [backhaul.trigger]\nfacility_probe = \"127.0.0.1:{probe_port}\"\ncheck_interval = \"200ms\"\n\
         [retention]\nenabled = true\nhigh_water_bytes = 1\nlow_water_bytes = 0\n",
        moto.endpoint()
    );
    // No broker: processing commits to the outbox, which is all retention needs ("processed").
    let setup = Setup::new("127.0.0.1:1", 1 << 30, &extra);
    let mut child = spawn_daemon(&setup, 0);
    assert!(setup.wait_up(Duration::from_secs(60)), "{}", setup.logs());

    // 1. Off the facility network: processed, not uploaded, and retention deletes nothing
    //    although the landing directory is far above its high-water mark.
    land(&cubes[0], &setup.landing);
    land(&cubes[1], &setup.landing);
    assert!(
        wait_until(Duration::from_secs(180), || setup
            .metric("hsi_edge_cubes_processed_total")
            == Some(2.0)),
        "{}",
        setup.logs()
    );
    std::thread::sleep(Duration::from_secs(2));
    assert_eq!(object_keys(&rt, &client), Vec::<String>::new());
    assert_eq!(setup.metric("hsi_edge_backhaul_active"), Some(0.0));
    assert_eq!(
        setup.metric("hsi_edge_retention_deleted_cubes_total"),
        Some(0.0)
    );
    for n in &names[..2] {
        assert!(setup.landing.join(n).exists(), "{n} is not backhauled yet");
        assert!(cube_record(&setup, n)["backhauled"].is_null());
    }

    // 2. Home: the trigger fires, the daemon uploads both cubes, then retention deletes them.
    let home = std::net::TcpListener::bind(("127.0.0.1", probe_port)).expect("bind probe");
    assert!(
        wait_until(Duration::from_secs(120), || setup
            .metric("hsi_edge_backhaul_cubes_total")
            == Some(2.0)),
        "{}",
        setup.logs()
    );
    let mut want_keys = keys[..2].to_vec();
    want_keys.sort();
    assert_eq!(object_keys(&rt, &client), want_keys);
    for i in 0..2 {
        let got = rt
            .block_on(client.get_object().bucket(BUCKET).key(&keys[i]).send())
            .unwrap_or_else(|e| panic!("{}: {e:?}", keys[i]));
        assert_eq!(got.metadata().and_then(|m| m.get("sha256")), Some(&sha[i]));
        let body = rt.block_on(got.body.collect()).expect("body").into_bytes();
        assert_eq!(hex::encode(Sha256::digest(&body)), sha[i], "{}", keys[i]);
        let tags = rt
            .block_on(
                client
                    .get_object_tagging()
                    .bucket(BUCKET)
                    .key(&keys[i])
                    .send(),
            )
            .expect("tagging");
        assert!(
            tags.tag_set().is_empty(),
            "no processing_status tag: {:?}",
            tags.tag_set()
        );
    }
    let uploads = rt
        .block_on(client.list_multipart_uploads().bucket(BUCKET).send())
        .expect("uploads");
    assert!(uploads.uploads().is_empty(), "no dangling multipart upload");
    assert!(
        wait_until(Duration::from_secs(30), || names[..2]
            .iter()
            .all(|n| !setup.landing.join(n).exists())),
        "retention deletes backhauled cubes\n{}",
        setup.logs()
    );
    // The daemon deletes a file, then records it in its state and metrics: wait for both.
    assert!(
        wait_until(Duration::from_secs(30), || {
            setup.metric("hsi_edge_retention_deleted_cubes_total") == Some(2.0)
                && names[..2]
                    .iter()
                    .all(|n| cube_record(&setup, n)["deleted_at"].is_string())
        }),
        "retention records both deletions\n{}",
        setup.logs()
    );
    for (i, n) in names[..2].iter().enumerate() {
        let r = cube_record(&setup, n);
        assert_eq!(r["backhauled"]["bucket"].as_str(), Some(BUCKET), "{r}");
        assert_eq!(r["backhauled"]["keys"][0].as_str(), Some(keys[i].as_str()));
        assert_eq!(r["backhauled"]["sha256"][0].as_str(), Some(sha[i].as_str()));
        assert!(
            r["processed"].is_object() && r["deleted_at"].is_string(),
            "{r}"
        );
    }
    assert_eq!(
        setup.metric("hsi_edge_retention_deleted_cubes_total"),
        Some(2.0)
    );

    // 3. Away again: a new cube is processed but neither uploaded nor deleted.
    drop(home);
    assert!(
        wait_until(Duration::from_secs(30), || setup
            .metric("hsi_edge_backhaul_active")
            == Some(0.0)),
        "{}",
        setup.logs()
    );
    land(&cubes[2], &setup.landing);
    assert!(
        wait_until(Duration::from_secs(120), || setup
            .metric("hsi_edge_cubes_processed_total")
            == Some(3.0)),
        "{}",
        setup.logs()
    );
    std::thread::sleep(Duration::from_secs(2));
    assert!(
        setup.landing.join(&names[2]).exists(),
        "not backhauled: kept"
    );
    assert!(cube_record(&setup, &names[2])["backhauled"].is_null());
    assert_eq!(object_keys(&rt, &client), want_keys);
    assert_eq!(setup.metric("hsi_edge_backhaul_cubes_total"), Some(2.0));

    let _ = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status();
    let status = child.wait().expect("wait");
    assert!(status.success(), "{status:?}\n{}", setup.logs());
}

/// A new capture that reuses a landing name (`a.h5`) after the first `a.h5` was processed,
/// backhauled and deleted by retention is a new cube: processed, uploaded under its own key,
/// and only then deleted. Neither capture is lost.
#[test]
fn a_reused_landing_name_is_a_new_capture_processed_and_uploaded() {
    let Some((moto, rt, client)) = moto_with_bucket("runtime_backhaul::name_reuse") else {
        return;
    };
    let work = tempfile::tempdir().expect("tempdir");
    let first = synth_one(work.path(), "reuse-a", 24, 32);
    let second = synth_one(work.path(), "reuse-b", 24, 40);
    let keys = [design_key(&first), design_key(&second)];
    let sha: Vec<String> = [&first, &second]
        .iter()
        .map(|c| hex::encode(Sha256::digest(std::fs::read(c).expect("read"))))
        .collect();
    let probe_port = hsi_edge::testkit::free_port().expect("port");
    let _home = std::net::TcpListener::bind(("127.0.0.1", probe_port)).expect("bind probe");
    let extra = format!(
        "[backhaul]\nenabled = true\nbucket = \"{BUCKET}\"\nendpoint = \"{}\"\n\
         force_path_style = true\npart_size_bytes = {PART}\n\
         [backhaul.trigger]\nfacility_probe = \"127.0.0.1:{probe_port}\"\ncheck_interval = \"200ms\"\n\
         [retention]\nenabled = true\nhigh_water_bytes = 1\nlow_water_bytes = 0\n",
        moto.endpoint()
    );
    let setup = Setup::new("127.0.0.1:1", 1 << 30, &extra);
    let land_as = |src: &std::path::Path| {
        let partial = setup.landing.join("a.h5.partial");
        std::fs::copy(src, &partial).expect("copy");
        std::fs::rename(&partial, setup.landing.join("a.h5")).expect("rename");
    };
    let mut child = spawn_daemon(&setup, 0);
    assert!(setup.wait_up(Duration::from_secs(60)), "{}", setup.logs());

    land_as(&first);
    assert!(
        wait_until(Duration::from_secs(120), || {
            !setup.landing.join("a.h5").exists()
                && cube_record(&setup, "a.h5")["deleted_at"].is_string()
        }),
        "the first a.h5 is processed, backhauled and deleted\n{}",
        setup.logs()
    );
    assert_eq!(object_keys(&rt, &client), vec![keys[0].clone()]);

    land_as(&second);
    assert!(
        wait_until(Duration::from_secs(120), || {
            setup.metric("hsi_edge_backhaul_cubes_total") == Some(2.0)
                && setup.metric("hsi_edge_cubes_processed_total") == Some(2.0)
        }),
        "the second a.h5 is processed and uploaded too\n{}",
        setup.logs()
    );
    let mut want = keys.to_vec();
    want.sort();
    assert_eq!(object_keys(&rt, &client), want, "both captures are in S3");
    for (k, s) in keys.iter().zip(&sha) {
        let head = rt
            .block_on(client.head_object().bucket(BUCKET).key(k).send())
            .expect("head");
        assert_eq!(
            head.metadata().and_then(|m| m.get("sha256")),
            Some(s),
            "{k}"
        );
    }
    let r = cube_record(&setup, "a.h5");
    assert!(
        r["cube_id"]
            .as_str()
            .is_some_and(|c| c.starts_with("reuse-b")),
        "{r}"
    );
    assert_eq!(r["backhauled"]["keys"][0].as_str(), Some(keys[1].as_str()));
    let history = std::fs::read_dir(setup.state().join("cubes/history"))
        .expect("the first record is archived")
        .count();
    assert_eq!(history, 1);

    let _ = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status();
    let status = child.wait().expect("wait");
    assert!(status.success(), "{status:?}\n{}", setup.logs());
}

/// An upload whose key already holds a different object (another capture with the same cube
/// id) does not overwrite it: the conditional completion refuses, and the cube is recorded as
/// not backhaulable instead of being re-uploaded forever.
#[test]
fn an_upload_never_overwrites_a_different_raw_object() {
    let Some((moto, rt, client)) = moto_with_bucket("runtime_backhaul::no_overwrite") else {
        return;
    };
    let work = tempfile::tempdir().expect("tempdir");
    let cube = synth_one(work.path(), "clash-1", 24, 32);
    let key = design_key(&cube);
    // Someone else's capture already holds the key.
    rt.block_on(
        client
            .put_object()
            .bucket(BUCKET)
            .key(&key)
            .body(b"another capture".to_vec().into())
            .metadata("sha256", "0000")
            .send(),
    )
    .expect("put");
    let extra = format!(
        "[backhaul]\nbucket = \"{BUCKET}\"\nendpoint = \"{}\"\nforce_path_style = true\npart_size_bytes = {PART}\n",
        moto.endpoint()
    );
    let setup = Setup::new("127.0.0.1:1", 1 << 30, &extra);
    land(&cube, &setup.landing);
    let out = backhaul_cmd(&setup, None).output().expect("run");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("different object"), "{stderr}");
    let body = rt
        .block_on(client.get_object().bucket(BUCKET).key(&key).send())
        .expect("get");
    let bytes = rt.block_on(body.body.collect()).expect("body").into_bytes();
    assert_eq!(&bytes[..], b"another capture", "not overwritten");
    let name = cube
        .file_name()
        .expect("name")
        .to_string_lossy()
        .into_owned();
    let r = cube_record(&setup, &name);
    assert!(r["backhaul_failed"]["reason"].is_string(), "{r}");
    assert!(r["backhauled"].is_null(), "{r}");
    // A second pass does not try again.
    let again = backhaul_cmd(&setup, None).output().expect("run");
    assert_eq!(report(&again)["parts"].as_u64(), Some(0));
}
