//! What the kernel side is told of a target: the map header fields its probes read.

use profiler_common::{TargetConfig, NO_FIELD, TARGET_GO};

use crate::inspect::MapLayout;

/// The kernel-side configuration for a target; `layout` is None for processes without Go map
/// probes (custom probes only).
pub fn target_config(layout: Option<&MapLayout>, sample_every: u32) -> TargetConfig {
    let mut config = TargetConfig {
        sample_every,
        writing_offset: NO_FIELD,
        growth_offset: NO_FIELD,
        ..TargetConfig::default()
    };
    if let Some(layout) = layout {
        let [w0, w1] = &layout.written;
        config.field_offset = [w0.offset as u16, w1.offset as u16];
        config.field_size = [w0.size as u16, w1.size as u16];
        config.writing_offset = layout.writing.offset as u16;
        config.writing_mask = layout.writing_mask;
        config.growth_offset = layout.growth.as_ref().map_or(NO_FIELD, |f| f.offset as u16);
        config.flags |= TARGET_GO;
    }
    config
}
