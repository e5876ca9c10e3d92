//! `detect_pmu` and `choose` over the sysfs trees in `profiler/tests/data/sysfs/` and this
//! machine's own `/sys`.

use std::path::{Path, PathBuf};

use super::*;
use crate::perf::events::pmu_cpus;
use crate::perf::{choose, detect_pmu, EventsChoice, PerfError, PerfSource, PmuInfo, Vendor};

fn tree(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data/sysfs")
        .join(name)
}

fn probe(name: &str) -> PmuInfo {
    let root = tree(name);
    let cpuinfo = std::fs::read_to_string(root.join("cpuinfo")).expect("cpuinfo fixture");
    detect_pmu(&root, &cpuinfo)
}

/// `choose` for every choice, in `EventsChoice` order.
fn all_choices(pmu: &PmuInfo) -> Vec<Result<PerfSource, String>> {
    use clap::ValueEnum;
    EventsChoice::value_variants()
        .iter()
        .map(|&c| choose(c, pmu).map_err(|e| e.to_string()))
        .collect()
}

fn unavailable(result: Result<PerfSource, PerfError>) -> String {
    match result {
        Err(PerfError::Unavailable(msg)) => {
            assert!(!msg.contains('\n'), "one line: {msg}");
            assert!(msg.contains(": use --events "), "names the fix: {msg}");
            msg
        }
        other => panic!("expected Unavailable, got {other:?}"),
    }
}

/// MEM_LOAD_RETIRED.L1_MISS: event 0xd1 in config:0-7, umask 0x08 in config:8-15.
const L1_MISS: u64 = 0x08d1;

#[test]
fn skylake_server_gets_pebs_from_the_table() {
    let pmu = probe("intel-skylake-server");
    assert_eq!(pmu.vendor, Vendor::Intel);
    assert_eq!((pmu.family, pmu.model), (6, 85));
    assert_eq!(pmu.cpu_pmu_type, Some(4));
    assert_eq!(pmu.max_precise, Some(3));
    assert_eq!(pmu.ibs_op_type, None);
    assert_eq!(pmu.pebs_event, Some(L1_MISS));
    let name = pmu.pebs_event_name.as_deref().unwrap();
    assert!(name.starts_with("MEM_LOAD_RETIRED.L1_MISS"), "{name}");
    let pebs = PerfSource::PebsL1Miss {
        pmu_type: 4,
        config: L1_MISS,
    };
    assert_eq!(
        all_choices(&pmu),
        vec![
            Ok(pebs.clone()),
            Ok(pebs),
            Ok(PerfSource::L1dReadMiss),
            Ok(PerfSource::CpuClock),
            Ok(PerfSource::PageFaults),
            Ok(PerfSource::None)
        ]
    );
}

#[test]
fn named_sysfs_event_wins_over_the_table_and_needs_no_table_entry() {
    let root = tree("intel-icelake-named-event");
    let cpuinfo = std::fs::read_to_string(root.join("cpuinfo")).unwrap();
    let pmu = detect_pmu(&root, &cpuinfo);
    assert_eq!((pmu.family, pmu.model), (6, 106));
    assert_eq!(pmu.pebs_event, Some(L1_MISS));
    let name = pmu.pebs_event_name.clone().unwrap();
    assert_eq!(
        name,
        "sysfs events/mem_load_retired.l1_miss (event=0xd1,umask=0x08)"
    );
    // A model the table does not know still gets PEBS through the sysfs alias…
    let unknown = cpuinfo.replace("model\t\t: 106", "model\t\t: 250");
    let pmu = detect_pmu(&root, &unknown);
    assert_eq!(pmu.model, 250);
    assert_eq!(pmu.pebs_event, Some(L1_MISS));
    assert!(matches!(
        choose(EventsChoice::Auto, &pmu),
        Ok(PerfSource::PebsL1Miss {
            pmu_type: 4,
            config: L1_MISS
        })
    ));
    // …while Skylake's tree, which names only mem-loads, does not.
    let skx = tree("intel-skylake-server");
    let skx_info = std::fs::read_to_string(skx.join("cpuinfo")).unwrap();
    let pmu = detect_pmu(&skx, &skx_info.replace("model\t\t: 85", "model\t\t: 250"));
    assert_eq!(pmu.pebs_event, None, "mem-loads is not an L1-miss event");
    let msg = unavailable(choose(EventsChoice::Pebs, &pmu));
    assert!(msg.contains("model 0xfa is not in clprof's table"), "{msg}");
    assert!(msg.ends_with("use --events l1d"), "{msg}");
    assert_eq!(
        choose(EventsChoice::Auto, &pmu).unwrap(),
        PerfSource::L1dReadMiss
    );
}

#[test]
fn hybrid_parts_use_the_p_core_pmu_and_its_cpus() {
    let pmu = probe("intel-alderlake-hybrid");
    assert_eq!((pmu.family, pmu.model), (6, 151));
    assert_eq!(pmu.cpu_pmu_type, Some(4), "cpu_core, not cpu_atom");
    assert_eq!(pmu.pebs_event, Some(L1_MISS));
    assert_eq!(
        choose(EventsChoice::Auto, &pmu).unwrap(),
        PerfSource::PebsL1Miss {
            pmu_type: 4,
            config: L1_MISS
        }
    );
    let root = tree("intel-alderlake-hybrid");
    assert_eq!(pmu_cpus(&root, 4), Some((0..16).collect()));
    assert_eq!(pmu_cpus(&root, 10), Some((16..24).collect()));
    assert_eq!(pmu_cpus(&root, 1), None, "software serves every CPU");
    assert_eq!(pmu_cpus(&root, 99), None);
}

#[test]
fn amd_zen3_gets_ibs_and_refuses_pebs_pointing_at_auto() {
    let pmu = probe("amd-zen3-ibs");
    assert_eq!(pmu.vendor, Vendor::Amd);
    assert_eq!((pmu.family, pmu.model), (25, 1));
    assert_eq!(pmu.cpu_pmu_type, Some(4));
    assert_eq!(pmu.ibs_op_type, Some(11));
    assert_eq!(pmu.pebs_event, None, "PEBS is Intel's");
    let choices = all_choices(&pmu);
    assert_eq!(choices[0], Ok(PerfSource::IbsOp { pmu_type: 11 }));
    assert_eq!(choices[2], Ok(PerfSource::L1dReadMiss));
    assert_eq!(choices[3], Ok(PerfSource::CpuClock));
    assert_eq!(choices[4], Ok(PerfSource::PageFaults));
    assert_eq!(choices[5], Ok(PerfSource::None));
    let msg = unavailable(choose(EventsChoice::Pebs, &pmu));
    assert!(msg.contains("AMD") && msg.contains("IBS"), "{msg}");
    assert!(
        msg.ends_with("use --events auto (it picks IBS op sampling)"),
        "{msg}"
    );
}

#[test]
fn vm_without_pmu_falls_back_to_cpu_clock_and_refuses_hardware() {
    let pmu = probe("vm-no-pmu");
    // An Intel Skylake model the table knows, but the hypervisor exposes no PMU.
    assert_eq!((pmu.vendor, pmu.family, pmu.model), (Vendor::Intel, 6, 85));
    assert_eq!(pmu.cpu_pmu_type, None);
    assert_eq!(pmu.ibs_op_type, None);
    assert_eq!(pmu.pebs_event, None);
    assert!(!pmu.has_hardware_pmu());
    assert_eq!(
        choose(EventsChoice::Auto, &pmu).unwrap(),
        PerfSource::CpuClock
    );
    assert_eq!(
        unavailable(choose(EventsChoice::Pebs, &pmu)),
        "--events pebs needs an Intel CPU with PEBS (a hardware PMU); this machine has no \
         hardware PMU (a VM?): use --events cpu-clock"
    );
    assert_eq!(
        unavailable(choose(EventsChoice::L1d, &pmu)),
        "--events l1d needs a hardware PMU (PERF_TYPE_HW_CACHE events); this machine has no \
         hardware PMU (a VM?): use --events cpu-clock"
    );
    assert_eq!(
        choose(EventsChoice::CpuClock, &pmu).unwrap(),
        PerfSource::CpuClock
    );
    assert_eq!(choose(EventsChoice::None, &pmu).unwrap(), PerfSource::None);
}

#[test]
fn fallback_order_is_pebs_then_ibs_then_l1d_then_cpu_clock() {
    let full = PmuInfo {
        vendor: Vendor::Intel,
        family: 6,
        model: 85,
        cpu_pmu_type: Some(4),
        max_precise: Some(3),
        ibs_op_type: None,
        pebs_event: Some(L1_MISS),
        pebs_event_name: None,
    };
    let auto = |p: &PmuInfo| choose(EventsChoice::Auto, p).unwrap();
    assert!(matches!(auto(&full), PerfSource::PebsL1Miss { .. }));
    // PEBS reported off (a VM with a PMU but no PEBS passthrough): L1D counter.
    let no_pebs = PmuInfo {
        max_precise: Some(0),
        ..full.clone()
    };
    assert_eq!(auto(&no_pebs), PerfSource::L1dReadMiss);
    let msg = unavailable(choose(EventsChoice::Pebs, &no_pebs));
    assert!(msg.contains("caps/max_precise 0"), "{msg}");
    // Older kernels publish no caps/max_precise: PEBS is still tried.
    let no_caps = PmuInfo {
        max_precise: None,
        ..full.clone()
    };
    assert!(matches!(auto(&no_caps), PerfSource::PebsL1Miss { .. }));
    // IBS comes before the L1D counter.
    let amd = PmuInfo {
        vendor: Vendor::Amd,
        ibs_op_type: Some(11),
        pebs_event: None,
        ..full.clone()
    };
    assert_eq!(auto(&amd), PerfSource::IbsOp { pmu_type: 11 });
    let amd_no_ibs = PmuInfo {
        ibs_op_type: None,
        ..amd.clone()
    };
    assert_eq!(auto(&amd_no_ibs), PerfSource::L1dReadMiss);
    assert!(unavailable(choose(EventsChoice::Pebs, &amd_no_ibs)).ends_with("use --events l1d"));
    let other = PmuInfo {
        vendor: Vendor::Other,
        ..amd_no_ibs
    };
    assert!(unavailable(choose(EventsChoice::Pebs, &other)).contains("not Intel"));
    assert_eq!(auto(&PmuInfo::default()), PerfSource::CpuClock);
}

#[test]
fn this_machine_is_detected_consistently_with_its_sysfs() {
    let sysfs = Path::new("/sys");
    let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").expect("/proc/cpuinfo");
    let pmu = detect_pmu(sysfs, &cpuinfo);
    let devices = sysfs.join("bus/event_source/devices");
    let has_core = ["cpu", "cpu_core"]
        .iter()
        .any(|d| devices.join(d).join("type").exists());
    assert_eq!(pmu.cpu_pmu_type.is_some(), has_core, "{pmu:?}");
    assert_eq!(
        pmu.ibs_op_type.is_some(),
        devices.join("ibs_op/type").exists()
    );
    let auto = choose(EventsChoice::Auto, &pmu).expect("auto never fails");
    assert_eq!(
        auto.is_hardware(),
        pmu.has_hardware_pmu(),
        "{auto:?} {pmu:?}"
    );
    if !pmu.has_hardware_pmu() {
        // The development VM: no PMU, so cpu-clock and clear refusals.
        assert_eq!(auto, PerfSource::CpuClock);
        assert!(unavailable(choose(EventsChoice::Pebs, &pmu)).ends_with("--events cpu-clock"));
        assert!(unavailable(choose(EventsChoice::L1d, &pmu)).ends_with("--events cpu-clock"));
    }
}

#[test]
fn events_choice_spellings_match_the_cli() {
    use clap::ValueEnum;
    let names: Vec<String> = EventsChoice::value_variants()
        .iter()
        .map(|c| c.to_possible_value().unwrap().get_name().to_string())
        .collect();
    assert_eq!(
        names,
        ["auto", "pebs", "l1d", "cpu-clock", "page-faults", "none"]
    );
}

#[test]
fn cpuinfo_gives_vendor_family_model_of_the_first_cpu() {
    let text = "processor\t: 0\nvendor_id\t: GenuineIntel\ncpu family\t: 6\nmodel\t\t: 85\n\
                model name\t: Intel(R) Xeon(R) Gold 6148 CPU @ 2.40GHz\n\n\
                processor\t: 1\nvendor_id\t: AuthenticAMD\ncpu family\t: 25\nmodel\t\t: 1\n";
    assert_eq!(parse_cpuinfo(text), (Vendor::Intel, 6, 85));
    assert_eq!(
        parse_cpuinfo("vendor_id : AuthenticAMD\ncpu family : 25\nmodel : 1\n"),
        (Vendor::Amd, 25, 1)
    );
    assert_eq!(parse_cpuinfo(""), (Vendor::Other, 0, 0));
}

#[test]
fn every_table_model_appears_once() {
    let mut all: Vec<u32> = INTEL_L1_MISS
        .iter()
        .flat_map(|r| r.models)
        .copied()
        .collect();
    let n = all.len();
    all.sort_unstable();
    all.dedup();
    assert_eq!(all.len(), n, "a model is listed twice");
}
