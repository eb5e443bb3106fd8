//! The application: state, the one update function, and the Actions that drive it. No I/O here:
//! `update` returns effects that the runtime carries out in spawned tasks.

pub mod action;
pub mod lineage_view;
pub mod palette;
pub mod select;
pub mod state;
pub mod update;

pub use action::{Action, Payload};
pub use state::App;
pub use update::{Effect, update};
