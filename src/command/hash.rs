//! (This family's commands are not implemented yet.)

use super::CommandSpec;

pub const COMMANDS: &[CommandSpec] = &[];
