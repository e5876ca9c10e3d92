//! Adding probes to a target's set: the Go map probes of its binary (assign entries and RET
//! sites, growth and make functions, lookups, iteration, deletes, clears) and custom probes.
//! They are attached with the set (see [`Probes::attach_pid`]).

use std::path::Path;

use profiler_common::{
    access::ACCESS_DEREF, Cookie, CUSTOM_KIND, NO_PROBE_ID, PROGRAM_CUSTOM, PROGRAM_MAP_ACCESS,
    PROGRAM_MAP_ASSIGN, PROGRAM_MAP_ASSIGN_RET, PROGRAM_MAP_GROW, PROGRAM_MAP_MAKE,
};

use super::Probes;
use crate::{
    inspect::{
        access_funcs::{AccessFunc, MapArg},
        GoBinary, ProbeSite,
    },
    kernel::{
        counted::CountedProbe,
        error::AttachError,
        links::{AttachPoint, ProbeGroup},
    },
    probe_spec::CustomProbe,
};

impl Probes {
    fn new_counted(&mut self, pid: u32, binary: &str, symbol: &str) -> Result<u32, AttachError> {
        let (binary, symbol) = (binary.to_owned(), symbol.to_owned());
        self.counted.add(CountedProbe {
            pid,
            binary,
            symbol,
        })
    }

    /// Adds one uprobe to `pid`'s set (with the write probes), attached by
    /// [`Probes::attach_pid`].
    pub fn attach_at(
        &mut self,
        program: &'static str,
        path: &Path,
        pid: u32,
        file_offset: u64,
        cookie: Cookie,
        symbol: &str,
    ) {
        self.links.add(
            pid,
            AttachPoint {
                program,
                path: path.to_owned(),
                file_offset,
                cookie,
                symbol: symbol.to_owned(),
                group: ProbeGroup::Writes,
            },
        );
    }

    /// Adds the Go map probes of `binary` (assign entries, RET sites, growth functions, and with
    /// `access` the lookup, iteration, delete and clear functions) in the file `attach_path`
    /// names now (held open from here on) to `pid`'s set; `exe` names the binary in reports.
    pub fn attach_go(
        &mut self,
        pid: u32,
        attach_path: &Path,
        exe: &str,
        binary: &GoBinary,
        access: bool,
    ) -> Result<(), AttachError> {
        let attach_path = &self.links.pin(pid, attach_path, binary.file_id)?;
        for func in &binary.assign_funcs {
            let id = self.new_counted(pid, exe, &func.symbol)?;
            let entry = Cookie::assign(func.kind, id);
            self.attach_at(
                PROGRAM_MAP_ASSIGN,
                attach_path,
                pid,
                func.file_offset,
                entry,
                &func.symbol,
            );
            let ret = Cookie::assign(func.kind, NO_PROBE_ID);
            for &offset in &func.ret_offsets {
                self.attach_at(
                    PROGRAM_MAP_ASSIGN_RET,
                    attach_path,
                    pid,
                    offset,
                    ret,
                    &func.symbol,
                );
            }
        }
        for func in binary.access_funcs.iter().filter(|_| access) {
            self.add_access(pid, attach_path, exe, func)?;
        }
        for make in &binary.make_funcs {
            let cookie = Cookie {
                kind: profiler_common::access::MAKE_KIND,
                probe_id: NO_PROBE_ID,
                register: 0,
                offset: 0,
            };
            for &offset in &make.ret_offsets {
                self.attach_at(
                    PROGRAM_MAP_MAKE,
                    attach_path,
                    pid,
                    offset,
                    cookie,
                    &make.symbol,
                );
            }
        }
        for grow in &binary.growth_funcs {
            let cookie = Cookie::unpack(0);
            self.attach_at(
                PROGRAM_MAP_GROW,
                attach_path,
                pid,
                grow.file_offset,
                cookie,
                &grow.symbol,
            );
        }
        Ok(())
    }

    /// Adds the probe of one Go map lookup, iteration, delete or clear function to `pid`'s
    /// set: a write probe for deletes and clears, a read probe for the others.
    fn add_access(
        &mut self,
        pid: u32,
        attach_path: &Path,
        exe: &str,
        func: &AccessFunc,
    ) -> Result<(), AttachError> {
        let id = self.new_counted(pid, exe, &func.symbol)?;
        let (register, offset) = match func.map {
            MapArg::Reg(r) => (r as u32, 0),
            MapArg::Field(r, off) => (r as u32 | ACCESS_DEREF, off as i32),
        };
        let cookie = Cookie {
            kind: func.kind.cookie_kind(),
            probe_id: id,
            register,
            offset,
        };
        let group = if func.kind.writes() {
            ProbeGroup::Writes
        } else {
            ProbeGroup::Reads
        };
        self.links.add(
            pid,
            AttachPoint {
                program: PROGRAM_MAP_ACCESS,
                path: attach_path.to_owned(),
                file_offset: func.file_offset,
                cookie,
                symbol: func.symbol.clone(),
                group,
            },
        );
        Ok(())
    }

    /// Adds a custom probe on `site` (a function of `probe.binary`) to `pid`'s set.
    pub fn attach_custom(
        &mut self,
        pid: u32,
        probe: &CustomProbe,
        site: &ProbeSite,
    ) -> Result<(), AttachError> {
        let id = self.new_counted(pid, &probe.binary.display().to_string(), &probe.symbol)?;
        let cookie = Cookie {
            kind: CUSTOM_KIND,
            probe_id: id,
            register: probe.register as u32,
            offset: probe.offset,
        };
        self.attach_at(
            PROGRAM_CUSTOM,
            &probe.binary,
            pid,
            site.file_offset,
            cookie,
            &probe.symbol,
        );
        Ok(())
    }
}
