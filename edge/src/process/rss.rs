//! Resource usage of this process (peak resident set size, CPU time), for the benchmarks and
//! the `process` summary. Linux `/proc`; `None` elsewhere.

/// Peak RSS of this process in bytes (`VmHWM` on Linux); `None` elsewhere.
pub fn peak_rss_bytes() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        .map(|kb| kb * 1024)
}

/// CPU time (user + system) of this process so far, all threads, dead ones included
/// (`/proc/self/stat` fields 14–15, in clock ticks of 1/100 s, Linux's `USER_HZ` on every
/// architecture); `None` elsewhere.
pub fn cpu_seconds() -> Option<f64> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    // The command name (field 2) is in parentheses and may hold spaces: count after it.
    let rest = stat.get(stat.rfind(')')? + 1..)?;
    let mut fields = rest.split_whitespace().skip(11);
    let user: u64 = fields.next()?.parse().ok()?;
    let system: u64 = fields.next()?.parse().ok()?;
    Some((user + system) as f64 / 100.0)
}

#[cfg(test)]
mod tests {
    #[test]
    fn peak_rss_is_plausible_on_linux() {
        if cfg!(target_os = "linux") {
            let rss = super::peak_rss_bytes().unwrap_or(0);
            assert!(rss > 1 << 20, "{rss}");
        }
    }

    #[test]
    fn cpu_time_grows_with_work() {
        if !cfg!(target_os = "linux") {
            return;
        }
        let before = super::cpu_seconds().expect("cpu time");
        let t = std::time::Instant::now();
        let mut x = 0u64;
        while t.elapsed().as_millis() < 150 {
            x = std::hint::black_box(x.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1));
        }
        let spent = super::cpu_seconds().expect("cpu time") - before;
        // 150 ms of spinning, measured in 10 ms ticks, on a machine that may be busy.
        assert!((0.02..5.0).contains(&spent), "{spent} s");
    }
}
