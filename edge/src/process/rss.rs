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

/// CPU time (user + system) of this process so far, all threads, dead ones included, in
/// nanoseconds (`CLOCK_PROCESS_CPUTIME_ID`) on Linux; `None` elsewhere. (`/proc/self/stat`,
/// used before, counts clock ticks of 10 ms: ±2.5 % of a 0.4 s run.)
pub fn cpu_seconds() -> Option<f64> {
    #[cfg(target_os = "linux")]
    {
        let t = rustix::time::clock_gettime(rustix::time::ClockId::ProcessCPUTime);
        Some(t.tv_sec as f64 + t.tv_nsec as f64 * 1e-9)
    }
    #[cfg(not(target_os = "linux"))]
    {
        None
    }
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
        // 150 ms of spinning, on a machine that may be busy.
        assert!((0.02..5.0).contains(&spent), "{spent} s");
    }
}
