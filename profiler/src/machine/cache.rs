//! What clprof measures once per host and keeps: a JSON file per measurement in the cache folder
//! (`/var/cache/clprof`, or `CLPROF_CACHE_DIR`), valid for the host, kernel, CPU model and CPU set
//! it was made on, and for a measurement that grows old, up to an age.

use std::{
    path::{Path, PathBuf},
    time::Duration,
};

use serde::{de::DeserializeOwned, Deserialize, Serialize};

use crate::perf::sysfs::{parse_cpu_list, read_trimmed};

/// Where measurements are cached unless `CLPROF_CACHE_DIR` says otherwise.
const CACHE_DIR: &str = "/var/cache/clprof";
const SYSFS_CPU: &str = "/sys/devices/system/cpu";

/// What a cached measurement is valid for.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct HostKey {
    pub host: String,
    /// The kernel release (`uname -r`): a new kernel may change what a trap costs.
    pub kernel: String,
    pub cpu_model: String,
    pub cpus: Vec<u32>,
}

impl HostKey {
    /// This host, with the CPUs this process may run on.
    pub fn current() -> Self {
        HostKey {
            host: read_trimmed(Path::new("/proc/sys/kernel/hostname")).unwrap_or_default(),
            kernel: read_trimmed(Path::new("/proc/sys/kernel/osrelease")).unwrap_or_default(),
            cpu_model: cpu_model(),
            cpus: allowed_cpus(),
        }
    }
}

#[derive(Serialize, Deserialize)]
struct Cached<T> {
    key: HostKey,
    /// RFC 3339.
    measured_at: String,
    value: T,
}

/// A measurement kept in the file `name` of the cache folder.
pub struct Cache {
    path: PathBuf,
}

impl Cache {
    /// The cache file `name` in the cache folder.
    pub fn named(name: &str) -> Self {
        Cache::at(cache_dir().join(name))
    }

    /// The cache file at `path`.
    pub fn at(path: PathBuf) -> Self {
        Cache { path }
    }

    /// The cached value and when it was measured, if it was measured for `key` and, with
    /// `max_age`, no longer ago than that (a clock set back makes it old too).
    pub fn load<T: DeserializeOwned>(
        &self,
        key: &HostKey,
        max_age: Option<Duration>,
    ) -> Option<(T, chrono::DateTime<chrono::Utc>)> {
        let text = std::fs::read_to_string(&self.path).ok()?;
        let cached: Cached<T> = serde_json::from_str(&text).ok()?;
        let measured_at = chrono::DateTime::parse_from_rfc3339(&cached.measured_at)
            .ok()?
            .with_timezone(&chrono::Utc);
        if cached.key != *key {
            return None;
        }
        if let Some(max_age) = max_age {
            let age = chrono::Utc::now().signed_duration_since(measured_at);
            let fresh = age.to_std().is_ok_and(|age| age <= max_age);
            if !fresh {
                return None;
            }
        }
        Some((cached.value, measured_at))
    }

    /// Writes `value` as measured now for `key` (atomically: a temporary file renamed over
    /// the old one); a failure only costs a measurement next time, and is logged.
    pub fn store<T: Serialize>(&self, key: HostKey, value: &T) {
        let cached = Cached {
            key,
            measured_at: chrono::Utc::now().to_rfc3339(),
            value,
        };
        let write = || -> std::io::Result<()> {
            let dir = self.path.parent().unwrap_or(Path::new("."));
            std::fs::create_dir_all(dir)?;
            let mut tmp = tempfile::NamedTempFile::new_in(dir)?;
            serde_json::to_writer_pretty(&mut tmp, &cached)?;
            tmp.persist(&self.path).map_err(|e| e.error)?;
            Ok(())
        };
        if let Err(e) = write() {
            tracing::info!(path = %self.path.display(), "measurement not cached: {e}");
        }
    }
}

fn cache_dir() -> PathBuf {
    std::env::var_os("CLPROF_CACHE_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(CACHE_DIR))
}

/// The CPUs this process may run on that are online.
pub fn allowed_cpus() -> Vec<u32> {
    let online = read_trimmed(&Path::new(SYSFS_CPU).join("online"))
        .and_then(|s| parse_cpu_list(&s).ok())
        .unwrap_or_default();
    // SAFETY: a zeroed cpu_set_t is a valid empty set for the kernel to fill.
    let mut set: libc::cpu_set_t = unsafe { std::mem::zeroed() };
    // SAFETY: pid 0 is this thread; `set` is a valid cpu_set_t of the size given.
    let rc =
        unsafe { libc::sched_getaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &mut set) };
    if rc != 0 {
        return online;
    }
    online
        .into_iter()
        // SAFETY: CPU_ISSET reads within the set for cpu < CPU_SETSIZE.
        .filter(|&c| {
            (c as usize) < libc::CPU_SETSIZE as usize
                && unsafe { libc::CPU_ISSET(c as usize, &set) }
        })
        .collect()
}

/// The CPU's model name from `/proc/cpuinfo`.
fn cpu_model() -> String {
    std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|text| {
            text.lines()
                .find_map(|l| l.strip_prefix("model name"))
                .and_then(|rest| rest.split_once(':'))
                .map(|(_, name)| name.trim().to_owned())
        })
        .unwrap_or_default()
}
