//! When the daemon backhauls: always, inside UTC time windows, or when a host that only the
//! facility network reaches answers (the node is back at the farm office).

use std::net::{TcpStream, ToSocketAddrs};
use std::time::Duration;

use chrono::{DateTime, Timelike, Utc};

use crate::runtime::config::TriggerConfig;

/// A daily UTC window `HH:MM-HH:MM`; it wraps midnight when the end is before the start.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Window {
    start_min: u32,
    end_min: u32,
}

impl Window {
    /// Parse `"22:00-05:30"`.
    pub fn parse(text: &str) -> Result<Window, String> {
        let err = || format!("backhaul window `{text}`: expected HH:MM-HH:MM (UTC)");
        let (a, b) = text.trim().split_once('-').ok_or_else(err)?;
        let minutes = |s: &str| -> Result<u32, String> {
            let (h, m) = s.trim().split_once(':').ok_or_else(err)?;
            let (h, m): (u32, u32) = (h.parse().map_err(|_| err())?, m.parse().map_err(|_| err())?);
            if h > 23 || m > 59 {
                return Err(err());
            }
            Ok(h * 60 + m)
        };
        let w = Window {
            start_min: minutes(a)?,
            end_min: minutes(b)?,
        };
        if w.start_min == w.end_min {
            return Err(format!("backhaul window `{text}` is empty"));
        }
        Ok(w)
    }

    /// Whether `t` falls inside (start inclusive, end exclusive).
    pub fn contains(&self, t: DateTime<Utc>) -> bool {
        let m = t.hour() * 60 + t.minute();
        if self.start_min < self.end_min {
            (self.start_min..self.end_min).contains(&m)
        } else {
            m >= self.start_min || m < self.end_min
        }
    }
}

/// Why a backhaul pass runs now, or `None`.
pub fn active(cfg: &TriggerConfig, now: DateTime<Utc>) -> Option<String> {
    if cfg.always {
        return Some("always".into());
    }
    for w in &cfg.windows {
        if Window::parse(w).is_ok_and(|win| win.contains(now)) {
            return Some(format!("window {w}"));
        }
    }
    let probe = cfg.facility_probe.as_deref()?;
    let reachable = probe.to_socket_addrs().ok().is_some_and(|mut addrs| {
        addrs.any(|a| TcpStream::connect_timeout(&a, Duration::from_secs(2)).is_ok())
    });
    reachable.then(|| format!("facility network ({probe} reachable)"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn at(h: u32, m: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 6, 1, h, m, 0)
            .single()
            .expect("valid")
    }

    #[test]
    fn windows_wrap_midnight() {
        let w = Window::parse("22:00-05:30").expect("parse");
        assert!(w.contains(at(23, 59)) && w.contains(at(0, 0)) && w.contains(at(5, 29)));
        assert!(!w.contains(at(5, 30)) && !w.contains(at(12, 0)) && !w.contains(at(21, 59)));
        let d = Window::parse("09:00-17:00").expect("parse");
        assert!(d.contains(at(9, 0)) && !d.contains(at(17, 0)));
        for bad in ["9-17", "25:00-01:00", "10:00-10:00", "10:00"] {
            assert!(Window::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn triggers_combine() {
        let mut cfg = TriggerConfig::default();
        assert_eq!(active(&cfg, at(12, 0)), None);
        cfg.windows = vec!["11:00-13:00".into()];
        assert!(active(&cfg, at(12, 0)).is_some());
        assert_eq!(active(&cfg, at(14, 0)), None);
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        cfg.facility_probe = Some(listener.local_addr().expect("addr").to_string());
        assert!(active(&cfg, at(14, 0)).expect("probe").contains("facility"));
        drop(listener);
        cfg.always = true;
        assert_eq!(active(&cfg, at(14, 0)).as_deref(), Some("always"));
    }
}
